"""The CDS Hooks service of `ptcheck serve`: discovery, order-sign / order-select calls that carry the ptcheck
case (request extension or prefetch Binary) and answer with the Da Vinci CRD response, feedback that becomes
reviewer dispositions, and bad input answered 400/412/422 with the field to fix. Most through TestClient; one
round trip over HTTP against a real `ptcheck serve` on a free loopback port."""
from __future__ import annotations

import base64
import copy
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

from tests.conftest import ROOT

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[test]')")
from fastapi.testclient import TestClient  # noqa: E402

from ptcheck.dispositions import Store  # noqa: E402
from ptcheck.fhir import _spec, invariant_problems  # noqa: E402
from ptcheck.web._app import create_app  # noqa: E402

SERVICE = "/cds-services/ptcheck-crd"
REASONS = "urn:ptcheck:override-reason"


def _case(name: str) -> dict:
    return json.loads(json.dumps(yaml.safe_load((ROOT / name).read_text()), default=str))


def _order(sid: str, visits: int | None = None, **more) -> dict:
    sr = {"resourceType": "ServiceRequest", "id": sid, "status": "draft", "intent": "original-order",
          "code": {"text": "physical medicine"}, "subject": {"reference": "Patient/p-1"},
          "authoredOn": "2014-03-25", "requester": {"reference": "Practitioner/dr-1"}, **more}
    if visits is not None:
        sr["quantityQuantity"] = {"value": visits, "unit": "visits"}
    return sr


def _call(case: dict, orders: list[dict], hook: str = "order-sign", **more) -> dict:
    call = {"hook": hook, "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "PractitionerRole/dr-1", "patientId": "p-1",
                        "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                        "entry": [{"resource": o} for o in orders]}},
            "extension": {"ptcheck-case": case}}
    call.update(more)
    return call


@pytest.fixture
def served(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    with TestClient(create_app(store=store)) as client:
        yield client, store
    store.close()


def test_discovery_lists_the_service_on_order_select_and_order_sign(served):
    client, _ = served
    services = client.get("/cds-services").json()["services"]
    assert sorted(s["hook"] for s in services) == ["order-select", "order-sign"]
    assert {s["id"] for s in services} == {"ptcheck-crd"} and all(s["description"] for s in services)
    assert "ptcheck-case" in services[0]["usageRequirements"]


def test_order_sign_answers_with_coverage_information_on_the_clients_own_order(served):
    client, store = served
    case = _case("cases/mtus/mtus-ac-001.yaml")                 # a modify: 6 of 12 acupuncture visits
    order = _order("sr-77", 12, note=[{"text": "left as the client wrote it"}])
    coverage = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Coverage", "id": "cov-9",
                                                                  "status": "active"}}]}
    r = client.post(SERVICE, json=_call(case, [order, {"resourceType": "MedicationRequest", "id": "m1"}],
                                        prefetch={"coverage": coverage}))
    assert r.status_code == 200, r.text
    body = r.json()
    [action] = body["systemActions"]
    updated = action["resource"]
    # the order comes back as sent, with only the coverage-information extension added (CRD resp-37)
    assert {k: v for k, v in updated.items() if k != "extension"} == order
    [ext] = [e for e in updated["extension"] if e["url"] == _spec.COVERAGE_INFORMATION]
    assert invariant_problems(ext) == []
    parts = {p["url"]: p for p in ext["extension"]}
    assert parts["coverage"]["valueReference"] == {"reference": "Coverage/cov-9"}
    aid = parts["coverage-assertion-id"]["valueString"]
    [card] = body["cards"]
    assert card["suggestions"][0]["actions"][0]["resource"]["quantityQuantity"]["value"] == 6
    assert {c["code"] for c in card["overrideReasons"]} >= {"exceptional-factors", "other"}
    logged = store.decision(aid)
    assert logged["channel"] == "cds" and logged["requested_by"] == "PractitionerRole/dr-1"
    assert store.by_card(card["uuid"])["assertion_id"] == aid


def test_order_select_answers_only_the_selected_orders_and_the_case_may_come_as_a_prefetch_binary(served):
    client, _ = served
    case = _case("cases/seeds/seed-002.yaml")                   # two items: PT and a home exercise kit
    binary = {"resourceType": "Binary", "contentType": "application/yaml",
              "data": base64.b64encode((ROOT / "cases/seeds/seed-002.yaml").read_bytes()).decode()}
    call = _call(case, [_order("1"), _order("2"), _order("3")], hook="order-select",
                 prefetch={"ptcheckCase": binary})
    call.pop("extension")
    call["context"]["selections"] = ["ServiceRequest/1", "ServiceRequest/2"]
    r = client.post(SERVICE, json=call)
    assert r.status_code == 200, r.text
    assert [a["resource"]["id"] for a in r.json()["systemActions"]] == ["1", "2"]
    call["context"]["selections"] = ["ServiceRequest/1"]           # item 2 has no order in scope
    r = client.post(SERVICE, json=call)
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "requests[1].id" and "no draft ServiceRequest" in r.text


def test_feedback_records_accepted_and_overridden_cards(served):
    client, store = served
    answers = [client.post(SERVICE, json=_call(_case("cases/mtus/mtus-ac-001.yaml"), [_order("1", 12)])).json()
               for _ in range(3)]
    cards = [a["cards"][0] for a in answers]
    feedback = {"feedback": [
        {"card": cards[0]["uuid"], "outcome": "accepted",
         "acceptedSuggestions": [{"id": cards[0]["suggestions"][0]["uuid"]}], "outcomeTimestamp": "2026-12-01T10:05:31Z"},
        {"card": cards[1]["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-12-01T10:06:00Z",
         "overrideReason": {"reason": {"system": REASONS, "code": "exceptional-factors"}, "userComment": "flare"},
         "extension": {"ptcheck-reviewer": "rev-9"}},
        {"card": cards[2]["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-12-01T10:07:00Z",
         "overrideReason": {"reason": {"system": "https://ehr.example/reasons", "code": "pt-choice"}}},
    ]}
    r = client.post(SERVICE + "/feedback", json=feedback)
    assert r.status_code == 200 and r.json() == {"recorded": 3}
    rows = store.table("dispositions")
    assert [(d["disposition"], d["reason"], d["reviewer"], d["source"]) for d in rows] == [
        ("accepted", None, "PractitionerRole/dr-1", "cds"),
        ("overridden", "exceptional-factors", "rev-9", "cds"),
        ("overridden", "other", "PractitionerRole/dr-1", "cds")]
    assert rows[1]["comment"] == "flare" and rows[2]["comment"] == "client reason https://ehr.example/reasons#pt-choice"


@pytest.mark.parametrize("change, status, path", [
    (lambda f: f.update(card="f6b95768-0000-0000-0000-000000000000"), 422, "feedback[0].card"),
    (lambda f: f.update(outcome="ignored"), 422, "feedback[0].outcome"),
    (lambda f: f.update(acceptedSuggestions=[{"id": "other"}]), 422, "feedback[0].acceptedSuggestions"),
    (lambda f: f.update(outcome="overridden", overrideReason={"reason": {"system": REASONS, "code": "because"}}),
     422, "feedback[0].overrideReason.reason.code"),
    (lambda f: f.update(outcomeTimestamp="yesterday"), 422, "feedback[0].outcomeTimestamp"),
])
def test_bad_feedback_is_refused_whole_with_the_field_to_fix(served, change, status, path):
    client, store = served
    card = client.post(SERVICE, json=_call(_case("cases/mtus/mtus-ac-001.yaml"), [_order("1", 12)])).json()["cards"][0]
    good = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-12-01T10:05:31Z",
            "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}
    bad = copy.deepcopy(good)
    change(bad)
    r = client.post(SERVICE + "/feedback", json={"feedback": [bad, good]})
    assert r.status_code == status and r.json()["problems"][0]["path"] == path
    assert store.table("dispositions") == []                       # nothing recorded from a refused batch


def test_bad_hook_calls_say_what_to_fix(served):
    client, _ = served
    case = _case("cases/mtus/mtus-ac-001.yaml")
    r = client.post(SERVICE, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["problems"][0]["code"] == "F000"
    no_case = _call(case, [_order("1", 12)])
    no_case.pop("extension")
    r = client.post(SERVICE, json=no_case)
    assert r.status_code == 412 and "ptcheckCase" in r.json()["problems"][0]["message"]
    bad_order = _order("1", 12)
    bad_order.pop("subject")
    r = client.post(SERVICE, json=_call(case, [bad_order]))
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "context.draftOrders.entry[0].resource.subject"
    bad_case = copy.deepcopy(case)
    bad_case["jurisdicton"] = bad_case.pop("jurisdiction")
    r = client.post(SERVICE, json=_call(bad_case, [_order("1", 12)]))
    assert r.status_code == 422 and "did you mean 'jurisdiction'?" in json.dumps(r.json())
    r = client.post(SERVICE, json=_call(case, [_order("1", 12)], hook="patient-view"))
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "hook"
    no_orders = _call(case, [])
    no_orders["context"].pop("draftOrders")
    r = client.post(SERVICE, json=no_orders)
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "context.draftOrders"
    assert client.post("/cds-services/other", json={}).status_code == 404
    assert "Pt" not in json.dumps(r.json())


def test_the_page_records_accept_and_override_against_the_logged_decision(served):
    client, store = served
    r = client.post("/v1/check", content=(ROOT / "cases/seeds/seed-002.yaml").read_bytes(),
                    headers={"content-type": "application/yaml"})
    aid = r.headers["ptcheck-assertion-id"]
    ok = client.post("/v1/dispositions", json={"assertion_id": aid, "request": "1", "disposition": "accepted",
                                               "reviewer": "rev-1"})
    assert ok.status_code == 201
    no_reason = client.post("/v1/dispositions", json={"assertion_id": aid, "request": "2",
                                                      "disposition": "overridden", "reviewer": "rev-1"})
    assert no_reason.status_code == 422 and no_reason.json()["problems"][0]["path"] == "reason"
    unknown = client.post("/v1/dispositions", json={"assertion_id": "nope", "request": "2", "disposition": "accepted",
                                                    "reviewer": "rev-1"})
    assert unknown.status_code == 422 and unknown.json()["problems"][0]["path"] == "assertion_id"
    assert [d["disposition"] for d in store.table("dispositions")] == ["accepted"]
    reasons = client.get("/v1/override-reasons").json()
    assert reasons["system"] == REASONS and reasons["reasons"][0]["display"]


def test_without_a_decision_log_the_service_says_so(tmp_path):
    with TestClient(create_app()) as client:
        assert client.get("/cds-services").status_code == 200
        r = client.post(SERVICE, json=_call(_case("cases/mtus/mtus-ac-001.yaml"), [_order("1", 12)]))
        assert r.status_code == 503


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_hook_call_and_its_feedback_over_http_against_ptcheck_serve(tmp_path):
    port = _free_port()
    db = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    log = tmp_path / "server.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "ptcheck.cli", "serve", "--port", str(port), "--db", db],
                                stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(base + "/cds-services", timeout=2) as r:
                    services = json.loads(r.read())["services"]
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"ptcheck serve did not start:\n{log.read_text()}")
                time.sleep(0.3)
        assert services[0]["id"] == "ptcheck-crd"
        status, answer = _post(f"{base}{SERVICE}", _call(_case("cases/mtus/mtus-ac-001.yaml"), [_order("1", 12)]))
        assert status == 200 and answer["systemActions"] and answer["cards"]
        card = answer["cards"][0]
        status, recorded = _post(f"{base}{SERVICE}/feedback", {"feedback": [
            {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-12-01T10:06:00Z",
             "overrideReason": {"reason": {"system": REASONS, "code": "peer-to-peer"}}}]})
        assert (status, recorded) == (200, {"recorded": 1})
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    audit = json.loads(subprocess.run([sys.executable, "-m", "ptcheck.cli", "dispositions", "audit", "--db", db, "--json"],
                                      capture_output=True, text=True, check=True, cwd=ROOT).stdout)
    assert audit["overall"]["overridden"] == 1 and audit["override_reasons"][0]["reason"] == "peer-to-peer"
    text = log.read_text()
    assert "POST /cds-services/ptcheck-crd 200" in text and "POST /cds-services/ptcheck-crd/feedback 200" in text
    for secret in ("Acupuncture 2x6", "mtus-ac-001", "lumbar"):
        assert secret not in text                                   # the server log holds no case content


@pytest.mark.parametrize("doc", ["README.md", "docs/fhir.md"])
def test_the_documented_curl_to_the_cds_service_answers_as_the_docs_say(served, doc):
    """The curl in README and docs/fhir.md, sent as written: coverage information for ServiceRequest/1 and a card
    proposing 6 of the 12 visits."""
    import re
    client, _ = served
    text = (ROOT / doc).read_text()
    [body] = re.findall(r"curl -s -X POST http://127\.0\.0\.1:8000/cds-services/ptcheck-crd .*? -d '(\{.*?\})'\n",
                        text, flags=re.S)
    r = client.post(SERVICE, content=body.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert [a["resource"]["id"] for a in answer["systemActions"]] == ["1"]
    [card] = answer["cards"]
    assert card["suggestions"][0]["actions"][0]["resource"]["quantityQuantity"]["value"] == 6
