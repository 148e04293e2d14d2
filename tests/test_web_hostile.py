"""Hostile input against the web API (issue 19, items 1-4, 9, 10): 422 never 500 for what a client sent,
/v1/validate accepts exactly what /v1/check answers, no case content in the logs, limits on items and time,
slow clients cannot hold the server, 415 for other content types, /v1/audit keeps the body off the disk."""
import json
import logging
import os
import socket
import tempfile
import threading
import time

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

import ptcheck.web._app as _web  # noqa: E402
import ptcheck.web._body as _body  # noqa: E402
import ptcheck.web._server as _server  # noqa: E402
from tests.conftest import ROOT, case_dict  # noqa: E402
from tests.web_server import post, running_server  # noqa: E402

YAML = {"content-type": "application/yaml"}
JSON = {"content-type": "application/json"}
SEED = (ROOT / "cases/seeds/seed-001.yaml").read_bytes()
MARK = "phimarker jane doe ssn 123-45-6789"
TAGGED = f"""id: tagged
jurisdiction: CA
requests:
  - id: "1"
    service: physical_therapy
    visits: 6
history:
  documentation:
    functional_improvement: !!bool {MARK}
""".encode()
PRODUCT = json.dumps(case_dict(id="p", requests=[{"id": "1", "service": "physical_therapy",
                                                  "frequency_per_week": 4611686018427387904,
                                                  "duration_weeks": 4}])).encode()
SURROGATE = b'{"id": "s", "jurisdiction": "CA", "requests": [{"id": "1", "service": "physical_therapy", "visits": 3, "text": "\\ud800"}]}'


@pytest.fixture(scope="module")
def client():
    with TestClient(_web.create_app()) as c:
        yield c


def _big_case(n: int) -> bytes:
    reqs = [{"id": str(i), "service": "physical_therapy", "visits": 6} for i in range(n)]
    return json.dumps({"id": "big", "jurisdiction": "CA", "requests": reqs}).encode()


@pytest.mark.parametrize("body,ctype", [(TAGGED, "application/yaml"), (PRODUCT, "application/json"),
                                        (SURROGATE, "application/json"),
                                        (b"id: x\njurisdiction: CA\nrequests: [{id: '1', service: physical_therapy, "
                                         b"visits: 1:30}]\n", "application/yaml")])
def test_what_a_client_sent_is_422_on_check_and_validate_alike(client, body, ctype):
    checked = client.post("/v1/check", content=body, headers={"content-type": ctype})
    validated = client.post("/v1/validate", content=body, headers={"content-type": ctype})
    assert checked.status_code == 422 and validated.status_code == 422, (checked.text, validated.text)
    assert checked.json() == validated.json()
    assert MARK not in checked.text


def test_audit_lists_a_tagged_case_as_an_error_and_answers_the_rest(client):
    body = SEED + b"\n---\n" + TAGGED
    r = client.post("/v1/audit", content=body, headers=YAML)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["cases_checked"] == 1 and report["error_count"] == 1 and MARK not in r.text


@pytest.mark.parametrize("ctype", ["text/html", "image/png", "application/x-www-form-urlencoded"])
def test_other_content_types_are_415(client, ctype):
    for path in ("/v1/check", "/v1/validate", "/v1/audit"):
        r = client.post(path, content=SEED, headers={"content-type": ctype})
        assert r.status_code == 415 and "application/yaml" in r.json()["detail"], (path, r.text)


def test_no_content_type_is_read_as_yaml(client):
    assert client.post("/v1/check", content=SEED, headers={"content-type": ""}).status_code == 200


def test_a_17000_item_case_is_refused_in_under_a_second(client):
    body = _big_case(17_000)
    t0 = time.perf_counter()
    r = client.post("/v1/check", content=body, headers=JSON)
    assert time.perf_counter() - t0 < 1.0
    assert r.status_code == 422 and "requests has more than 100 entries" in r.text
    assert client.post("/v1/validate", content=body, headers=JSON).status_code == 422


def test_the_time_budget_is_503(client, monkeypatch):
    monkeypatch.setattr(_web, "CHECK_BUDGET", -1.0)              # already spent before the first case
    r = client.post("/v1/check", content=SEED, headers=YAML)
    assert r.status_code == 503 and "send fewer cases" in r.json()["detail"]
    monkeypatch.setattr(_web, "AUDIT_BUDGET", -1.0)
    r = client.post("/v1/audit", content=SEED, headers=YAML)
    assert r.status_code == 503


def test_an_unexpected_error_logs_its_type_only(client, monkeypatch, caplog):
    def boom(checker, body, fmt):
        raise KeyError(MARK)                                      # what pyyaml's bool constructor raised
    monkeypatch.setattr(_web, "_check", boom)
    caplog.set_level(logging.DEBUG)
    r = client.post("/v1/check", content=SEED, headers=YAML)
    assert r.status_code == 500 and MARK not in r.text
    for rec in caplog.records:
        assert MARK not in rec.getMessage() and rec.exc_info is None and not rec.exc_text, rec.getMessage()
    assert any("KeyError" in rec.getMessage() for rec in caplog.records)


def test_audit_body_never_touches_the_disk(client, monkeypatch, tmp_path):
    """The body is in an anonymous memory file; the temporary folder holds only a symlink to it."""
    import ptcheck.audit._audit as audit_mod
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen = {}
    real = audit_mod.audit

    def spy(paths, **kw):
        (p,) = paths
        seen["link"] = os.readlink(p)
        seen["files"] = [f for f in tmp_path.rglob("*") if f.is_file() and not f.is_symlink()]
        seen["marker_on_disk"] = any(b"seed-001" in f.read_bytes() for f in seen["files"])
        return real(paths, **kw)
    monkeypatch.setattr(audit_mod, "audit", spy)
    r = client.post("/v1/audit", content=SEED, headers=YAML)
    assert r.status_code == 200, r.text
    assert seen["link"].startswith(f"/proc/{os.getpid()}/fd/") and seen["files"] == []
    assert not seen["marker_on_disk"] and list(tmp_path.iterdir()) == []      # the folder is gone too


# -- a real server: uvicorn with ptcheck's options


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(_server, "HEADER_TIMEOUT", 1.0)
    monkeypatch.setattr(_body, "BODY_TIMEOUT", 1.5)
    with running_server() as addr:
        yield addr


def test_a_huge_case_does_not_hold_up_other_requests(server):
    big, answers = _big_case(17_000), {}

    def send_big():
        t0 = time.perf_counter()
        answers["big"] = post(server, "/v1/check", big, "application/json")[0], time.perf_counter() - t0
    t = threading.Thread(target=send_big)
    t.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    status, body = post(server, "/v1/check", SEED)
    normal = time.perf_counter() - t0
    t.join(60)
    assert status == 200 and json.loads(body)["case"] == "seed-001"
    assert answers["big"][0] == 422 and answers["big"][1] < 1.0, answers
    assert normal < 2.0, normal


def test_slow_headers_are_cut_off(server):
    socks = []
    for _ in range(20):
        s = socket.create_connection(server, timeout=5)
        s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\n")            # the headers never end
        socks.append(s)
    time.sleep(2.0)                                                       # HEADER_TIMEOUT is 1 s here
    closed = 0
    for s in socks:
        try:
            s.sendall(b"X-Slow: 1\r\n")
            s.settimeout(1.0)
            closed += s.recv(1) == b""
        except TimeoutError:                                              # still open: not cut off
            pass
        except OSError:                                                   # reset: closed by the server
            closed += 1
        s.close()
    assert closed == 20
    assert post(server, "/v1/check", SEED)[0] == 200                      # the server still answers


def test_a_slow_body_is_408_and_closed(server):
    with socket.create_connection(server, timeout=10) as s:
        s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\n"
                  b"Content-Length: 1000\r\n\r\nid: x\n")
        data = b""
        while True:                              # until the server closes (a socket timeout fails the test)
            more = s.recv(65536)
            if not more:
                break
            data += more
    assert data.startswith(b"HTTP/1.1 408"), data[:200]


def test_413_closes_the_connection_without_reading_the_rest(server):
    s = socket.create_connection(server, timeout=10)
    s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"#" * 65536
    sent, status = 0, b""
    try:
        while sent < 200 * 2 ** 20:
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
    except OSError:                       # reset by the server: it stopped reading
        pass
    try:
        status = s.recv(65536)
    except OSError:
        pass
    s.close()
    assert sent < 16 * 2 ** 20, sent      # far from the 200 MiB the client would have sent
    assert status == b"" or status.startswith(b"HTTP/1.1 413")


def test_a_client_that_disconnects_is_not_a_500(server, caplog):
    caplog.set_level(logging.INFO)
    with socket.create_connection(server, timeout=10) as s:
        s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\n"
                  b"Content-Length: 1000\r\n\r\nid: x\n")
        time.sleep(0.2)
    time.sleep(0.5)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert " 500 " not in text and "Traceback" not in text and "Exception in ASGI" not in text, text
    assert not any(r.exc_info for r in caplog.records)
    assert "POST /v1/check 499" in text, text


def test_serve_runs_uvicorn_with_the_limits(monkeypatch):
    import uvicorn
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    _web.serve("127.0.0.1", 0)
    assert seen["http"] is _server.HeaderTimeoutProtocol and seen["limit_concurrency"] == _server.MAX_CONNECTIONS
    assert seen["timeout_keep_alive"] == _server.KEEP_ALIVE and seen["h11_max_incomplete_event_size"] == 16 * 1024
