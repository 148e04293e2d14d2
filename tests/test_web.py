"""The HTTP API (`ptcheck serve`) with FastAPI's TestClient: answers equal the CLI's byte for byte, invalid
input is a 422 carrying the CLI's problems, oversized bodies a 413, no case content in the access log."""
from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

fastapi = pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from ptcheck import case_schema  # noqa: E402
from ptcheck.cli import app as cli_app  # noqa: E402
from ptcheck.web import _app as _web  # noqa: E402
from tests.conftest import ROOT, case_dict  # noqa: E402

runner = CliRunner()
SEEDS = sorted((ROOT / "cases/seeds").glob("seed-*.yaml"))
SEED_001 = ROOT / "cases/seeds/seed-001.yaml"
YAML = {"content-type": "application/yaml"}
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client():
    with TestClient(_web.create_app(), raise_server_exceptions=False) as c:
        yield c


def cli(*args: str) -> tuple[int, bytes, str]:
    r = runner.invoke(cli_app, list(args), env={"COLUMNS": "100000"})   # no wrapping of problem lines
    return r.exit_code, r.stdout_bytes, r.stderr


# -- /v1/check


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.stem)
def test_check_every_seed_equals_the_cli_byte_for_byte(client, seed):
    code, out, _ = cli("check", str(seed), "--json")
    assert code == 0
    r = client.post("/v1/check", content=seed.read_bytes(), headers=YAML)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.content == out


def test_check_equals_the_real_cli_process(client):
    """Once against the installed command in its own process (not only typer's in-process runner)."""
    seed = ROOT / "cases/seeds/seed-001.yaml"
    out = subprocess.run([sys.executable, "-m", "ptcheck.cli", "check", str(seed), "--json"],
                         capture_output=True, check=True).stdout
    r = client.post("/v1/check", content=seed.read_bytes(), headers=YAML)
    assert r.content == out
    item = r.json()["items"][0]
    assert item["outcome"] == "non_certify" and item["review_outcome"] == "upheld"
    assert any("11 visits completed + 8 requested = 19" in f["message"] for f in item["findings"])


def test_check_json_body_equals_the_cli_on_the_json_file(client, tmp_path):
    data = yaml.safe_load((ROOT / "cases/seeds/seed-003.yaml").read_text())
    text = json.dumps(data, default=str)
    f = tmp_path / "seed-003.json"
    f.write_text(text)
    code, out, _ = cli("check", str(f), "--json")
    assert code == 0
    r = client.post("/v1/check", content=text.encode(), headers=JSON)
    assert r.status_code == 200 and r.content == out


def test_check_several_cases_are_json_lines_as_the_cli_prints_them(client, tmp_path):
    f = tmp_path / "two.yaml"
    f.write_bytes(b"\n---\n".join(s.read_bytes() for s in SEEDS[:2]))
    code, out, _ = cli("check", str(f), "--json")
    r = client.post("/v1/check", content=f.read_bytes(), headers=YAML)
    assert code == 0 and r.status_code == 200 and r.content == out
    assert len(r.content.splitlines()) == 2 and r.headers["content-type"].startswith("application/jsonl")


def test_check_answers_do_not_mix_under_concurrent_requests(client):
    """Threads posting different seeds at once each get their own case's answer (one engine thread)."""
    expected = {s.name: cli("check", str(s), "--json")[1] for s in SEEDS}
    got: list[tuple[str, int, bytes]] = []

    def post(seed: Path) -> None:
        for _ in range(4):
            r = client.post("/v1/check", content=seed.read_bytes(), headers=YAML)
            got.append((seed.name, r.status_code, r.content))

    threads = [threading.Thread(target=post, args=(s,)) for s in SEEDS * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == len(SEEDS) * 8
    assert all(code == 200 and body == expected[name] for name, code, body in got)


# -- invalid input: 422 with the CLI's problems


BAD = {
    "unknown-key": b"id: x\njurisdiction: CA\nrequests:\n  - {id: '1', service: physical_therapy, visitz: 3}\n",
    "bad-icd10": b"id: x\njurisdiction: CA\ndiagnoses:\n  - {icd10: Q99.999}\n"
                 b"requests:\n  - {id: '1', service: physical_therapy, visits: 3}\n",
    "no-requests": b"id: x\njurisdiction: CA\nrequests: []\n",
    "bad-jurisdiction": b"id: x\njurisdiction: NY\nrequests:\n  - {id: '1', service: physical_therapy, visits: 3}\n",
    "yaml-syntax": b"id: x\njurisdiction: [CA\nrequests: {\n",
    "not-a-mapping": b"- just\n- a list\n",
    "contradiction": b"id: x\njurisdiction: CA\nrequests:\n  - {id: '1', service: physical_therapy, "
                     b"text: '2x4', visits: 12}\n",
    "misspelt-service": b"id: x\njurisdiction: CA\nrequests:\n  - {id: '1', service: physical_therapi}\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_invalid_case_is_422_with_the_cli_problems(client, tmp_path, name):
    f = tmp_path / "case.yaml"
    f.write_bytes(BAD[name])
    code, out, err = cli("check", str(f), "--json")
    assert code == 1 and out == b""
    cli_lines = [ln for ln in err.splitlines() if ln.startswith(str(f))]
    assert cli_lines, err
    r = client.post("/v1/check", content=BAD[name], headers=YAML)
    assert r.status_code == 422, r.text
    body = r.json()
    assert "Traceback" not in r.text
    # the same problems, with the request in place of the file name: path, line, column, code, message
    assert body["text"] == [ln.replace(str(f), "<request>", 1) for ln in cli_lines]
    for p in body["problems"]:
        assert p["file"] == "<request>" and p["code"] and p["message"]


def test_invalid_field_carries_its_path_and_line(client):
    r = client.post("/v1/check", content=BAD["unknown-key"], headers=YAML)
    (p,) = r.json()["problems"]
    assert p["path"] == "requests[0].visitz" and p["line"] == 4 and p["code"] == "C100"
    assert p["suggestion"] == "did you mean 'visits'?"


def test_invalid_json_body_is_422(client):
    r = client.post("/v1/check", content=b'{"id": "x", "jurisdiction": "CA", "requests": [', headers=JSON)
    assert r.status_code == 422 and r.json()["problems"][0]["code"].startswith("Y")


@pytest.mark.parametrize("body", [b"", b"   \n", b"# only a comment\n"])
def test_empty_body_is_422_not_500(client, body):
    r = client.post("/v1/check", content=body, headers=YAML)
    assert r.status_code == 422 and r.json()["problems"]


def test_validate_endpoint_follows_the_same_rules(client):
    assert client.post("/v1/validate", content=SEED_001.read_bytes(), headers=YAML).json() == \
        {"ok": True, "cases": ["seed-001"]}
    bad = client.post("/v1/validate", content=BAD["bad-icd10"], headers=YAML)
    checked = client.post("/v1/check", content=BAD["bad-icd10"], headers=YAML)
    assert bad.status_code == 422 and bad.json() == checked.json()
    assert bad.json()["problems"][0]["path"] == "diagnoses[0].icd10"


def test_engine_failure_is_500_without_a_traceback_or_case_text(client, monkeypatch):
    from ptcheck import EngineError

    def boom(checker, body, fmt):
        raise EngineError("case 'secret-id': durable failed on 'Pt 2x4 Weeks'")
    monkeypatch.setattr(_web, "_check", boom)
    r = client.post("/v1/check", content=SEEDS[0].read_bytes(), headers=YAML)
    assert r.status_code == 500
    assert "Traceback" not in r.text and "secret-id" not in r.text and "Pt 2x4" not in r.text


# -- sizes: 413


def test_oversized_body_is_413_by_content_length(client):
    body = b"#" * (_web.CHECK_MAX_BYTES + 1)
    r = client.post("/v1/check", content=body, headers=YAML)
    assert r.status_code == 413 and "limit" in r.json()["detail"]


def test_oversized_chunked_body_is_413_while_reading(client):
    """No Content-Length (chunked upload): refused once the bytes received pass the limit."""
    sent = []

    def chunks():
        for _ in range(64):
            sent.append(1)
            yield b"#" * 65536            # 4 MiB in all, the limit is 1 MiB
    r = client.post("/v1/check", content=chunks(), headers=YAML)
    assert r.status_code == 413


def test_body_at_the_limit_is_read(client):
    body = SEEDS[0].read_bytes()
    body += b"#" * (_web.CHECK_MAX_BYTES - len(body) - 1) + b"\n"
    assert len(body) == _web.CHECK_MAX_BYTES
    assert client.post("/v1/check", content=body, headers=YAML).status_code == 200


def test_too_many_cases_in_one_check_is_413(client):
    docs = [yaml.safe_dump(case_dict(id=f"c{i}")) for i in range(_web.CHECK_MAX_CASES + 1)]
    r = client.post("/v1/check", content="---\n".join(docs).encode(), headers=YAML)
    assert r.status_code == 413 and "/v1/audit" in r.json()["detail"]


def test_audit_batch_over_the_case_limit_is_413(client, monkeypatch):
    monkeypatch.setattr(_web, "AUDIT_MAX_CASES", 3)
    lines = [json.dumps(case_dict(id=f"c{i}")) for i in range(4)]
    r = client.post("/v1/audit", content="\n".join(lines).encode(), headers={"content-type": "application/jsonl"})
    assert r.status_code == 413


# -- /v1/audit


def _cli_audit(tmp_path: Path, name: str, body: bytes) -> dict:
    f = tmp_path / name
    f.write_bytes(body)
    code, out, _ = cli("audit", str(f), "--json", "--jobs", "1")
    assert code in (0, 1)
    report = json.loads(out)
    for entry in report["disagreements"] + report["errors"]:
        assert entry["file"] == str(f)
        entry["file"] = "<request>"
    return report


def test_audit_equals_the_cli_audit_json(client, tmp_path):
    body = b"\n---\n".join(s.read_bytes() for s in SEEDS) + b"\n---\n" + BAD["unknown-key"]
    expected = _cli_audit(tmp_path, "batch.yaml", body)
    r = client.post("/v1/audit", content=body, headers=YAML)
    assert r.status_code == 200
    got = r.json()
    assert got == expected
    assert got["cases"] == 6 and got["cases_checked"] == 5 and got["error_count"] == 1
    assert got["items"] >= 5 and got["agree"] >= 1


def test_audit_jsonl_equals_the_cli(client, tmp_path):
    lines = [json.dumps(yaml.safe_load(s.read_text()), default=str) for s in SEEDS]
    body = ("\n".join(lines) + "\n{not json\n").encode()
    expected = _cli_audit(tmp_path, "batch.jsonl", body)
    r = client.post("/v1/audit", content=body, headers={"content-type": "application/jsonl"})
    assert r.status_code == 200 and r.json() == expected and r.json()["error_count"] == 1


def test_audit_oversized_is_413(client):
    r = client.post("/v1/audit", content=b"#" * (_web.AUDIT_MAX_BYTES + 1), headers=YAML)
    assert r.status_code == 413


# -- rule sets, schema, OpenAPI


@pytest.mark.parametrize("params", [{}, {"as_of": "2014-07-01", "jurisdiction": "CA"},
                                    {"as_of": "2019-03-01", "jurisdiction": "tx"}, {"jurisdiction": "TX"}])
def test_rulesets_equal_rules_list_json(client, params):
    args = ["rules", "list", "--json"]
    if "as_of" in params:
        args += ["--as-of", params["as_of"]]
    if "jurisdiction" in params:
        args += ["-j", params["jurisdiction"]]
    code, out, _ = cli(*args)
    assert code == 0
    r = client.get("/v1/rulesets", params=params)
    assert r.status_code == 200 and r.json() == json.loads(out)
    assert all(re.fullmatch(r"[0-9a-f]{64}", row["sha256"]) and row["version"] for row in r.json())


def test_rulesets_in_force_differ_by_jurisdiction(client):
    ca = {r["id"] for r in client.get("/v1/rulesets", params={"as_of": "2014-07-01", "jurisdiction": "CA"}).json()}
    tx = {r["id"] for r in client.get("/v1/rulesets", params={"as_of": "2014-07-01", "jurisdiction": "TX"}).json()}
    assert "mtus.cpmtg.physical-medicine" in ca and "mtus.cpmtg.physical-medicine" not in tx


@pytest.mark.parametrize("params,path", [({"as_of": "2014-13-01"}, "as_of"), ({"jurisdiction": "NY"}, "jurisdiction")])
def test_rulesets_bad_query_is_422_naming_the_parameter(client, params, path):
    r = client.get("/v1/rulesets", params=params)
    assert r.status_code == 422 and [p["path"] for p in r.json()["problems"]] == [path]


def test_schema_is_the_case_schema(client):
    r = client.get("/v1/schema/case")
    assert r.status_code == 200 and r.json() == case_schema()


def test_openapi_documents_every_endpoint(client):
    doc = client.get("/openapi.json").json()
    assert {"/v1/check", "/v1/audit", "/v1/rulesets", "/v1/schema/case"} <= set(doc["paths"])
    assert "Case" in doc["components"]["schemas"] and "Request" in doc["components"]["schemas"]
    body = doc["paths"]["/v1/check"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "application/yaml"}
    assert client.get("/docs").status_code == 404          # FastAPI's docs page needs a CDN: off


def test_serve_help_names_only_paths_that_exist(client):
    from typer.testing import CliRunner

    from ptcheck.cli import app
    text = " ".join(CliRunner().invoke(app, ["serve", "--help"]).stdout.split())
    named = set(re.findall(r"(/[a-z0-9_./-]*)", text))
    doc = client.get("/openapi.json").json()
    assert {"/v1/check", "/openapi.json"} <= named
    assert named <= set(doc["paths"]) | {"/", "/openapi.json"}, named


# -- the access log


def test_access_log_has_method_path_status_duration_and_no_case_content(client, caplog):
    caplog.set_level(logging.INFO, logger="ptcheck.web.access")
    seed = SEED_001.read_bytes()
    client.post("/v1/check?note=Pt+2x4", content=seed, headers=YAML)
    client.post("/v1/check", content=BAD["unknown-key"], headers=YAML)
    lines = [r.getMessage() for r in caplog.records if r.name == "ptcheck.web.access"]
    assert len(lines) == 2
    assert re.fullmatch(r"POST /v1/check 200 \d+\.\dms", lines[0]), lines
    assert re.fullmatch(r"POST /v1/check 422 \d+\.\dms", lines[1]), lines
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("Pt 2x4", "seed-001", "S13.4XXA", "visitz", "note="):
        assert secret not in logged


def test_serve_turns_uvicorn_access_log_off(monkeypatch):
    import uvicorn
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    _web.serve("127.0.0.1", 0)
    assert seen["access_log"] is False and seen["host"] == "127.0.0.1" and seen["workers"] == 1


# -- the page and its files


def test_page_and_its_files_are_served_without_any_outside_reference(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    js, css = client.get("/static/app.js"), client.get("/static/app.css")
    assert js.status_code == 200 and css.status_code == 200
    assert 'src="/static/app.js"' in page.text and 'href="/static/app.css"' in page.text
    for text in (page.text, js.text, css.text):       # no CDN, no font service: it works offline
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)
        assert "@import" not in text and "url(http" not in text
    assert client.get("/static/../_web.py").status_code == 404
    assert client.get("/static/nothing.js").status_code == 404


def test_page_lists_the_engine_services_regions_and_documentation_flags(client):
    """The form's choices come from the engine's tables, put in the page by the server: every known service
    and body region, and every documentation flag of the documentation table, nothing else."""
    from ptcheck.core._cases import KNOWN_SERVICES, Documentation, Region
    from ptcheck.core._documentation import FLAGS
    page = client.get("/").text
    found = re.search(r'<script type="application/json" id="vocabulary">(.*?)</script>', page, re.S)
    assert found, "the page carries the vocabulary"
    vocab = json.loads(found.group(1))
    assert vocab["services"] == list(KNOWN_SERVICES)
    assert vocab["regions"] == [r.value for r in Region]
    assert [f[0] for f in vocab["flags"]] == list(FLAGS) == list(Documentation.model_fields)
    js = (ROOT / "engine/web/web_static/app.js").read_text()
    assert "VOCABULARY.flags" in js and "functional_improvement" not in js       # no list of its own


def test_page_has_a_label_for_every_field(client):
    page = client.get("/").text
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page))
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', page))
    assert ids and ids <= labelled, ids - labelled
