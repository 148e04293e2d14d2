"""The case model: the public format accepted as written, errors that say where and what to fix."""
import json

import pytest
import yaml

from ptcheck import load_cases, load_text
from ptcheck.core._cases import case_schema
from tests.conftest import case_dict


def one(text, fmt="yaml"):
    loaded = list(load_text(text, "c.yaml", fmt))
    assert len(loaded) == 1
    return loaded[0]


def test_case_format_example_is_accepted(tmp_path):
    # the example of ../shared/case-format.md, verbatim
    from tests.conftest import SHARED
    if not (SHARED / "case-format.md").exists():
        pytest.skip("../shared/case-format.md is not beside the repo")
    md = (SHARED / "case-format.md").read_text()
    example = md.split("```yaml", 1)[1].split("```", 1)[0]
    loaded = one(example)
    assert loaded.ok, loaded.problems
    req = loaded.case.requests[0]
    assert (req.visits, req.frequency_per_week, req.duration_weeks) == (8, 2, 4)


def test_unknown_key_names_path_line_and_suggestion():
    text = yaml.safe_dump(case_dict(), sort_keys=False).replace("history:\n", "history:\n  documentaion: {}\n")
    loaded = one(text)
    assert not loaded.ok
    (p,) = loaded.problems
    assert p.path == "history.documentaion"
    assert "unknown key 'documentaion'" in p.message
    assert p.suggestion == "did you mean 'documentation'?"
    assert p.line == text.splitlines().index("  documentaion: {}") + 1


def test_unknown_region_lists_the_allowed_ones():
    d = case_dict()
    d["requests"][0]["body_regions"] = ["neck"]
    loaded = one(json.dumps(d), "json")
    assert "allowed: cervical" in loaded.problems[0].message
    assert loaded.problems[0].path == "requests[0].body_regions[0]"


@pytest.mark.parametrize("request_patch,message", [
    ({"visits": 10, "frequency_per_week": 2, "duration_weeks": 4}, "contradicts itself"),
    ({"text": "PT 2x4", "visits": 12}, "contradicts itself"),
    ({"text": "PT 2x4 (10 sessions)"}, "says 2x4 = 8 visits but also 10"),
])
def test_visit_contradictions(request_patch, message):
    d = case_dict()
    d["requests"][0].pop("visits")
    d["requests"][0].update(request_patch)
    loaded = one(json.dumps(d), "json")
    assert not loaded.ok and message in loaded.problems[0].message


def test_visits_from_frequency_and_duration():
    d = case_dict()
    d["requests"][0] = {"id": "1", "service": "physical_therapy", "frequency_per_week": 3, "duration_weeks": 4}
    assert one(json.dumps(d), "json").case.requests[0].visits == 12


def test_medication_quantity_is_not_visits():
    d = case_dict(requests=[{"id": "1", "service": "medication", "text": "Soma 350 #60", "drug": "Soma", "quantity": 60}])
    assert one(json.dumps(d), "json").case.requests[0].visits is None


def test_invalid_icd_codes_are_errors_naming_the_code():
    d = case_dict(diagnoses=[{"icd10": "M54.99"}, {"icd9": "7291"}])
    loaded = one(json.dumps(d), "json")
    assert [p.path for p in loaded.problems] == ["diagnoses[0].icd10"]
    assert "'M54.99'" in loaded.problems[0].message


def test_missing_required_and_not_a_mapping():
    loaded = one("id: x\njurisdiction: CA\n")
    assert "required key 'requests' is missing" in loaded.problems[0].message
    assert not one("- 1\n- 2\n").ok


def test_multi_document_yaml_reports_each_document_line():
    text = yaml.safe_dump(case_dict(id="a")) + "---\n" + "id: b\njurisdiction: XX\nrequests: []\n" + "---\n" + yaml.safe_dump(case_dict(id="c"))
    loaded = list(load_text(text, "m.yaml"))
    assert [l.ok for l in loaded] == [True, False, True]
    assert loaded[1].raw_id == "b"
    assert all(p.line and p.line > 1 for p in loaded[1].problems)


def test_jsonl_bad_lines_do_not_stop_the_rest(tmp_path):
    f = tmp_path / "b.jsonl"
    f.write_text("\n".join([json.dumps(case_dict(id="a")), "{not json", json.dumps(case_dict(id="c", extra=1)),
                            "", json.dumps(case_dict(id="d"))]) + "\n")
    loaded = list(load_cases([f]))
    assert [(l.ok, l.line) for l in loaded] == [(True, 1), (False, 2), (False, 3), (True, 5)]
    assert "unknown key 'extra'" in loaded[2].problems[0].message


def test_no_history_therapy_is_unknown_not_zero():
    d = case_dict()
    del d["history"]
    assert one(json.dumps(d), "json").case.history.therapy is None


def test_schema_is_exported_and_forbids_unknown_keys():
    s = case_schema()
    assert s["additionalProperties"] is False
    assert {"id", "jurisdiction", "requests"} <= set(s["required"])
