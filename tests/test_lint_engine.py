"""Lint guarantees the engine (issue 19, item 6): the shapes lint passed but durable_rules could not run are
lint errors at file:line:column (tests/malformed/rules/), the ones the engine can run now run, lint registers
and runs every rule set it accepts, and `audit` with a rule set that cannot run is exit 2 before any case."""
import shutil
import subprocess
import sys

import pytest
import yaml

from ptcheck import Checker, Library, validate_case
from ptcheck.authoring._lint import errors, lint_paths
from tests.conftest import ROOT
from tests.test_rule_fuzz import CASES, HEAD

MALFORMED = ROOT / "tests/malformed/rules"


def _library(tmp_path, spec: dict):
    shutil.copy(ROOT / "rules/diagnoses.yaml", tmp_path)
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, width=10**6))
    return tmp_path


def _rule(when, then, rid="a"):
    return {"id": rid, "when": when, "then": then, "message": "m {request_visits}", "citation": {"section": "s"}}


def _outcomes(lib):
    checker = Checker(Library.load(lib))
    return [checker.check(validate_case(c).case).items[0].outcome for c in CASES]


def test_not_equal_on_a_derived_fact_lints_clean_and_runs(tmp_path):
    lib = _library(tmp_path, {**HEAD, "rules": [_rule("request_visits > 0", {"derive": {"d0": 3}}, "src"),
                                                _rule("d0 != 3", {"non_certify": True}, "ne"),
                                                _rule("d0 != 4", {"certify": True}, "ne4")]})
    assert errors(lint_paths([lib / "one.yaml"], root=lib)) == []
    assert _outcomes(lib) == ["certify"] * len(CASES)     # d0 is 3: `!= 4` fires, `!= 3` does not


def test_effective_to_9999_12_31_is_open_ended(tmp_path):
    lib = _library(tmp_path, {**HEAD, "effective_to": "9999-12-31",
                              "rules": [_rule("request_visits > 0", {"certify": True})]})
    assert errors(lint_paths([lib / "one.yaml"], root=lib)) == []
    assert _outcomes(lib) == ["certify"] * len(CASES)


@pytest.mark.parametrize("name,column", [("exponent_large.yaml", 29), ("sum_wraps_64_bits.yaml", 29),
                                         ("limit_int64_min.yaml", 11), ("or_over_derived.yaml", 12)])
def test_each_shape_is_reported_at_its_column(name, column):
    (p,) = errors(lint_paths([MALFORMED / name]))
    assert p.column == column and p.file == str(MALFORMED / name), str(p)


def test_lint_registers_and_runs_the_rule_set(monkeypatch):
    """The R118 check is what catches the deep nesting: without it the file lints clean."""
    import ptcheck.authoring._lint as lint
    f = MALFORMED / "and_or_nested_20_deep.yaml"
    assert [p.code for p in errors(lint_paths([f]))] == ["R118"]
    monkeypatch.setattr(lint, "engine_problems", lambda compiled: [])
    assert errors(lint_paths([f])) == []


def test_audit_with_a_rule_set_that_cannot_run_is_exit_2_before_any_case(tmp_path):
    lib = _library(tmp_path, {**HEAD, "rules": [_rule(yaml.safe_load((MALFORMED / "and_or_nested_20_deep.yaml")
                                                                    .read_text())["rules"][0]["when"],
                                                      {"certify": True})]})
    r = subprocess.run([sys.executable, "-m", "ptcheck.cli", "audit", str(ROOT / "cases/seeds"), "--rules", str(lib),
                        "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stdout == "" and "R118" in r.stderr and "one.yaml:" in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if "R118" in ln]) == 1        # each problem listed once


def test_the_shipped_rules_lint_clean_with_the_engine_check():
    assert errors(lint_paths()) == []


def test_a_negated_word_is_a_lint_problem_at_its_column(tmp_path):
    """`service == -'a'` crashed lint (TypeError, 'internal error'); it is R110 at the negation."""
    import shutil

    from ptcheck.authoring import lint
    from tests.conftest import HEAD, ROOT, rule
    shutil.copy(ROOT / "rules/diagnoses.yaml", tmp_path)
    (tmp_path / "neg.yaml").write_text(HEAD.format(name="neg") + rule("a", "service == -'a'"))
    (p,) = [p for p in lint([tmp_path]) if p.code == "R110"]
    assert "only a number can be negated" in p.message and p.line == 9
