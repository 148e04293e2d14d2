"""Issue 12, the rule-file side: everything lint passes runs without an engine error; conditions, figures
and message templates are a closed language; what lint refuses is refused at compile time too."""
import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ptcheck import Checker, Library, RuleError, parse_ruleset, validate_case
from ptcheck.authoring._lint import errors, lint_paths
from ptcheck.cli import app
from ptcheck.core import _expr
from ptcheck.core._compile import MAX_SHARD, compile_ruleset
from ptcheck.core._rules import rule_files
from tests.conftest import HEAD, ROOT, case_dict, rule

runner = CliRunner()
MALFORMED = Path(__file__).parent / "malformed" / "rules"
EXPECTED = yaml.safe_load((MALFORMED / "EXPECTED.yaml").read_text())


def ruleset(name, body, path=None):
    rs, problems = parse_ruleset(HEAD.format(name=name) + body, path or f"{name}.yaml")
    assert rs is not None and not problems, problems
    return rs


def codes(rs):
    with pytest.raises(RuleError) as e:
        compile_ruleset(rs)
    return {p.code for p in e.value.problems}


# ---------------------------------------------------------------------------------------------
# the malformed corpus: each file reported at its line, exit 1, no traceback


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_rule_file_is_reported(name):
    want = EXPECTED[name]
    f = MALFORMED / name
    r = runner.invoke(app, ["rules", "lint", str(f), "--json"])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    problems = [p for p in json.loads(r.stdout) if p["severity"] == "error"]
    hits = [p for p in problems if p["code"] == want["code"] and want["message"] in p["message"]
            and (want["line"] is None or p["line"] == want["line"])]
    assert hits, problems
    assert all(p["file"] == str(f) for p in problems)
    text = runner.invoke(app, ["rules", "lint", str(f)])
    assert text.exit_code == 1 and "Traceback" not in text.output


def test_corpus_has_at_least_ten_files_and_each_is_expected():
    files = {p.name for p in MALFORMED.glob("*.yaml")} - {"EXPECTED.yaml"}
    assert len(files) >= 10 and files == set(EXPECTED)


def test_open_brace_column_points_at_the_brace():
    problems = errors(lint_paths([MALFORMED / "open_brace.yaml"]))
    assert [(p.code, p.line, p.column) for p in problems] == [("R112", 12, 22)]


def test_brace_position_in_a_folded_multi_line_message(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text(HEAD.format(name="fold")
                 + "  - id: a\n"
                 + "    when: \"request_visits > 0\"\n"
                 + "    then: {note: true}\n"
                 + "    message: >-\n"
                 + "      {request_visits} visits requested,\n"
                 + "      more than {course_visits\n"              # line 14, the brace at column 17
                 + "    citation: {section: s}\n")
    problems = [p for p in errors(lint_paths([f])) if p.code == "R112"]
    assert [(p.line, p.column) for p in problems] == [(14, 17)], problems


# ---------------------------------------------------------------------------------------------
# figures: run-time safety (a zero divisor or an overflow is unknown, never an error)


@pytest.mark.parametrize("expr,env,want", [
    ("a // b", {"a": 7, "b": 0}, None),
    ("a // b", {"a": 7, "b": 2}, 3),
    ("a * b", {"a": 2**62, "b": 4}, None),                 # beyond 64 bits
    ("a * b", {"a": 1e300, "b": 1e300}, None),              # infinite
    ("a + b", {"a": "x", "b": 1}, None),                    # a word never reaches arithmetic
    ("min(a, b) - 1", {"a": 3, "b": 5}, 2),
    ("max(a, b)", {"a": 3}, None),
])
def test_figure_values(expr, env, want):
    assert _expr.evaluate(expr, env) == want


def test_zero_divisor_at_run_time_leaves_the_limit_unknown(tmp_path):
    """A figure dividing by a fact that is 0 is unknown: the limit decides nothing, no engine error."""
    root = tmp_path / "rules"
    root.mkdir()
    shutil.copy(ROOT / "rules/diagnoses.yaml", root)
    (root / "div.yaml").write_text(HEAD.format(name="div") + rule(
        "a", "request_visits > 0", '{limit: "24 // completed_visits"}', "at most {limit} of {request_visits}")
        + rule("b", "request_visits > 0", "{certify: true}"))
    try:
        checker = Checker(Library.load(root))
        d = case_dict(history={"therapy": [{"service": "physical_therapy", "body_regions": ["lumbar"],
                                            "visits_completed": 0}]})
        item = checker.check(validate_case(d).case).items[0]
        assert [(f.rule, f.limit) for f in item.findings if f.rule == "a"] == [("a", None)]
        assert item.outcome == "certify"
        d["history"]["therapy"][0]["visits_completed"] = 6
        item = checker.check(validate_case(d).case).items[0]
        assert (item.outcome, item.certified_visits) == ("modify", 4)
    finally:
        Library.load()                          # the default diagnoses table again


# ---------------------------------------------------------------------------------------------
# conditions: types


def test_fact_against_fact_comparisons_are_type_checked():
    assert "R110" in codes(ruleset("ff", rule("a", "request_visits == sex")))
    assert "R110" in codes(ruleset("ff2", rule("a", "injury_date > request_visits")))
    assert "R110" in codes(ruleset("ff3", rule("a", "service == surgery_kind * 2")))
    compile_ruleset(ruleset("ok", rule("a", "total_visits > completed_visits + request_visits")
                            + rule("b", "months_since_injury > request_visits")
                            + rule("c", "surgery_kind == purpose")))


def test_derived_type_comes_from_the_fact_table_not_the_text():
    body = (rule("a", "request_visits > 0", '{derive: {m: "months_since_injury + 1", w: "request_visits // 2", '
                                            "row: \"'x / y'\"}}")
            + rule("b", "m > 1.5 and w > 2", msg="{m} {w} {row}") + rule("c", "row == 'x / y'"))
    c = compile_ruleset(ruleset("dt", body))
    assert (c.types["m"], c.types["w"], c.types["row"]) == ("num", "int", "str")
    assert "R110" in codes(ruleset("dt2", body + rule("d", "w == 'ten'")))


def test_derived_name_clashing_with_a_table_fact_or_with_two_types_is_refused():
    assert "R113" in codes(ruleset("c1", rule("a", "request_visits > 0", "{derive: {sex: 1}}")))
    assert "R113" in codes(ruleset("c2", rule("a", "request_visits > 0", "{derive: {x: 1}}")
                                   + rule("b", "request_visits > 1", "{derive: {x: \"'one'\"}}")))


# ---------------------------------------------------------------------------------------------
# derive cycles, duplicate ids, dates


def test_derive_cycle_is_refused_with_the_rule_ids_quickly():
    body = (rule("grow", "x > 0", '{derive: {x: "x + 1"}}') + rule("seed", "request_visits > 0", "{derive: {x: 1}}"))
    t = time.monotonic()
    with pytest.raises(RuleError) as e:
        compile_ruleset(ruleset("cyc", body))
    assert time.monotonic() - t < 2
    [p] = [p for p in e.value.problems if p.code == "R114"]
    assert "x -> x" in p.message and "grow" in p.message


def test_duplicate_rule_ids_refuse_to_compile():
    assert "R202" in codes(ruleset("dup", rule("a", "request_visits > 0") + rule("a", "request_visits > 1")))


def test_rule_ids_unique_across_the_library_and_id_version_once(tmp_path):
    a = ruleset("one", rule("shared", "request_visits > 0"), tmp_path / "a.yaml")
    b = ruleset("two", rule("shared", "request_visits > 0"), tmp_path / "b.yaml")
    with pytest.raises(RuleError) as e:
        Library([a, b])
    assert {p.code for p in e.value.problems} == {"R203"}
    c = ruleset("one", rule("x", "request_visits > 0"), tmp_path / "c.yaml")
    with pytest.raises(RuleError) as e:
        Library([a, c])
    assert "defined twice" in str(e.value)


def test_effective_to_before_effective_from_is_an_error():
    text = HEAD.format(name="d").replace("effective_from: 2000-01-01", "effective_from: 2000-01-01\neffective_to: 1999-01-01")
    rs, problems = parse_ruleset(text + rule("a", "request_visits > 0"), "d.yaml")
    assert rs is None and [(p.line, p.path) for p in problems] == [(7, "effective_to")]


# ---------------------------------------------------------------------------------------------
# durable_rules limits: width, not rule count


def test_shards_are_sized_by_alternatives_not_rules():
    """20 rules with a 4-way `or` of distinct comparisons: 80 alternatives can be true at once. In one
    durable ruleset that aborts the process (free(): invalid pointer, measured); by width they are two."""
    body = "".join(rule(f"r{i}", " or ".join(f"request_visits > {4 * i + j}" for j in range(4))) for i in range(20))
    c = compile_ruleset(ruleset("w4", body))
    assert len(c.shards) == 2
    assert all(sum(c.rules[i].width for i in s) <= MAX_SHARD for s in c.shards)
    script = textwrap.dedent(f"""
        from ptcheck import parse_ruleset
        from ptcheck.core._compile import compile_ruleset
        from ptcheck.core._durable import Registered
        rs, _ = parse_ruleset({(HEAD.format(name='w4run') + body)!r}, "w4run.yaml")
        reg = Registered(compile_ruleset(rs))
        firings, _ = reg.run({{"request_visits": 1000}})
        print(len(firings))
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "20", r.stderr


@pytest.mark.parametrize("when", [
    " or ".join(f"request_visits == {i}" for i in range(600)),
    "request_visits in [" + ", ".join(str(i) for i in range(600)) + "]",
])
def test_a_rule_too_wide_for_durable_is_refused_fast(when):
    t = time.monotonic()
    with pytest.raises(RuleError) as e:
        compile_ruleset(ruleset("wide", rule("a", when)))
    assert time.monotonic() - t < 5
    [p] = e.value.problems
    assert p.code == "R121" and (p.line, p.column) == (9, 20)


def test_a_rule_near_the_limit_is_a_warning(tmp_path):
    f = tmp_path / "near.yaml"
    f.write_text(HEAD.format(name="near") + rule("a", " or ".join(f"request_visits == {i}" for i in range(30))))
    problems = lint_paths([f])
    assert [p.code for p in problems if p.code.startswith("R12")] == ["R122"]
    assert not errors(problems)


# ---------------------------------------------------------------------------------------------
# the library: the chosen folder, every file from it


def test_empty_rules_folder_is_an_error_naming_it(tmp_path):
    with pytest.raises(RuleError, match=str(tmp_path)):
        Library.load(tmp_path)
    r = runner.invoke(app, ["check", str(ROOT / "cases/seeds/seed-001.yaml"), "--rules", str(tmp_path)])
    assert r.exit_code == 2 and str(tmp_path) in r.output


def test_diagnoses_come_from_the_chosen_rules_folder_and_two_libraries_answer_independently(tmp_path):
    """Each Library owns its diagnosis table (no process-wide state): a library whose diagnoses.yaml reads
    729.1 (myalgia) as a lumbar sprain decides by it, while a checker of the installed library, made before
    and used after, keeps answering by its own table (issue 18: loading a second library used to change an
    existing checker's answer)."""
    from ptcheck import Checker, validate_case
    from ptcheck.core import _dx
    root = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", root)
    dx = root / "diagnoses.yaml"
    text = dx.read_text()
    assert '    icd9: ["729.1"]\n' in text and '    icd9: ["847.2"' in text
    dx.write_text(text.replace('    icd9: ["729.1"]\n', '    icd9: []\n', 1).replace('    icd9: ["847.2"', '    icd9: ["729.1", "847.2"', 1))
    case = validate_case({"id": "x", "jurisdiction": "TX", "review": {"kind": "ur", "date": "2015-03-01"},
                          "diagnoses": [{"icd9": "729.1", "region": "lumbar"}],
                          "requests": [{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": 14}],
                          "history": {"therapy": [{"service": "physical_therapy", "body_regions": ["lumbar"],
                                                   "visits_completed": 6}],
                                      "documentation": {"functional_improvement": True}}}).case

    def answer(checker):
        it = checker.check(case).items[0]
        return it.outcome, it.certified_visits, [f.rule for f in it.findings if f.rule.startswith("lb.row")]
    installed = Checker(Library.load())
    before = answer(installed)
    copy = Library.load(root)
    assert copy.diagnoses.classify(icd9="729.1").category == "lumbar_sprain"
    assert installed.library.diagnoses.classify(icd9="729.1").category == "myalgia"
    assert _dx.classify(icd9="729.1").category == "myalgia"          # the default table is never changed
    theirs = answer(Checker(copy))
    assert theirs[2] == ["lb.row.lumbar-sprain"] and theirs != before
    assert answer(installed) == before                              # the first checker is not affected
    (root / "diagnoses.yaml").unlink()
    with pytest.raises(RuleError, match="diagnoses.yaml"):
        Library.load(root)


@pytest.mark.parametrize("f", rule_files(ROOT / "rules"), ids=lambda p: str(p.relative_to(ROOT / "rules")))
def test_each_shipped_rule_file_lints_clean_alone(f):
    """A file linted alone resolves the exports of the rest of its library (no false 'unknown fact')."""
    problems = errors(lint_paths([f]))
    assert not problems, problems


def test_every_library_yaml_read_goes_through_one_function():
    import ast
    src = (ROOT / "engine/core/_rules.py").read_text()
    calls = [n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
             and n.value.id == "yaml" and n.attr in ("safe_load", "load", "compose", "SafeLoader", "full_load")]
    assert [c.attr for c in calls] == []          # load_yaml hands every read to the bounded loader (_yamlpos)
