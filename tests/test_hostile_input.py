"""Hostile and malformed input: the corpus under tests/malformed/cases/, one row per file in
tests/malformed/EXPECTED.yaml; the safe YAML loader's guards; the CLI never shows a traceback."""
import json
import subprocess
import sys
import time

import pytest
import yaml

from ptcheck import load_cases, load_text
from ptcheck.core._safeinput import CASE_FILE, InputError
from ptcheck.core._safejson import load_json
from ptcheck.core._yamlpos import iter_yaml, load_yaml
from tests.conftest import ROOT

CORPUS = ROOT / "tests/malformed/cases"
EXPECTED = yaml.safe_load((ROOT / "tests/malformed/EXPECTED.yaml").read_text())
PHI = ("John", "Patient", "1970", "owned", "caf")          # free text planted in the corpus


def test_every_corpus_file_has_an_expectation():
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(EXPECTED)
    assert len(EXPECTED) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_corpus(name):
    want = EXPECTED[name]
    path = CORPUS / name
    loaded = list(load_cases([path]))
    problems = [p for l in loaded if not l.ok for p in l.problems]
    assert [p.code for p in problems] == want["codes"], [str(p) for p in problems]
    if "fragment" in want:
        assert want["fragment"] in str(problems[0])
    assert sum(l.ok for l in loaded) == want["valid"]      # valid documents in the same file still load
    for l in loaded:
        if not l.ok:                                       # one error entry: file, line, document index
            assert l.source == str(path) and l.index is not None
            assert all(p.file == str(path) for p in l.problems)
    for p in problems:
        text = str(p) + (p.suggestion or "") + (p.path or "")
        assert not any(w in text for w in PHI), text
        assert "\x1b" not in text


def test_line_numbers_point_at_the_problem():
    (bad,) = [l for l in load_cases([CORPUS / "dup_keys.yaml"]) if not l.ok]
    assert (bad.problems[0].line, bad.problems[0].column) == (3, 1)
    (bad,) = [l for l in load_cases([CORPUS / "impossible_date.yaml"]) if not l.ok]
    assert bad.problems[0].line == 3
    lines = [l.line for l in load_cases([CORPUS / "jsonl_bad_lines.jsonl"])]
    assert lines == [1, 2, 3, 4, 5, 6]


def test_duplicate_ids_across_files_are_an_error_on_the_later_one(tmp_path):
    one = (CORPUS / "trailing_dashes.yaml").read_text()
    (tmp_path / "a.yaml").write_text(one)
    (tmp_path / "b.json").write_text(json.dumps(yaml.safe_load(one.split("---")[0])))
    a, b = load_cases([tmp_path])
    assert a.ok and not b.ok and b.problems[0].code == "C013" and str(tmp_path / "a.yaml") in b.problems[0].message


def test_huge_case_file_and_huge_jsonl_line_are_refused_naming_the_limit(tmp_path):
    huge = tmp_path / "huge.yaml"
    with huge.open("w") as fh:
        fh.write("id: huge\nnotes: |\n")
        line = "  " + "x" * 1000 + "\n"
        for _ in range(CASE_FILE.max_bytes // len(line) + 2):
            fh.write(line)
    (l,) = load_cases([huge])
    assert l.problems[0].code == "Y003" and "larger than the limit of 16 MiB for a case file" in str(l.problems[0])
    good = (CORPUS / "jsonl_bad_lines.jsonl").read_text().splitlines()[0]
    jl = tmp_path / "lines.jsonl"
    jl.write_text(good + "\n" + '{"id": "' + "x" * (2 ** 20 + 10) + '"}\n' + good.replace("jsonl1", "jsonl9") + "\n")
    loaded = list(load_cases([jl]))
    assert [l.ok for l in loaded] == [True, False, True]
    assert loaded[1].line == 2 and "larger than the limit of 1 MiB for a JSONL line" in str(loaded[1].problems[0])


def test_alias_bomb_is_refused_fast():
    text = (CORPUS / "alias_bomb.yaml").read_text()
    t0 = time.perf_counter()
    loaded = list(load_text(text, "bomb.yaml"))
    assert time.perf_counter() - t0 < 1.0
    assert [l.ok for l in loaded] == [True, False, True]


@pytest.mark.parametrize("text", ["[" * 10000, "{a: " * 10000, "- " * 10000 + "x"])
def test_deep_yaml_never_raises_recursion_error(text):
    (doc,) = list(iter_yaml(text, "deep.yaml"))
    assert doc.problem.code == "Y004"


def test_deep_json_is_a_clean_error():
    with pytest.raises(InputError) as e:
        load_json("[" * 10000 + "]" * 10000, "deep.json")
    assert e.value.problems[0].code == "Y004"


def test_guards_hold_with_the_pure_python_parser(monkeypatch):
    import ptcheck.core._yamlpos as yp
    monkeypatch.setattr(yp, "_Loader", yaml.SafeLoader)
    for name in ("alias_bomb.yaml", "deep_nesting.yaml", "dup_keys.yaml", "python_tag.yaml", "impossible_date.yaml",
                 "unhashable_key.yaml", "int_2_70.yaml", "recursive_alias.yaml"):
        test_malformed_corpus(name)


def test_load_yaml_for_rule_files_raises_on_the_first_bad_document():
    assert load_yaml("a: 1\n---\nb: [1, 2]\n", "r.yaml")[1][1] == {"b": [1, 2]}
    with pytest.raises(InputError) as e:
        load_yaml("a: 1\na: 2\n", "r.yaml")
    assert e.value.problems[0].code == "Y006" and e.value.problems[0].line == 2


def test_merge_keys_and_anchors_still_work():
    (doc,) = list(iter_yaml("base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\nl: *b\n", "m.yaml"))
    assert doc.data == {"base": {"x": 1}, "m": {"x": 1, "y": 2}, "l": {"x": 1}}


def test_every_bundled_case_says_where_it_comes_from():
    for l in load_cases([ROOT / "cases"]):
        assert l.ok and l.case.origin is not None, l.source
        real = "/seeds/" in l.source or "/real/" in l.source      # seed letters and published IRO decisions
        assert l.case.origin.outcome == ("real" if real else "written"), l.source


def test_request_exposes_range_hours_and_reading():
    (l,) = load_text(json.dumps({"id": "r", "jurisdiction": "CA", "requests": [
        {"id": "1", "service": "work_hardening", "text": "work hardening x 10 sessions, 8 hours per day"},
        {"id": "2", "service": "physical_therapy", "text": "PT 2-3x/wk x 4-6 wks"}]}), "r.json", "json")
    wh, pt = l.case.requests
    assert (wh.visits, wh.hours, wh.hours_per_day) == (10, 80, 8)
    assert (pt.visits, pt.visits_range, pt.frequency_per_week, pt.duration_weeks) == (18, (8, 18), 3, 6)
    assert pt.reading == 'text: "2-3x/wk x 4-6 wks" -> 8-18 visits'


@pytest.mark.parametrize("req", [
    {"id": "1", "service": "work_hardening", "text": "Work hardening 80 hours, 8 hours per day"},
    {"id": "1", "service": "work_hardening", "hours": 80, "hours_per_day": 8},
])
def test_hours_over_hours_per_day_are_the_sessions(req):
    (l,) = load_text(json.dumps({"id": "h", "jurisdiction": "TX", "requests": [req]}), "h.json", "json")
    r = l.case.requests[0]
    assert (r.visits, r.hours, r.hours_per_day) == (10, 80, 8)
    assert r.reading == "hours / hours per day: 80 / 8 -> 10 sessions"


def test_hours_alone_give_no_sessions():
    (l,) = load_text(json.dumps({"id": "h", "jurisdiction": "TX", "requests": [
        {"id": "1", "service": "work_hardening", "text": "80 hours of work hardening"}]}), "h.json", "json")
    assert (l.case.requests[0].visits, l.case.requests[0].hours) == (None, 80)


def test_an_injury_after_the_review_is_an_error_not_a_negative_age():
    (l,) = load_text(json.dumps({"id": "d", "jurisdiction": "TX", "injury_date": "2015-09-01",
                                 "review": {"date": "2015-05-10"},
                                 "requests": [{"id": "1", "service": "work_hardening", "visits": 10}]}), "d.json", "json")
    assert not l.ok and "injury_date is after review.date" in str(l.problems[0])


# --- through the command line -------------------------------------------------------------------

def _run(*args):
    return subprocess.run([sys.executable, "-m", "ptcheck.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_cli_on_the_whole_corpus_exits_1_without_a_traceback():
    r = _run("check", str(CORPUS), "--json")
    assert r.returncode == 1, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr.lower()
    decisions = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(decisions) == sum(e["valid"] for e in EXPECTED.values())
    assert "case(s) not checked: invalid input" in r.stderr
    assert not any(w in r.stderr for w in PHI) and "\x1b" not in r.stderr


def test_cli_exit_2_for_a_missing_file():
    r = _run("check", str(CORPUS / "no-such-file.yaml"), "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr
