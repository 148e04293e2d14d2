"""The letter importer (engine/letters/_letters.py), field by field: the five seed letters, our own letters in
tests/data/letters/ (each with name.expected.yaml beside it), that it never invents a fact, and that the
rendered YAML loads back to the same case with its TODOs as comments.

An expected file holds `case:` (a partial case: every value given must match; a list of mappings must
also match in length), `absent:` (dotted paths that must not be in the case), `todos:` (fragments that
must each appear in some TODO) and `todos_absent:` (fragments no TODO may contain).
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from ptcheck import validate_case
from ptcheck.letters._letters import ImportedCase, import_letter, render_case_yaml

SEEDS = Path(__file__).parents[2] / "shared" / "seeds"          # ../shared/seeds beside the repo
LETTERS = Path(__file__).parent / "data" / "letters"
NO_SEEDS = f"the seed letters are not there ({SEEDS}); they live in ../shared/seeds beside the repo"

D = dt.date

# What each seed letter says (field by field), what it leaves out, and the TODOs that must name the gaps.
SEED_EXPECTED: dict[str, dict[str, Any]] = {
    "000": {
        "case": {
            "jurisdiction": "TX", "review": {"kind": "iro"},
            "requests": [{"id": "1", "text": "Physical therapy for the lumbar spine", "service": "physical_therapy",
                          "body_regions": ["lumbar"], "actual": "upheld"}],
        },
        "absent": ["review.date", "patient", "injury_date", "requests[0].visits", "history.therapy",
                   "history.documentation.new_injury_or_flare",
                   "history.documentation.unable_to_do_home_exercise"],
        "todos": ["review.date:", "patient.age:", "injury_date:", "requests[0].visits:", "redacted",
                  "history.documentation.new_injury_or_flare:"],
    },
    "001": {
        "case": {
            "jurisdiction": "CA", "review": {"kind": "imr", "date": D(2014, 7, 24)},
            "patient": {"age": 21, "sex": "male"}, "injury_date": D(2013, 12, 11),
            "diagnoses": [{"text": "sprain/strain of the cervical spine", "region": "cervical"}],
            "requests": [{"id": "1", "text": "Pt 2x4 Weeks (8sessions) For Bilateral Neck and Low Back",
                          "service": "physical_therapy", "body_regions": ["cervical", "lumbar"],
                          "visits": 8, "frequency_per_week": 2, "duration_weeks": 4, "actual": "upheld"}],
            "history": {"therapy": [{"service": "physical_therapy", "body_regions": ["cervical", "lumbar"],
                                     "visits_completed": 11}]},
        },
        "absent": ["history.surgeries", "history.documentation"],
        "todos": ["history.documentation.functional_improvement:"],
    },
    "002": {
        "case": {
            "jurisdiction": "CA", "review": {"kind": "imr", "date": D(2014, 7, 9)},
            "patient": {"age": 53, "sex": "female"}, "injury_date": D(2011, 7, 15),
            "diagnoses": [{"text": "lumbar disc herniations without myelopathy", "region": "lumbar"},
                          {"text": "lumbar neuritis", "region": "lumbar"}],
            "requests": [
                {"id": "1", "text": "Physical Therapy 2 times a week for 4 weeks, Lumbar Spine",
                 "service": "physical_therapy", "body_regions": ["lumbar"], "visits": 8,
                 "frequency_per_week": 2, "duration_weeks": 4, "actual": "upheld"},
                {"id": "2", "text": "Home Exercise Kit for Lumbar Spine", "service": "home_exercise_kit",
                 "body_regions": ["lumbar"], "actual": "upheld"},
            ],
            "history": {
                "therapy": [{"service": "physical_therapy", "visits_completed": 24}],
                "surgeries": [{"procedure": "L3-5 microlaminectomy", "kind": "discectomy_laminectomy",
                               "region": "lumbar", "date": D(2013, 8, 26)}],
                "medications": [{"name": "Norco"}],
                "documentation": {"functional_improvement": True},
            },
        },
        "absent": ["history.documentation.equipment_described", "history.documentation.home_exercise_program",
                   "history.therapy[0].body_regions"],
        "todos": ["history.documentation.equipment_described:", "history.therapy[0].body_regions:"],
        "todos_absent": ["visits_completed", "injury_date", "review.date"],
    },
    "003": {
        "case": {
            "jurisdiction": "CA", "review": {"kind": "imr"},
            "patient": {"age": 48, "sex": "female"}, "injury_date": D(2000, 6, 29),
            "diagnoses": [{"text": "flare up of back pain", "region": "lumbar"},
                          {"text": "history of prior lumbar decompression and fusion at L5-S1",
                           "region": "lumbar"}],
            "requests": [
                {"id": "1", "text": "FOLLOW-UP VISIT WITH ANESTHESIOLOGIST FOR THE LUMBAR", "service": "office_visit",
                 "specialty": "anesthesiology", "purpose": "repeat_epidural_steroid_injection",
                 "body_regions": ["lumbar"], "actual": "upheld"},
                {"id": "2", "text": "PHYSICAL THERAPY 12 VISITS FOR THE LUMBAR", "service": "physical_therapy",
                 "body_regions": ["lumbar"], "visits": 12, "actual": "upheld"},
            ],
            "history": {
                "therapy": [{"service": "physical_therapy"}],
                "surgeries": [{"procedure": "lumbar decompression and fusion at L5-S1", "kind": "fusion",
                               "region": "lumbar"}],
                "injections": [{"kind": "epidural_steroid", "region": "lumbar"}],
                "documentation": {"new_injury_or_flare": True, "objective_functional_deficits": True},
            },
        },
        "absent": ["review.date", "history.therapy[0].visits_completed", "history.surgeries[0].date",
                   "history.injections[0].pain_relief_percent", "history.documentation.functional_improvement",
                   "history.documentation.exceptional_factors"],
        "todos": ["review.date:", "history.therapy[0].visits_completed:", "history.surgeries[0].date:",
                  "history.injections[0].pain_relief_percent:", "good pain relief",
                  "history.documentation.functional_improvement:", "history.documentation.exceptional_factors:"],
    },
    "004": {
        "case": {
            "jurisdiction": "CA", "review": {"kind": "imr"}, "patient": {"age": 62, "sex": "male"},
            "requests": [
                {"id": "1", "text": "Physical therapy 2 times 8 for lumbar spine", "service": "physical_therapy",
                 "body_regions": ["lumbar"], "visits": 16, "frequency_per_week": 2, "duration_weeks": 8,
                 "actual": "upheld"},
                {"id": "2", "text": "Soma 350 1 by mouth twice daily, #60", "service": "medication",
                 "drug": "Soma", "strength": "350", "quantity": 60, "sig": "1 by mouth twice daily",
                 "actual": "upheld"},
            ],
            "history": {"therapy": [{"service": "physical_therapy"}]},
        },
        "absent": ["injury_date", "diagnoses", "history.therapy[0].visits_completed", "history.medications",
                   "history.documentation"],
        "todos": ["injury_date:", "diagnoses:", "history.therapy[0].visits_completed:", "Soma",
                  "history.documentation.functional_improvement:",
                  "history.documentation.objective_functional_deficits:"],
    },
}


# ---------------------------------------------------------------------------------------------
# the letters and their expectations


def seed_path(number: str) -> Path:
    return next(SEEDS.glob(f"{number}_*.txt"))


def own_letters() -> list[Path]:
    return sorted(LETTERS.glob("*.txt"))


@functools.cache
def imported(key: str) -> ImportedCase:
    """'seed:001' or 'letter:<stem>' -> the imported case."""
    kind, name = key.split(":", 1)
    path = seed_path(name) if kind == "seed" else LETTERS / f"{name}.txt"
    case_id = f"seed-{name}" if kind == "seed" else None
    return import_letter(path.read_text(encoding="utf-8"), source=path.name, case_id=case_id)


def expected_for(key: str) -> dict[str, Any]:
    kind, name = key.split(":", 1)
    if kind == "seed":
        return SEED_EXPECTED[name]
    return yaml.safe_load((LETTERS / f"{name}.expected.yaml").read_text(encoding="utf-8"))


def letter_keys() -> list[str]:
    return [f"letter:{p.stem}" for p in own_letters()]


SEED_KEYS = [f"seed:{n}" for n in SEED_EXPECTED]


class Row(NamedTuple):
    key: str
    path: str
    value: Any = None


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, expected value) pairs; a list of mappings also yields its length as 'path#len'."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from flatten(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
        yield f"{path}#len", len(value)
        for i, v in enumerate(value):
            yield from flatten(v, f"{path}[{i}]")
    else:
        yield path, value


_MISSING = object()
_STEP = re.compile(r"([^.\[\]#]+)|\[(\d+)\]")


def lookup(case: dict, path: str) -> Any:
    """The value at a dotted path ('history.therapy[0].visits_completed', 'requests#len'), or _MISSING."""
    want_len = path.endswith("#len")
    node: Any = case
    for name, index in _STEP.findall(path.removesuffix("#len")):
        if name:
            if not isinstance(node, dict) or name not in node:
                return _MISSING
            node = node[name]
        else:
            if not isinstance(node, list) or int(index) >= len(node):
                return _MISSING
            node = node[int(index)]
    return len(node) if want_len else node


def rows(keys: list[str], section: str) -> list[Row]:
    out = []
    for key in keys:
        spec = expected_for(key)
        if section == "case":
            out += [Row(key, p, v) for p, v in flatten(spec.get("case", {}))]
        else:
            out += [Row(key, p) for p in spec.get(section, [])]
    return out


def ids(row: Row) -> str:
    return f"{row.key.split(':', 1)[1]}:{row.path}"


def params(section: str) -> list:
    seed = [pytest.param(r, id=ids(r), marks=pytest.mark.skipif(not SEEDS.is_dir(), reason=NO_SEEDS))
            for r in rows(SEED_KEYS, section)]
    return seed + [pytest.param(r, id=ids(r)) for r in rows(letter_keys(), section)]


def all_keys() -> list:
    seed = [pytest.param(k, id=k, marks=pytest.mark.skipif(not SEEDS.is_dir(), reason=NO_SEEDS))
            for k in SEED_KEYS]
    return seed + [pytest.param(k, id=k) for k in letter_keys()]


# ---------------------------------------------------------------------------------------------
# (a) seeds and (b) our own letters, field by field


def test_enough_own_letters_with_expectations():
    letters = own_letters()
    ca = [p for p in letters if "MAXIMUS" in p.read_text()]
    tx = [p for p in letters if "IRO Reviewer Report" in p.read_text()]
    assert len(letters) >= 10 and len(ca) >= 5 and len(tx) >= 3
    assert all(p.with_suffix(".expected.yaml").is_file() for p in letters)


@pytest.mark.parametrize("row", params("case"))
def test_field(row: Row):
    got = lookup(imported(row.key).case, row.path)
    assert got is not _MISSING, f"{row.path} is missing; expected {row.value!r}"
    assert got == row.value


@pytest.mark.parametrize("row", params("absent"))
def test_field_left_out(row: Row):
    assert lookup(imported(row.key).case, row.path) is _MISSING, f"{row.path} should be left out"


@pytest.mark.parametrize("row", params("todos"))
def test_todo_names_the_gap(row: Row):
    todos = imported(row.key).todos
    assert any(row.path in t for t in todos), f"no TODO mentions {row.path!r}: {todos}"


@pytest.mark.parametrize("row", params("todos_absent"))
def test_no_todo_for_a_fact_the_letter_gives(row: Row):
    assert not any(row.path in t for t in imported(row.key).todos)


@pytest.mark.parametrize("key", all_keys())
def test_case_is_valid_for_the_engine(key: str):
    loaded = validate_case(imported(key).case, source=key)
    assert loaded.ok, loaded.problems


@pytest.mark.parametrize("key", all_keys())
def test_keys_in_documented_order(key: str):
    order = ["format", "id", "jurisdiction", "review", "patient", "injury_date", "diagnoses", "requests", "history"]
    keys = list(imported(key).case)
    assert keys == [k for k in order if k in keys]
    assert keys[:2] == ["format", "id"]


@pytest.mark.parametrize("key", all_keys())
def test_visits_agree_with_frequency_and_weeks(key: str):
    for req in imported(key).case.get("requests", []):
        if "frequency_per_week" in req and "duration_weeks" in req:
            assert req["visits"] == req["frequency_per_week"] * req["duration_weeks"], req
    assert [r["id"] for r in imported(key).case.get("requests", [])] == \
        [str(i) for i in range(1, len(imported(key).case.get("requests", [])) + 1)]


# ---------------------------------------------------------------------------------------------
# (c) never invent


def imr_letter(summary: str, items: str = "Physical therapy 2x3 for the lumbar spine: Upheld",
               rationale: str = "The request is not medically necessary.") -> str:
    return (
        "HOW THE IMR FINAL DETERMINATION WAS MADE\n\nMAXIMUS Federal Services sent the complete case file to an "
        "expert reviewer.\n\nCLINICAL CASE SUMMARY\n\n" + summary +
        "\n\nIMR ISSUES, DECISIONS AND RATIONALES\n\nThe Final Determination was based on decisions for the "
        "disputed items/services set forth below:\n\n" + items +
        "\n\nClaims Administrator guideline: Decision based on MTUS.\n\nDecision rationale: " + rationale + "\n"
    )


BASE = ("The patient is a 40 year old male with an injury date of 02/03/2013. He has completed 10 visits of "
        "physical therapy for the low back. The utilization review being challenged is dated 05/06/2014.")


@pytest.mark.parametrize("finding", [
    "There is no documentation of functional improvement with the prior physical therapy.",
    "No objective functional improvement was documented.",
    "It is unclear whether the patient had functional improvement from the prior sessions.",
    "The records do not show functional improvement.",
])
def test_reviewer_finding_of_no_functional_improvement_is_a_todo_not_false(finding: str):
    got = import_letter(imr_letter(BASE, rationale=finding + " The request is not medically necessary."))
    assert "functional_improvement" not in got.case.get("history", {}).get("documentation", {})
    assert any(t.startswith("history.documentation.functional_improvement:") and "it says" in t for t in got.todos)


@pytest.mark.parametrize("field, finding", [
    ("new_injury_or_flare", "There is no evidence of a new injury or flare-up."),
    ("home_exercise_program", "There is no documentation that the patient is doing a home exercise program."),
    ("unable_to_do_home_exercise", "There is no documentation that the patient cannot perform a home exercise "
                                   "program."),
    ("exceptional_factors", "There is no statement of exceptional factors."),
])
def test_other_reviewer_findings_are_left_out(field: str, finding: str):
    got = import_letter(imr_letter(BASE + " " + finding))
    assert field not in got.case.get("history", {}).get("documentation", {})
    assert any(t.startswith(f"history.documentation.{field}:") for t in got.todos)


def test_what_the_records_show_is_kept():
    summary = BASE + " He reported improved function with therapy and is performing a home exercise program."
    doc = import_letter(imr_letter(summary)).case["history"]["documentation"]
    assert doc == {"functional_improvement": True, "home_exercise_program": True}


def test_no_injury_date_means_no_injury_date_and_a_todo():
    summary = ("The patient is a 40 year old male who was seen on 03/04/2014 for low back pain. The utilization "
               "review being challenged is dated 05/06/2014.")
    got = import_letter(imr_letter(summary))
    assert "injury_date" not in got.case
    assert any(t.startswith("injury_date:") for t in got.todos)
    assert got.case["review"]["date"] == D(2014, 5, 6)


def test_unknown_prior_amount_is_not_a_number():
    summary = BASE.replace("He has completed 10 visits of physical therapy for the low back.",
                           "Treatment to date has included physical therapy (unknown amount).")
    got = import_letter(imr_letter(summary))
    assert got.case["history"]["therapy"] == [{"service": "physical_therapy"}]
    assert any(t.startswith("history.therapy[0].visits_completed:") for t in got.todos)


def test_surgeries_and_visits_the_letter_rules_out_are_not_made_up():
    summary = BASE + (" No discussion was made or reports provided of prior surgeries. On 05/01/2014 the treater "
                      "states the patient has 3 physical therapy visits left.")
    history = import_letter(imr_letter(summary)).case["history"]
    assert "surgeries" not in history
    assert history["therapy"] == [{"service": "physical_therapy", "body_regions": ["lumbar"],
                                   "visits_completed": 10}]


def test_a_planned_injection_is_not_history():
    summary = BASE + " The plan is a follow-up visit for consideration of a repeat epidural steroid injection."
    assert "injections" not in import_letter(imr_letter(summary)).case["history"]


def test_text_that_is_no_letter_invents_nothing():
    got = import_letter("Dear Sir, please find the enclosed invoice.")
    assert got.case == {"format": "ptcheck/case@1", "id": got.case["id"], "review": {"kind": "ur"}}
    assert any(t.startswith("jurisdiction:") for t in got.todos)
    assert any(t.startswith("requests:") for t in got.todos)


# ---------------------------------------------------------------------------------------------
# ids


def test_case_id_from_source_hash_or_caller():
    text = imr_letter(BASE)
    assert import_letter(text, source="letters/001_E43977c1.txt").case["id"] == "001-e43977c1"
    hashed = import_letter(text).case["id"]
    assert re.fullmatch(r"letter-[0-9a-f]{12}", hashed) and import_letter(text).case["id"] == hashed
    assert import_letter(text + " ").case["id"] != hashed
    assert import_letter(text, source="x.txt", case_id="seed-001").case["id"] == "seed-001"


# ---------------------------------------------------------------------------------------------
# (d) rendering


@pytest.mark.parametrize("key", all_keys())
def test_render_round_trips_with_todo_comments(key: str):
    got = imported(key)
    text = render_case_yaml(got)
    assert yaml.safe_load(text) == got.case
    assert text.splitlines()[0] == f"# Imported from letter: {got.source}"
    comments = [line for line in text.splitlines() if line.startswith("# TODO ")]
    assert comments == [f"# TODO {t}" for t in got.todos]
    lines = text.splitlines()
    body_starts = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    assert all(not line.startswith("#") for line in lines[body_starts:]), "comments belong at the top"


def test_render_keeps_a_multiline_todo_a_comment():
    got = ImportedCase(case={"format": "ptcheck/case@1", "id": "x"}, todos=["a: one\nb: two"], source="a\nb.txt")
    text = render_case_yaml(got)
    assert "# TODO a: one b: two" in text and "# Imported from letter: a b.txt" in text
    assert yaml.safe_load(text) == got.case


FRAGMENTS = [
    "MAXIMUS", "CLINICAL CASE SUMMARY\n", "IMR ISSUES, DECISIONS AND RATIONALES\n", "IRO Reviewer Report\n",
    "Physical therapy 2x4 for the neck: Upheld\n", "Soma 350 #60: Overturned\n", "Decision rationale: ",
    "Description of the service or services in dispute: X\n", "Upheld (Agree)\n", "X", "(", ")", ".",
    "The patient is a 44-year-old female", "with an injury date of 13/45/2014.", "had completed 11 visits",
    "L3-5 microlaminectomy (08/26/2013)", "lumbar epidural steroid injection with 60% relief",
    "There is no documentation of functional improvement.", "flare up of back pain", "twelve (12) sessions",
    "Date Notice Sent to All Parties: 02/30/2015\n", "Physical therapy 2x4 (10 visits) for the knee: Upheld\n",
]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=25).map(" ".join))
def test_any_text_imports_and_renders(text: str):
    got = import_letter(text)
    assert yaml.safe_load(render_case_yaml(got)) == got.case
    for req in got.case.get("requests", []):
        if "frequency_per_week" in req and "duration_weeks" in req:
            assert req["visits"] == req["frequency_per_week"] * req["duration_weeks"]
