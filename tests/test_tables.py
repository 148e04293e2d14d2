"""Decision tables (hit policies run in durable_rules), rule-set `applies_when`, editions that extend
another, and the table lint (gaps, overlaps), on small rule libraries written here and on the shipped rules."""
import shutil
import textwrap
from pathlib import Path

import pytest

from ptcheck import Checker, Library, parse_ruleset, validate_case
from ptcheck.authoring._catalog import rule_source
from ptcheck.authoring._diff import rule_changes
from ptcheck.authoring._lint import errors, lint_paths
from ptcheck.authoring._ruletest import load_tests, run_all
from tests.conftest import ROOT

HEAD = """\
id: {id}
version: "{version}"
title: tables under test
jurisdictions: {{CA: primary}}
guideline: {{name: G, edition: "1"}}
effective_from: 2010-01-01
scope: {{services: [physical_therapy]}}
"""

TABLES = HEAD.format(id="t.tables", version="1") + """\
applies_when: "functional_improvement != false"
tables:
  - id: t.first
    hit: first
    inputs: [surgery_kind, dx_categories]
    outputs: [first_visits]
    citation: {section: First}
    rows:
      - {id: fusion, surgery_kind: fusion, first_visits: 3, message: "fusion row"}
      - {id: myalgia, dx_categories: myalgia, first_visits: 6, message: "myalgia row"}
      - {id: otherwise, first_visits: 9, message: "any other diagnosis"}
  - id: t.max
    hit: collect-max
    by: [max_visits, max_weeks]
    inputs: [dx_categories]
    outputs: [max_visits, max_weeks, max_row]
    label: max_row
    citation: {section: Max}
    rows:
      - {id: myalgia, dx_categories: myalgia, max_visits: 10, max_weeks: 8, label: "myalgia 10/8", message: "m"}
      - {id: neuritis, dx_categories: [neuritis, lumbar_radiculitis], max_visits: 10, max_weeks: 4, label: "neuritis 10/4", message: "n"}
      - {id: crps, dx_categories: crps, max_visits: 24, max_weeks: 16, label: "crps 24/16", message: "c",
         citation: {pages: "99"}}
  - id: t.min
    hit: collect-min
    by: [min_visits]
    inputs: [dx_categories]
    outputs: [min_visits]
    citation: {section: Min}
    rows:
      - {id: myalgia, dx_categories: myalgia, min_visits: 10, message: "m"}
      - {id: neuritis, dx_categories: neuritis, min_visits: 8, message: "n"}
      - {id: crps, dx_categories: crps, min_visits: 24, message: "c"}
rules:
  - id: t.limit
    when: "request_visits > first_visits"
    then: {limit: first_visits}
    message: "at most {first_visits}"
    citation: {section: Limit}
"""


def _library(tmp_path: Path, files: dict[str, str]) -> Library:
    root = tmp_path / "rules"
    root.mkdir()
    shutil.copy(ROOT / "rules" / "diagnoses.yaml", root / "diagnoses.yaml")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return Library.load(root)


def _item(lib: Library, icd9: list[str], surgery: str | None = None, visits: int = 12, improvement=None):
    case = {"id": "c", "jurisdiction": "CA", "review": {"kind": "ur", "date": "2014-07-01"},
            "diagnoses": [{"icd9": c} for c in icd9],
            "requests": [{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": visits}],
            "history": {"therapy": []}}
    if surgery:
        case["history"]["surgeries"] = [{"kind": surgery, "region": "lumbar", "date": "2010-01-01"}]
    if improvement is not None:
        case["history"]["documentation"] = {"functional_improvement": improvement}
    return Checker(lib).check(validate_case(case).case).items[0]


def _fired(item, prefix: str) -> list[str]:
    return [f.rule for f in item.findings if f.rule.startswith(prefix)]


@pytest.fixture()
def lib(tmp_path):
    return _library(tmp_path, {"t.yaml": TABLES})


def test_first_policy_takes_the_first_matching_row_and_treats_unknown_as_not_matching(lib):
    assert _fired(_item(lib, ["729.1"], surgery="fusion"), "t.first.") == ["t.first.fusion"]
    # no surgery: surgery_kind is unknown, so the fusion row does not match and the myalgia row counts
    it = _item(lib, ["729.1"])
    assert _fired(it, "t.first.") == ["t.first.myalgia"]
    assert (it.outcome, it.certified_visits) == ("modify", 6)
    assert _fired(_item(lib, ["847.2"]), "t.first.") == ["t.first.otherwise"]


def test_collect_max_keeps_one_row_with_its_outputs_together(lib):
    it = _item(lib, ["729.1", "729.2"])                 # myalgia 10/8 and neuritis 10/4: the tie breaks on weeks
    assert _fired(it, "t.max.") == ["t.max.myalgia"]
    it = _item(lib, ["729.2", "337.22", "729.1"])
    assert _fired(it, "t.max.") == ["t.max.crps"]
    row = next(f for f in it.findings if f.rule == "t.max.crps")
    assert row.figures["max_row"] == "crps 24/16"       # the row label in the rationale
    assert "Max, p. 99" in row.citation                 # row citation merged over the table's


def test_collect_min_keeps_the_smallest_row(lib):
    assert _fired(_item(lib, ["729.1", "729.2", "337.22"]), "t.min.") == ["t.min.neuritis"]
    assert _fired(_item(lib, ["729.1", "337.22"]), "t.min.") == ["t.min.myalgia"]


def test_applies_when_holds_for_every_rule_and_row(lib):
    it = _item(lib, ["729.1"], improvement=False)
    assert not [f for f in it.findings if f.rule.startswith("t.")]
    assert it.outcome == "pend"
    rs = lib.get("t.tables")
    assert all(r.when.startswith("(functional_improvement != false) and (") for r in rs.spec.rules)


def test_rows_compile_to_durable_rules_with_guards_in_the_first_pattern(lib):
    from ptcheck.core._compile import compile_ruleset
    rs = lib.get("t.tables")
    compiled = compile_ruleset(rs)
    otherwise = next(cr for cr in compiled.rules if cr.rule.id == "t.first.otherwise")
    assert len(otherwise.patterns) == 1                 # guards are on case facts: no joined pattern
    assert rs.rows["t.first.otherwise"].guarded_by == ["t.first.fusion", "t.first.myalgia"]
    assert "surgery_kind == unknown" in otherwise.rule.when
    assert rs.rows["t.max.myalgia"].guarded_by == ["t.max.crps"]    # neuritis ranks below myalgia (weeks)


def test_a_row_that_can_never_count_is_refused(tmp_path):
    text = HEAD.format(id="t.dead", version="1") + """\
tables:
  - id: t.dead
    hit: first
    inputs: [dx_categories]
    outputs: [v]
    citation: {section: S}
    rows:
      - {id: wide, dx_categories: [myalgia, neuritis], v: 1, message: a}
      - {id: narrow, dx_categories: myalgia, v: 2, message: b}
"""
    rs, problems = parse_ruleset(text, tmp_path / "dead.yaml")
    assert rs is None
    (p,) = [p for p in problems if p.code == "R133"]
    assert p.line == text.splitlines().index("      - {id: narrow, dx_categories: myalgia, v: 2, message: b}") + 1
    assert "t.dead.narrow" in p.message



def test_a_by_cell_that_is_not_a_number_is_reported_at_its_row(tmp_path):
    text = HEAD.format(id="t.by", version="1") + """\
tables:
  - id: t.by
    hit: collect-max
    by: [v]
    inputs: [dx_categories]
    outputs: [v]
    citation: {section: S}
    rows:
      - {id: one, dx_categories: myalgia, v: 1, message: a}
      - id: two
        dx_categories: neuritis
        v: "nine"
        message: b
      - {id: three, dx_categories: crps, message: c}
"""
    rs, problems = parse_ruleset(text, tmp_path / "by.yaml")
    assert rs is None
    lines = text.splitlines()
    bad = sorted((p.line, p.column, p.message) for p in problems if p.code == "R104")
    assert bad == [(lines.index('        v: "nine"') + 1, 12,
                    "row 2 of table t.by: v is 'nine'; a `by` output of a collect-min / collect-max table is a "
                    "number in every row"),
                   (lines.index("      - {id: three, dx_categories: crps, message: c}") + 1, 9,
                    "row 3 of table t.by: v is null (or no value); a `by` output of a collect-min / collect-max table is a "
                    "number in every row")]


def test_a_count_of_visits_or_weeks_that_is_negative_or_fractional_is_refused_at_its_cell(tmp_path):
    text = HEAD.format(id="t.count", version="1") + """\
tables:
  - id: t.count
    hit: first
    inputs: [dx_categories]
    outputs: [t_visits, t_weeks, ratio]
    citation: {section: S}
    rows:
      - {id: one, dx_categories: myalgia, t_visits: 10.5, t_weeks: 8, ratio: 0.5, message: a}
      - {id: two, dx_categories: neuritis, t_visits: 6, t_weeks: -3, ratio: -1, message: b}
"""
    rs, problems = parse_ruleset(text, tmp_path / "count.yaml")
    assert rs is None
    lines = text.splitlines()
    bad = sorted((p.line, p.message.split(": ", 1)[1]) for p in problems if p.code == "R104")
    assert bad == [(lines.index("      - {id: one, dx_categories: myalgia, t_visits: 10.5, t_weeks: 8, "
                                "ratio: 0.5, message: a}") + 1,
                    "t_visits is 10.5; a number of visits or weeks is a whole number, 0 or more"),
                   (lines.index("      - {id: two, dx_categories: neuritis, t_visits: 6, t_weeks: -3, "
                                "ratio: -1, message: b}") + 1,
                    "t_weeks is -3; a number of visits or weeks is a whole number, 0 or more")]

PLANTED = HEAD.format(id="t.planted", version="1") + """\
tables:
  - id: t.course
    hit: unique
    complete: true
    inputs: [surgery_kind, functional_improvement]
    outputs: [course_visits_x]
    citation: {section: S}
    rows:
      - {id: fusion, surgery_kind: fusion, course_visits_x: 34, message: fusion}
      - {id: other, surgery_kind: [meniscectomy, fusion], functional_improvement: true, course_visits_x: 12, message: m}
rules:
  - id: t.within
    when: "request_visits <= course_visits_x"
    then: {certify: true}
    message: ok
    citation: {section: S}
"""


def test_lint_reports_a_planted_gap_and_a_planted_overlap_at_their_lines(tmp_path):
    f = tmp_path / "planted.yaml"
    f.write_text(PLANTED)
    lines = PLANTED.splitlines()
    problems = errors(lint_paths([f]))
    overlap = [p for p in problems if p.code == "R132"]
    gaps = [p for p in problems if p.code == "R131"]
    assert len(overlap) == 1
    o = overlap[0]
    assert (o.line, o.column) == (lines.index("      - {id: other, surgery_kind: [meniscectomy, fusion], "
                                              "functional_improvement: true, course_visits_x: 12, message: m}") + 1, 9)
    assert "t.course.fusion" in o.message and "t.course.other" in o.message and "surgery_kind = fusion" in o.message
    assert gaps and all((g.line, g.column) == (lines.index("    complete: true") + 1, 15) for g in gaps)
    assert any("surgery_kind = meniscectomy, functional_improvement = false" in g.message for g in gaps)
    assert str(f) == o.file


def test_a_complete_first_table_with_a_blank_last_row_has_no_gap_and_first_never_reports_overlap(tmp_path):
    text = PLANTED.replace("hit: unique", "hit: first").replace(
        "message: m}\n", "message: m}\n      - {id: rest, course_visits_x: 1, message: r}\n", 1)
    f = tmp_path / "first.yaml"
    f.write_text(text)
    assert not [p for p in lint_paths([f]) if p.code in ("R131", "R132")]


def test_shipped_tables_lint_clean_and_unique_tables_have_no_overlap():
    for path in ["odg/low-back/physical-therapy.yaml", "odg/neck/physical-therapy.yaml", "odg/knee/physical-therapy.yaml",
                 "odg/shoulder/physical-therapy.yaml", "mtus/postsurgical-2009/physical-medicine.yaml"]:
        rs, problems = parse_ruleset((ROOT / "rules" / path).read_text(), ROOT / "rules" / path)
        assert rs is not None and rs.spec.tables, path
        assert not errors(lint_paths([ROOT / "rules" / path])), path


def test_priority_is_no_longer_a_key():
    text = HEAD.format(id="t.p", version="1") + """\
rules:
  - {id: a, when: "request_visits > 1", then: {certify: true}, message: m, citation: {section: S}, priority: 5}
"""
    rs, problems = parse_ruleset(text, "p.yaml")
    assert [p.code for p in problems] == ["R101"] and "priority" in problems[0].message


def test_a_condition_error_is_placed_in_the_rule_not_in_the_applies_when_prefix(tmp_path):
    text = HEAD.format(id="t.pos", version="1") + """\
applies_when: "functional_improvement != false"
rules:
  - id: a
    when: "request_visits > 1 and totl_visits > 2"
    then: {certify: true}
    message: m
    citation: {section: S}
"""
    f = tmp_path / "pos.yaml"
    f.write_text(text)
    (p,) = [p for p in errors(lint_paths([f])) if p.code == "R110"]
    assert (p.line, p.column) == (11, 12 + len("request_visits > 1 and "))     # after the opening quote
    f.write_text(text.replace('applies_when: "functional_improvement != false"', 'applies_when: "functonal_improvement != false"'))
    (p,) = [p for p in errors(lint_paths([f])) if p.code == "R110"]
    assert p.line == 8


# ---------------------------------------------------------------------------------------------
# editions

BASE = HEAD.format(id="t.ed", version="1") + """\
effective_to: 2012-12-31
tables:
  - id: t.ed.row
    hit: collect-max
    by: [ed_visits]
    inputs: [dx_categories]
    outputs: [ed_visits]
    citation: {section: Table, pages: "10"}
    rows:
      - {id: myalgia, dx_categories: myalgia, ed_visits: 10, message: "myalgia {ed_visits}"}
      - {id: neuritis, dx_categories: neuritis, ed_visits: 8, message: "neuritis {ed_visits}"}
rules:
  - id: t.ed.over
    when: "request_visits > ed_visits"
    then: {limit: ed_visits}
    message: "over {ed_visits}"
    citation: {section: Over, pages: "11"}
  - id: t.ed.note
    when: "request_visits > 20"
    then: {note: true}
    message: "long"
    citation: {section: Note, pages: "12"}
"""
BASE_TESTS = """\
tests:
  - name: myalgia 12 is modified to 10
    case:
      diagnoses: [{icd9: "729.1"}]
      requests: [{id: "1", service: physical_therapy, body_regions: [lumbar], visits: 12}]
      history: {therapy: []}
    expect: {outcome: modify, certified_visits: 10, fired: [t.ed.row.myalgia, t.ed.over]}
  - name: a long request is noted
    case:
      diagnoses: [{icd9: "729.1"}]
      requests: [{id: "1", service: physical_therapy, body_regions: [lumbar], visits: 24}]
      history: {therapy: []}
    expect: {outcome: modify, fired: [t.ed.note]}
"""
EDITION = """\
version: "2"
extends: t.ed@1
effective_from: 2013-01-01
guideline: {edition: "2"}
remove: [t.ed.note]
change:
  "*": {citation: {pages: null}}
  t.ed.row.myalgia: {ed_visits: 12, message: "myalgia (2013) {ed_visits}"}
rules:
  - id: t.ed.within
    when: "request_visits <= ed_visits"
    then: {certify: true}
    message: "within {ed_visits}"
    citation: {section: Within}
"""
EDITION_TESTS = """\
remove: [a long request is noted]
tests:
  - name: myalgia 12 is modified to 10
    case:
      diagnoses: [{icd9: "729.1"}]
      requests: [{id: "1", service: physical_therapy, body_regions: [lumbar], visits: 12}]
      history: {therapy: []}
    expect: {outcome: certify, fired: [t.ed.row.myalgia, t.ed.within], silent: [t.ed.over]}
"""


@pytest.fixture()
def editions(tmp_path):
    return _library(tmp_path, {"ed/one.yaml": BASE, "ed/one.tests.yaml": BASE_TESTS,
                               "ed2/one.yaml": EDITION, "ed2/one.tests.yaml": EDITION_TESTS})


def test_an_edition_inherits_and_states_only_its_changes(editions):
    old, new = editions.get("t.ed@1"), editions.get("t.ed@2")
    assert new.id == "t.ed" and new.spec.guideline.edition == "2" and new.spec.guideline.name == "G"
    assert new.spec.effective_to is None                        # dates are never inherited
    assert [r.id for r in new.spec.rules] == ["t.ed.row.myalgia", "t.ed.row.neuritis", "t.ed.over", "t.ed.within"]
    assert all(r.citation is None or r.citation.pages is None for r in new.spec.rules)
    assert new.rows["t.ed.row.myalgia"].row["ed_visits"] == 12
    set_changes, changes = rule_changes(old, new)
    kinds = {c.rule: c.kind for c in changes}
    assert kinds == {"t.ed.row.myalgia": "changed", "t.ed.row.neuritis": "changed", "t.ed.over": "changed",
                     "t.ed.within": "added", "t.ed.note": "removed"}
    assert set(next(c for c in changes if c.rule == "t.ed.over").changes) == {"citation"}
    assert {"version", "effective_from", "effective_to", "guideline"} <= set(set_changes)


def test_explain_says_where_each_rule_came_from(editions):
    new = editions.get("t.ed@2")
    idx = {r.id: i for i, r in enumerate(new.spec.rules)}
    assert "changed here, from t.ed@1" in rule_source(new, idx["t.ed.row.myalgia"])
    assert "ed_visits: 12" in rule_source(new, idx["t.ed.row.myalgia"])
    src = rule_source(new, idx["t.ed.over"])
    assert "changed here, from t.ed@1" in src and "- id: t.ed.over" in src       # the '*' change, then the 2009 text
    assert "added in this edition" in rule_source(new, idx["t.ed.within"])


def test_edition_tests_are_inherited_replaced_and_removed(editions):
    new = editions.get("t.ed@2")
    tests, problems = load_tests(new)
    assert not problems
    assert [t.spec.name for t in tests] == ["myalgia 12 is modified to 10"]
    assert tests[0].ruleset is new and tests[0].file.parent.name == "ed2"
    results, cov, problems = run_all(editions)
    assert not problems and all(r.passed for r in results), [r.failures for r in results if not r.passed]


def test_an_edition_with_only_inherited_tests_runs_them_against_itself(tmp_path):
    lib = _library(tmp_path, {"ed/one.yaml": BASE, "ed/one.tests.yaml": BASE_TESTS,
                              "ed2/one.yaml": "version: '2'\nextends: t.ed@1\neffective_from: 2013-01-01\n"
                                              "change: {t.ed.over: {notes: reworded}}\n"})
    tests, _ = load_tests(lib.get("t.ed@2"))
    assert len(tests) == 2 and all(t.ruleset.version == "2" for t in tests)


def test_lint_warns_on_an_edition_that_changes_nothing_and_errs_on_unknown_ids(tmp_path):
    root = tmp_path / "rules"
    _library(tmp_path, {"ed/one.yaml": BASE, "ed/one.tests.yaml": BASE_TESTS})
    same = root / "ed2/one.yaml"
    same.parent.mkdir()
    same.write_text("version: '2'\nextends: t.ed@1\neffective_from: 2013-01-01\n")
    (w,) = [p for p in lint_paths([same], root) if p.code == "R212"]
    assert w.severity == "warning" and (w.line, w.column) == (2, 10)
    same.write_text("version: '2'\nextends: t.ed@1\neffective_from: 2013-01-01\nremove: [t.ed.nope]\n")
    (e,) = [p for p in errors(lint_paths([same], root))]
    assert (e.code, e.line) == ("R211", 4) and "t.ed.note" in (e.suggestion or "") + e.message or e.code == "R211"
    same.write_text("version: '2'\nextends: t.ed@7\neffective_from: 2013-01-01\n")
    (e,) = errors(lint_paths([same], root))
    assert (e.code, e.line, e.column) == ("R210", 2, 10)


# ---------------------------------------------------------------------------------------------
# the shipped editions

CP = ("aquatic-therapy", "manual-therapy", "massage", "medications", "physical-medicine", "work-conditioning")


@pytest.mark.parametrize("name", CP)
def test_shipped_2016_and_2017_extend_2009_and_2016_changes_only_citations(name):
    lib = Library.load()
    old = next(r for r in lib.rulesets if r.path == ROOT / f"rules/mtus/chronic-pain-2009/{name}.yaml")
    for edition in ("2016", "2017"):
        rs = next(r for r in lib.rulesets if r.path == ROOT / f"rules/mtus/chronic-pain-{edition}/{name}.yaml")
        assert rs.spec.extends == old.key and rs.base is not None and rs.base.key == old.key
    new = next(r for r in lib.rulesets if r.path == ROOT / f"rules/mtus/chronic-pain-2016/{name}.yaml")
    assert [r.id for r in new.spec.rules] == [r.id for r in old.spec.rules]
    for a, b in zip(old.spec.rules, new.spec.rules):
        assert (a.when, a.then, a.message) == (b.when, b.then, b.message)
        assert b.citation is None or b.citation.pages is None
    _, changes = rule_changes(old, new)
    assert all(set(c.changes) <= {"citation", "missing"} for c in changes)


def test_a_rule_may_leave_out_when_only_under_applies_when(tmp_path):
    text = HEAD.format(id="t.aw", version="1") + """\
applies_when: "functional_improvement != false"
rules:
  - {id: a, then: {certify: true}, message: m, citation: {section: S}}
"""
    rs, problems = parse_ruleset(text, tmp_path / "aw.yaml")
    assert not problems and rs.spec.rules[0].when == "functional_improvement != false"
    rs, problems = parse_ruleset(text.replace('applies_when: "functional_improvement != false"\n', ""), tmp_path / "aw.yaml")
    assert rs is None and [p.code for p in problems] == ["R102"] and problems[0].line == 9


def test_shipped_2017_physical_medicine_states_the_postsurgical_exclusion_once():
    rs = Library.load().get("mtus.cpmtg.physical-medicine@2017.1")
    assert rs.spec.applies_when == "in_postsurgical_period != true"
    assert all(r.when.startswith("in_postsurgical_period != true") or r.when.startswith("(in_postsurgical_period != true)")
               for r in rs.spec.rules)


def test_every_guideline_row_of_visits_or_weeks_is_a_table_row():
    """A rule that sets a visit or week count to a number of the guideline is a row of a table (issue 8):
    the MTUS pp. 98-99 rows, the aquatic rows that repeat them, and the ODG post-injection rows included."""
    lib = Library.load()
    loose = [(rs.key, r.id) for rs in lib.rulesets for r in rs.spec.rules if r.then.derive and r.id not in rs.rows
             and any(k.endswith(("_visits", "_weeks")) and isinstance(v, (int, float)) for k, v in r.then.derive.items())]
    assert loose == []
    pm = lib.get("mtus.cpmtg.physical-medicine@2009.1")
    assert [(r.id, r.then.derive["course_visits"], r.then.derive["course_weeks"]) for r in pm.spec.rules
            if r.id in pm.rows] == [("pm.course.crps", 24, 16), ("pm.course.neuritis", 10, 4), ("pm.course.myalgia", 10, 8)]
    for key, row in [("odg.low-back.pt@2007.1", "lb.pi.disc"), ("odg.neck.pt@2007.1", "nk.pi.disc")]:
        rs = lib.get(key)
        assert row in rs.rows and rs.rows[row].table.export
        assert "UNCONFIRMED-M" in rs.rows[row].row["notes"] or "[C1] S29" in rs.rows[row].row["notes"]


@pytest.mark.parametrize("path", ["mtus/chronic-pain-2009/physical-medicine.yaml", "mtus/chronic-pain-2009/aquatic-therapy.yaml"])
def test_mtus_course_rows_are_a_first_table_whose_last_row_is_every_other_diagnosis(path):
    rs, problems = parse_ruleset((ROOT / "rules" / path).read_text(), ROOT / "rules" / path)
    assert rs is not None and not errors(problems)
    (t,) = rs.written.tables
    assert (t.hit, [r["id"] for r in t.rows]) == ("first", ["crps", "neuritis", "myalgia"])
    when = {r.id.rsplit(".", 1)[1]: r.when for r in rs.spec.rules if r.id in rs.rows}
    assert when["myalgia"] == ("(in_postsurgical_period != true) and "
                               "(('crps' not in dx_groups) and ('radicular' not in dx_groups))")
    assert when["neuritis"] == ("(in_postsurgical_period != true) and "
                                "(('radicular' in dx_groups) and ('crps' not in dx_groups))")
    assert not errors(lint_paths([ROOT / "rules" / path]))


# ---------------------------------------------------------------------------------------------
# one conflict policy: exported facts combine across rule sets as rows do within a table

def test_exported_rows_combine_whole_under_collect_max():
    """The row that counts sets all its outputs: a row with fewer visits but more weeks does not lend its
    weeks (or its label) to the row that counts, as a largest-per-number merge would."""
    from ptcheck.core._tables import merge_exports
    types = {"course_visits": "int", "course_weeks": "int", "course_row": "str"}
    pol = {k: ("collect-max", ("course_visits", "course_weeks")) for k in types}
    values: dict = {}
    values.update(merge_exports(values, {"course_visits": 12, "course_weeks": 8, "course_row": "radiculitis 12/8"}, types, pol))
    values.update(merge_exports(values, {"course_visits": 10, "course_weeks": 10, "course_row": "curvature 10/10"}, types, pol))
    assert values == {"course_visits": 12, "course_weeks": 8, "course_row": "radiculitis 12/8"}
    values.update(merge_exports(values, {"course_visits": 12, "course_weeks": 10, "course_row": "other 12/10"}, types, pol))
    assert values == {"course_visits": 12, "course_weeks": 10, "course_row": "other 12/10"}
    # ties keep the row set first; collect-min keeps the smallest
    assert merge_exports(values, {"course_visits": 12, "course_weeks": 10, "course_row": "tie"}, types, pol) == {}
    low = {k: ("collect-min", ("course_visits", "course_weeks")) for k in types}
    assert merge_exports(values, {"course_visits": 9, "course_weeks": 20, "course_row": "9/20"}, types, low) == \
        {"course_visits": 9, "course_weeks": 20, "course_row": "9/20"}


def test_exports_without_a_collect_policy_keep_the_first_known_value():
    from ptcheck.core._tables import merge_exports
    types = {"flag": "tri", "word": "str"}
    values = {"flag": "unknown"}
    values.update(merge_exports(values, {"flag": True}, types))
    assert values["flag"] == "true"
    assert merge_exports(values, {"flag": False}, types) == {}
    assert merge_exports({"word": "a"}, {"word": "b"}, types) == {}


def test_shipped_exports_have_one_policy_each():
    from ptcheck.core._tables import export_policies
    policies, conflicts = export_policies(Library.load().rulesets)
    assert conflicts == []
    assert policies["course_visits"] == policies["course_row"] == ("collect-max", ("course_visits", "course_weeks"))
    assert policies["ps_course_visits"] == ("collect-max", ("ps_course_visits", "ps_course_weeks"))
    assert policies["pi_course_visits"] == ("collect-max", ("pi_course_visits", "pi_course_weeks"))
    assert policies["in_postsurgical_period"] == ("first", ())


def test_lint_refuses_one_exported_fact_under_two_policies(tmp_path):
    root = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", root)
    f = root / "odg/neck/physical-therapy.yaml"
    text = f.read_text()
    assert text.count("    hit: collect-max\n    by: [pi_course_visits, pi_course_weeks]\n") == 1
    f.write_text(text.replace("    hit: collect-max\n    by: [pi_course_visits, pi_course_weeks]\n",
                              "    hit: collect-min\n    by: [pi_course_visits, pi_course_weeks]\n"))
    problems = [p for p in lint_paths([f], root=root) if p.code == "R305"]
    assert problems and all(p.severity == "error" and p.file == str(f) for p in problems)
    lines = f.read_text().splitlines()
    assert {p.line for p in problems} == {lines.index("      - id: disc", lines.index("  - id: nk.pi")) + 1}
    assert "hit collect-min" in problems[0].message and "lb.pi.disc" in problems[0].message


def test_an_edition_whose_base_has_errors_says_the_base_does_not_load(tmp_path):
    """Not 'no rule set X ... did you mean X': the base is there, it does not load."""
    root = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", root)
    base = root / "mtus/chronic-pain-2009/physical-medicine.yaml"
    base.write_text(base.read_text().replace("    hit: first ", "    hit: collect-max\n    by: [course_visits, course_weeks]\n   ", 1))
    child = root / "mtus/chronic-pain-2016/physical-medicine.yaml"
    problems = [p for p in lint_paths([child], root=root) if p.code == "R210"]
    assert [p.message for p in problems] == [f"extends: mtus.cpmtg.physical-medicine@2009.1 ({base}) does not load"]
    assert problems[0].line == 3
    assert any(p.code == "R133" and p.file == str(base) for p in lint_paths([base], root=root))
