"""Rule authoring: lint with line numbers, rule tests and coverage from the CLI, diffs with impact,
explain, the rules catalogue kept current, two versions side by side."""
import json
import shutil

import pytest
from typer.testing import CliRunner

from ptcheck import Checker, Library, validate_case
from ptcheck.authoring._catalog import markdown
from ptcheck.authoring._lint import errors, lint_paths
from ptcheck.cli import app
from tests.conftest import ROOT, case_dict

runner = CliRunner()
PM = ROOT / "rules/mtus/chronic-pain-2009/physical-medicine.yaml"

BAD = """\
id: t.bad
version: "1"
title: bad
jurisdictions: {CA: primary}
guideline: {name: G, edition: "1"}
effective_from: 2010-01-01
scope: {services: [physical_therapy]}
rules:
  - id: a
    when: "request_visits > 10 and totl_visits > 2"
    then: {certify: true}
    mesage: "x"
    message: "m"
"""


def test_misspelt_key_unknown_fact_missing_citation_three_errors_with_positions(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(BAD)
    errs = errors(lint_paths([f]))
    got = sorted((p.code, p.line, p.column) for p in errs)
    assert got == [("R101", 12, 5), ("R103", 9, 5), ("R110", 10, 36)], errs
    r = runner.invoke(app, ["rules", "lint", str(f)])
    assert r.exit_code == 1
    assert f"{f}:10:36: R110 unknown fact 'totl_visits'" in r.stdout
    assert "did you mean 'total_visits'?" in r.stdout and "did you mean 'message'?" in r.stdout


@pytest.mark.parametrize("rule,code", [
    ('  - {id: a, when: "request_visits > 10 and request_visits < 5", then: {pend: true}, message: m, citation: {section: s}}\n', "R301"),
    ('  - {id: a, when: "service == \'x\' and service == \'y\'", then: {pend: true}, message: m, citation: {section: s}}\n', "R301"),
    ('  - {id: a, when: "request_visits > 3", then: {certify: true}, message: m, citation: {section: s}}\n'
     '  - {id: b, when: "request_visits > 3", then: {non_certify: true}, message: m, citation: {section: s}}\n', "R302"),
    ('  - {id: a, when: "request_visits > 3", then: {certify: true}, message: m, citation: {section: s}}\n'
     '  - {id: a, when: "request_visits > 4", then: {certify: true}, message: m, citation: {section: s}}\n', "R202"),
    ('  - {id: a, when: "request_visits > 3", then: {certify: true}, message: "m {nope}", citation: {section: s}}\n', "R303"),
    ('  - {id: a, when: "request_visits > 3", then: {limit: "nope - 1"}, message: m, citation: {section: s}}\n', "R111"),
    ('  - {id: a, when: "request_visits > \'ten\'", then: {certify: true}, message: m, citation: {section: s}}\n', "R110"),
    ('  - {id: a, when: "not request_visits > 3", then: {certify: true}, message: m, citation: {section: s}}\n', "R110"),
    ('  - {id: a, when: "request_visits > 3", then: {sertify: true}, message: m, citation: {section: s}}\n', "R101"),
])
def test_lint_codes(tmp_path, rule, code):
    f = tmp_path / "r.yaml"
    f.write_text(BAD.split("rules:")[0] + "rules:\n" + rule)
    codes = {p.code for p in errors(lint_paths([f]))}
    assert code in codes, lint_paths([f])


def test_overlapping_effective_dates(tmp_path):
    a = BAD.split("rules:")[0].replace("effective_from: 2010-01-01", "effective_from: 2010-01-01\neffective_to: 2015-01-01")
    b = a.replace('version: "1"', 'version: "2"').replace("2010-01-01", "2014-06-01").replace("2015-01-01", "2020-01-01")
    rule = '  - {id: a, when: "request_visits > 3", then: {certify: true}, message: m, citation: {section: s}}\n'
    (tmp_path / "a.yaml").write_text(a + "rules:\n" + rule)
    (tmp_path / "b.yaml").write_text(b + "rules:\n" + rule)
    assert "R201" in {p.code for p in lint_paths([tmp_path])}


def test_shipped_rules_lint_clean():
    r = runner.invoke(app, ["rules", "lint", "--json"])
    problems = json.loads(r.stdout)
    assert r.exit_code == 0 and not [p for p in problems if p["severity"] == "error"], problems


def test_rules_schema_command():
    r = runner.invoke(app, ["schema", "rules"])
    s = json.loads(r.stdout)
    assert r.exit_code == 0 and "rules" in s["properties"] and s["additionalProperties"] is False


def test_rules_test_cli_runs_and_reports_failures_with_a_diff(tmp_path):
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    tests = tmp_path / "rules/mtus/chronic-pain-2009/physical-medicine.tests.yaml"
    tests.write_text(tests.read_text().replace("outcome: certify, certified_visits: 6", "outcome: modify, certified_visits: 6", 1))
    r = runner.invoke(app, ["rules", "test", "mtus.cpmtg.physical-medicine", "--rules", str(tmp_path / "rules")])
    assert r.exit_code == 1
    assert "FAIL" in r.stdout and "-outcome: modify" in r.stdout and "+outcome: certify" in r.stdout


def test_rules_test_coverage_fails_when_a_rule_loses_its_test(tmp_path):
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    tests = tmp_path / "rules/mtus/chronic-pain-2009/physical-medicine.tests.yaml"
    kept = [blk for blk in tests.read_text().split("\n  - name: ") if "four visits a week" not in blk]
    tests.write_text("\n  - name: ".join(kept))
    r = runner.invoke(app, ["rules", "test", "mtus.cpmtg.physical-medicine", "--coverage", "--json",
                            "--rules", str(tmp_path / "rules")])
    doc = json.loads(r.stdout)
    assert r.exit_code == 1
    assert {"ruleset": "mtus.cpmtg.physical-medicine@2009.1", "rule": "pm.frequency-over-3",
            "why": "never fires in a test"} in doc["coverage"]["gaps"]


def test_diff_names_the_change_and_exactly_the_cases_that_change(tmp_path):
    new = tmp_path / "pm.yaml"
    new.write_text(_myalgia_row(PM.read_text(), 20))
    r = runner.invoke(app, ["rules", "diff", "mtus.cpmtg.physical-medicine@2009.1", str(new), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert [c["rule"] for c in d["rules"]] == ["pm.course.myalgia"]
    assert d["rules"][0]["changes"]["then"][0]["derive"]["course_visits"] == 10
    assert d["rules"][0]["changes"]["then"][1]["derive"]["course_visits"] == 20
    # independently: which bundled cases change outcome when checked with each version
    lib = Library.load()
    from ptcheck.authoring._diff import _with, resolve
    a, b = _with(lib, resolve("mtus.cpmtg.physical-medicine@2009.1", lib)), _with(lib, resolve(str(new), lib))
    from ptcheck import load_cases
    expected = set()
    for loaded in load_cases([ROOT / "cases"]):
        if loaded.ok:
            for x, y in zip(a.check(loaded.case).items, b.check(loaded.case).items):
                if (x.outcome, x.certified_visits) != (y.outcome, y.certified_visits):
                    expected.add((loaded.case.id, x.request))
    assert {(i["case"], i["request"]) for i in d["impact"]} == expected
    assert ("seed-001", "1") in expected


def test_diff_of_identical_versions_has_no_impact():
    r = runner.invoke(app, ["rules", "diff", str(PM), "mtus.cpmtg.physical-medicine@2009.1", "--json"])
    d = json.loads(r.stdout)
    assert d["rules"] == [] and d["impact"] == []


def test_explain_shows_rule_citation_compiled_form_tests_and_cases():
    r = runner.invoke(app, ["rules", "explain", "pm.over-course-without-improvement"])
    assert r.exit_code == 0, r.output
    assert "pp. 98-99" in r.stdout and '"d_course_visits"' in r.stdout
    assert "seed 001 arithmetic" in r.stdout and "seed-001 [1]" in r.stdout


def test_explain_unknown_rule_suggests():
    r = runner.invoke(app, ["rules", "explain", "pm.over-cours"])
    assert r.exit_code == 2 and "did you mean 'pm.over-course'" in r.stderr


def test_rules_readme_is_current():
    assert (ROOT / "rules/README.md").read_text() == markdown(Library.load()), \
        "rules/README.md is stale: run `ptcheck rules list --markdown > rules/README.md`"


def _two_versions(tmp_path):
    root = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", root)
    old = root / "mtus/chronic-pain-2009/physical-medicine.yaml"
    text = old.read_text()
    new = root / "mtus/chronic-pain-2009/physical-medicine-2010.yaml"
    old.write_text(text.replace("effective_to: 2016-07-28", "effective_to: 2012-12-31"))
    new.write_text(text.replace('version: "2009.1"', 'version: "2013.1"')
                   .replace("effective_from: 2009-07-18", "effective_from: 2013-01-01"))
    new.write_text(_myalgia_row(new.read_text(), 14))
    return Library.load(root)


def _myalgia_row(text: str, visits: int) -> str:
    """The text of the 2009 physical medicine rule set with the myalgia row of table pm.course at `visits`."""
    row = "      - id: myalgia                       # every other diagnosis (blank cell), or none given\n" \
          "        course_visits: 10\n"
    assert text.count(row) == 1
    return text.replace(row, row.replace("course_visits: 10", f"course_visits: {visits}"))


def test_two_versions_coexist_and_the_review_date_picks_one(tmp_path):
    lib = _two_versions(tmp_path)
    checker = Checker(lib)
    d = case_dict(history={"therapy": [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 6}],
                           "documentation": {"functional_improvement": True}})
    d["requests"][0]["visits"] = 6
    before = validate_case({**d, "review": {"date": "2012-06-01"}}).case
    after = validate_case({**d, "review": {"date": "2014-06-01"}}).case
    db, da = checker.check(before), checker.check(after)
    assert [r.version for r in db.rulesets if r.id == "mtus.cpmtg.physical-medicine"] == ["2009.1"]
    assert [r.version for r in da.rulesets if r.id == "mtus.cpmtg.physical-medicine"] == ["2013.1"]
    assert (db.items[0].outcome, db.items[0].certified_visits) == ("modify", 4)      # 6 + 6 over 10
    assert (da.items[0].outcome, da.items[0].certified_visits) == ("certify", 6)     # within 14
    pinned = Checker(lib, {"mtus.cpmtg.physical-medicine": "2009.1"}).check(after)
    assert pinned.items[0].outcome == "modify"
    assert all(len(r.sha256) == 64 for r in da.rulesets)


def test_lint_cli_prints_a_planted_table_gap_and_overlap_as_file_line_column(tmp_path):
    from tests.test_tables import PLANTED
    f = tmp_path / "planted.yaml"
    f.write_text(PLANTED)
    res = runner.invoke(app, ["rules", "lint", str(f)])
    assert res.exit_code == 1
    assert f"{f}:11:15: R131 table t.course (complete): no row covers" in res.output
    assert f"{f}:17:9: R132 table t.course (hit unique): rows 1 (t.course.fusion) and 2 (t.course.other)" in res.output


def test_explain_cli_names_the_table_row_and_the_edition_a_rule_comes_from():
    res = runner.invoke(app, ["rules", "explain", "lb.row.lumbago", "--cases", str(ROOT / "cases/seeds")])
    assert res.exit_code == 0, res.output
    assert "row 8 of table lb.row" in res.output and "hit collect-max by course_visits, course_weeks" in res.output
    assert "row label: lumbago; backache: 9 visits over 8 weeks" in res.output
    res = runner.invoke(app, ["rules", "explain", "pm.within-course", "--cases", str(ROOT / "cases/seeds")])
    assert "in mtus.cpmtg.physical-medicine@2016.1" in res.output
    assert "changed here, from mtus.cpmtg.physical-medicine@2009.1" in res.output


def test_rules_test_takes_a_rule_file_path_and_refuses_an_unknown_name():
    by_id = runner.invoke(app, ["rules", "test", "odg.preface.physical-therapy", "--json"])
    by_path = runner.invoke(app, ["rules", "test", str(ROOT / "rules/odg/preface/physical-therapy.yaml"), "--json"])
    assert by_id.exit_code == by_path.exit_code == 0
    assert json.loads(by_path.stdout)["tests"] == json.loads(by_id.stdout)["tests"] > 0
    typo = runner.invoke(app, ["rules", "test", "odg.prefce.physical-therapy"])
    assert typo.exit_code == 2
    assert "did you mean 'odg.preface.physical-therapy'" in typo.stderr
