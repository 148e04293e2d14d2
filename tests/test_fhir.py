"""FHIR out: every bundled case as a Da Vinci CRD response and a PAS ClaimResponse, checked with the FHIR R4B
models (fhir.resources) and, with fhirpathpy, against the CRD invariants crd-ci-q1..q9 (transcribed from
HL7/davinci-crd in engine/fhir/_spec.py), crd-respci1 and crd-respar-1; each outcome's mapping as
engine/fhir/_mapping.py states it; `ptcheck check --format crd|pas` and POST /v1/check?format=."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, case_dict

pytest.importorskip("fhir.resources", reason="the fhir extra is not installed (pip install -e '.[test]')")

from fhir.resources.R4B.claimresponse import ClaimResponse  # noqa: E402
from fhir.resources.R4B.servicerequest import ServiceRequest  # noqa: E402

from ptcheck import load_cases, validate_case  # noqa: E402
from ptcheck.fhir import _spec, assertion, crd_response, invariant_problems, pas_claim_response  # noqa: E402

CODINGS = [{"system": "urn:ptcheck:override-reason", "code": "other", "display": "Another reason"}]


def _bundled():
    return [l for l in load_cases([ROOT / "cases"]) if l.ok]


@pytest.fixture(scope="module")
def decisions(checker):
    return [checker.check(l.case) for l in _bundled()]


def _coverage_info(resource: dict) -> list[dict]:
    return [e for e in resource.get("extension", []) if e["url"] == _spec.COVERAGE_INFORMATION]


def _part(ext: dict, name: str) -> list:
    return [p for p in ext["extension"] if p["url"] == name]


def _code(ext: dict, name: str):
    found = _part(ext, name)
    return found[0]["valueCode"] if found else None


def test_every_bundled_case_converts_to_crd_that_passes_the_models_and_the_invariants(decisions):
    assert len(decisions) >= 90
    items = 0
    for d in decisions:
        response = crd_response(d, assertion_id="a" * 32, override_reasons=CODINGS)
        assert len(response["systemActions"]) == len(d.items)            # one per item (CRD resp-29)
        for action, item in zip(response["systemActions"], d.items):
            assert action["type"] == "update" and "resourceId" not in action
            sr = action["resource"]
            ServiceRequest.model_validate(sr)                                  # the R4B model's own validation
            assert _spec.holds(sr, _spec.RESPCI1), d.case
            [ext] = _coverage_info(sr)
            assert invariant_problems(ext) == [], (d.case, item.request)
            # required parts and the required bindings the models do not check
            for name in ("coverage", "covered", "date", "coverage-assertion-id"):
                assert len(_part(ext, name)) == 1, (d.case, name)
            assert _code(ext, "covered") in _spec.COVERED
            assert _code(ext, "pa-needed") in _spec.PA_NEEDED
            assert _code(ext, "doc-needed") in (None, *_spec.DOC_NEEDED)
            assert _code(ext, "doc-purpose") in (None, *_spec.DOC_PURPOSE)
            assert _code(ext, "info-needed") in (None, *_spec.INFO_NEEDED)
            for detail in _part(ext, "detail"):
                assert _code(detail, "category") in _spec.DETAIL_CATEGORY
            assert _part(ext, "coverage-assertion-id")[0]["valueString"] == "a" * 32
            items += 1
        for card in response["cards"]:
            assert card["uuid"] and card["source"]["topic"]["system"] == _spec.CARD_TYPE
            assert len(card["summary"]) < 140 and card["selectionBehavior"] in ("at-most-one", "any")
            assert all(c["display"] for c in card["overrideReasons"])          # CDS Hooks: a display for each
            for suggestion in card["suggestions"]:
                assert suggestion["uuid"] and _spec.holds(suggestion, _spec.RESPAR1)
                for act in suggestion["actions"]:
                    ServiceRequest.model_validate(act["resource"])
    assert items == sum(len(d.items) for d in decisions)


def test_every_bundled_case_converts_to_a_pas_claim_response(decisions):
    for d in decisions:
        cr = pas_claim_response(d, assertion_id="b" * 32)
        ClaimResponse.model_validate(cr)
        assert cr["use"] == "preauthorization" and cr["status"] == "active" and cr["outcome"] == "complete"
        reviewer = next(e for e in cr["extension"] if e["url"] == _spec.CLAIM_RESPONSE_REVIEWER)
        assert reviewer["extension"] == [{"url": "wasHumanReviewedFlag", "valueBoolean": False}]
        notes = {n["number"] for n in cr.get("processNote", [])}
        assert len(notes) == len(cr.get("processNote", []))
        expected = {"certify": "A1", "modify": "A6", "non_certify": "A3", "pend": "A4"}
        for seq, (entry, item) in enumerate(zip(cr["item"], d.items), start=1):
            assert entry["itemSequence"] == seq
            [adj] = entry["adjudication"]
            assert adj["category"]["coding"][0]["code"] == "submitted"
            [action] = adj["extension"]
            assert action["url"] == _spec.REVIEW_ACTION
            code = action["extension"][0]["valueCodeableConcept"]["coding"][0]
            assert (code["system"], code["code"]) == (_spec.X12_306, expected[item.outcome])
            assert set(entry["noteNumber"]) <= notes and entry["noteNumber"]
            assert any(e["url"] == _spec.ITEM_AUTHORIZED_PROVIDER for e in entry["extension"])   # 1..* in PAS
        added = {a["itemSequence"][0]: a for a in cr.get("addItem", [])}
        assert set(added) == {s for s, i in enumerate(d.items, start=1) if i.outcome == "modify"}
        for s, a in added.items():
            assert a["quantity"]["value"] == d.items[s - 1].certified_visits and a["quantity"]["code"] == "VS"


def test_the_rationale_and_citations_travel_in_process_notes(checker):
    d = checker.check(next(l for l in load_cases([ROOT / "cases/seeds/seed-001.yaml"])).case)
    text = " ".join(n["text"] for n in pas_claim_response(d, assertion_id="c1")["processNote"])
    assert "11 visits completed + 8 requested = 19" in text and "pp. 98-99" in text
    assert "pm.over-course-without-improvement" in text


def _by_kind(decisions):
    out = {}
    for d in decisions:
        for item in d.items:
            out.setdefault(assertion(item).kind, []).append((d, item))
    return out


def test_each_outcome_is_mapped_deliberately(decisions):
    kinds = _by_kind(decisions)
    assert {"certified", "modified", "not-certified", "documentation", "unknown"} <= set(kinds)
    for d, item in kinds["not-certified"]:          # medical necessity: never "not-covered"
        ext = _coverage_info(crd_response(d, assertion_id="x")["systemActions"][d.items.index(item)]["resource"])[0]
        assert _code(ext, "covered") == "covered" and _code(ext, "pa-needed") == "auth-needed"
        [limit] = [x for x in _part(ext, "detail") if _code(x, "category") == "cat-limitation"]
        assert _part(limit, "value")[0]["valueQuantity"]["value"] == 0
    for d, item in kinds["documentation"]:          # a pend for documentation: doc-needed=clinical, the items named
        a = assertion(item)
        assert (a.covered, a.doc_needed, a.info_needed) == ("covered", "clinical", None)
        assert item.missing and all(any(m in r for r in a.reasons) for m in item.missing)
    for d, item in kinds["unknown"]:                # an unknown fact: conditional + info-needed
        a = assertion(item)
        assert (a.covered, a.info_needed) == ("conditional", "OTH") and a.reasons
    for d, item in kinds["modified"]:
        response = crd_response(d, assertion_id="m", override_reasons=CODINGS)
        [card] = [c for c in response["cards"] if c["suggestions"][0]["actions"][0]["resource"]["id"]
                  == response["systemActions"][d.items.index(item)]["resource"]["id"]]
        proposed = card["suggestions"][0]["actions"][0]["resource"]
        assert proposed["quantityQuantity"]["value"] == item.certified_visits
        assert card["overrideReasons"] == CODINGS
    for d, item in kinds["certified"] + kinds["not-certified"] + kinds["documentation"] + kinds["unknown"]:
        assert not [c for c in crd_response(d, assertion_id="n")["cards"]
                    if c["extension"]["davinci-crd.associated-resource"][0]["reference"].endswith(f"-{item.request}")
                    and item.outcome != "modify"]        # coverage information never uses a card


def test_a_service_no_rule_set_addresses_is_indeterminate_with_its_reason(checker):
    case = validate_case(case_dict(jurisdiction="TX", requests=[{"id": "1", "service": "durable_medical_equipment",
                                                                  "body_regions": ["lumbar"]}])).case
    d = checker.check(case)
    assert d.items[0].outcome == "pend"
    [ext] = _coverage_info(crd_response(d, assertion_id="i")["systemActions"][0]["resource"])
    assert _code(ext, "covered") == "indeterminate" and _part(ext, "reason")
    assert invariant_problems(ext) == []


def test_the_invariant_check_catches_what_the_spec_forbids():
    """The checker itself: each broken extension fails the invariant it breaks (so a pass above means something)."""
    def ext(*parts):
        return {"url": _spec.COVERAGE_INFORMATION, "extension": [{"url": u, "valueCode": v} for u, v in parts]}
    assert invariant_problems(ext(("covered", "covered"), ("pa-needed", "auth-needed"))) == []
    assert [p[:9] for p in invariant_problems(ext(("covered", "not-covered"), ("pa-needed", "auth-needed")))] == ["crd-ci-q2"]
    assert [p[:9] for p in invariant_problems(ext(("covered", "conditional")))] == ["crd-ci-q3"]
    assert "crd-ci-q6" in str(invariant_problems(ext(("covered", "conditional"), ("info-needed", "OTH"))))
    assert "crd-ci-q9" in str(invariant_problems(ext(("covered", "indeterminate"))))
    assert "crd-ci-q8" in str(invariant_problems(ext(("covered", "covered"), ("doc-purpose", "retain-doc"))))
    coded = ext(("covered", "covered"))
    coded["extension"].append({"url": "reason", "valueCodeableConcept": {"coding": [{"system": "x", "code": "y"}]}})
    assert "crd-ci-q7" in str(invariant_problems(coded))
    coded["extension"][-1]["valueCodeableConcept"]["coding"][0] = {"system": _spec.CRD_TEMP, "code": "technical"}
    assert invariant_problems(coded) == []                                   # memberOf the value set


def test_the_ptcheck_extension_carries_the_prediction_and_the_rule_set_versions(checker):
    d = checker.check(next(l for l in load_cases([ROOT / "cases/seeds/seed-001.yaml"])).case)
    [ext] = _coverage_info(crd_response(d, assertion_id="p")["systemActions"][0]["resource"])
    [ours] = _part(ext, "urn:ptcheck:fhir:decision")
    parts = {p["url"]: p for p in ours["extension"]}
    assert parts["predicted-review"]["valueCode"] == "upheld" and parts["outcome"]["valueCode"] == "non_certify"
    sets = [{q["url"]: q["valueString"] for q in p["extension"]} for p in ours["extension"] if p["url"] == "ruleset"]
    assert {"id": "mtus.cpmtg.physical-medicine", "version": "2009.1",
            "sha256": next(r.sha256 for r in d.rulesets if r.id == "mtus.cpmtg.physical-medicine")} in sets


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ptcheck.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})})


def test_cli_format_crd_and_pas_log_each_decision(tmp_path):
    db = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    crd = _run("check", "cases/mtus/mtus-ac-001.yaml", "--format", "crd", "--db", db)
    assert crd.returncode == 0, crd.stderr
    doc = json.loads(crd.stdout)
    aid = _part(_coverage_info(doc["systemActions"][0]["resource"])[0], "coverage-assertion-id")[0]["valueString"]
    pas = _run("check", "cases/seeds/", "--format", "pas", "--db", db)
    assert pas.returncode == 0 and len(pas.stdout.splitlines()) == 5            # JSON Lines for several cases
    assert "5 decision(s) logged" in pas.stderr
    from ptcheck.dispositions import Store
    store = Store.open(db)
    rows = store.table("decisions")
    assert len(rows) == 6 and aid in {r["assertion_id"] for r in rows}
    assert all(r["case_id"] is None and r["case_json"] is None for r in rows)        # nothing of a case by default
    [item] = [i for i in store.table("decision_items") if i["assertion_id"] == aid]
    assert item["card_uuid"] == doc["cards"][0]["uuid"]
    store.close()            # (Python 3.13: an unclosed SQLite connection is a ResourceWarning, an error here)
    bad = _run("check", "cases/seeds/seed-001.yaml", "--format", "fhir")
    assert bad.returncode == 2 and "text, json, crd or pas" in bad.stderr
    unreachable = _run("check", "cases/seeds/seed-001.yaml", "--format", "pas", "--db", "postgresql://nobody:secret@127.0.0.1:1/x")
    assert unreachable.returncode == 2 and "cannot open the decision log" in unreachable.stderr
    assert "secret" not in unreachable.stderr


def test_api_check_format_crd_and_pas(tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from ptcheck.dispositions import Store
    from ptcheck.web._app import create_app
    store = Store.open(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    body = (ROOT / "cases/seeds/seed-001.yaml").read_bytes()
    with TestClient(create_app(store=store)) as client:
        plain = client.post("/v1/check", content=body, headers={"content-type": "application/yaml"})
        crd = client.post("/v1/check?format=crd", content=body, headers={"content-type": "application/yaml"})
        pas = client.post("/v1/check?format=pas", content=body, headers={"content-type": "application/yaml"})
        bad = client.post("/v1/check?format=xml", content=body)
    cli = _run("check", "cases/seeds/seed-001.yaml", "--json")
    assert plain.status_code == 200 and plain.text == cli.stdout              # the JSON answer is unchanged
    assert crd.status_code == 200 and crd.json()["systemActions"][0]["resource"]["resourceType"] == "ServiceRequest"
    assert pas.status_code == 200 and pas.json()["resourceType"] == "ClaimResponse"
    assert pas.headers["content-type"].startswith("application/fhir+json")
    assert bad.status_code == 422 and bad.json()["problems"][0]["path"] == "format"
    ids = [r.headers["ptcheck-assertion-id"] for r in (plain, crd, pas)]
    assert {r["assertion_id"] for r in store.table("decisions")} == set(ids)
    assert pas.json()["identifier"][0]["value"] == ids[2]
    store.close()            # Python 3.13 warns about a SQLite connection left open (ResourceWarning: an error here)
