"""Public API for rule authors: lint rule files, run the tests beside them, diff two versions of a rule set.

    from ptcheck.authoring import lint, run_rule_tests, diff_rule_sets

    problems = lint()                                   # every rule file of the installed rules folder
    results, coverage, problems = run_rule_tests()      # the <name>.tests.yaml beside every rule file
    report = diff_rule_sets("mtus.cpmtg.physical-medicine@2009.1", "mtus.cpmtg.physical-medicine@2016.1",
                            ["cases/"])

What `ptcheck rules lint | test | diff` print, as values. Thin functions over the private modules
(engine/authoring/_lint.py, _ruletest.py, _diff.py), which may change; these names and signatures do not.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..core._errors import Problem
from ..core._library import Library
from ._diff import DiffReport, Impact, RuleChange
from ._ruletest import Coverage, TestResult as RuleTestResult

__all__ = ["Coverage", "DiffReport", "Impact", "RuleChange", "RuleTestResult", "diff_rule_sets", "lint",
           "run_rule_tests"]


def lint(paths: Iterable[str | Path] | None = None, *, rules: str | Path | None = None) -> list[Problem]:
    """Lint rule files: every problem as a Problem (file, line, column, code, message, severity), sorted.

    paths: rule files or folders (default: every rule file of the rules folder). rules: the rules folder
    the files belong to (default: $PTCHECK_RULES, else the installed rule sets); a file linted alone still
    sees the facts the rest of its library exports. Errors have severity "error"; a rule file with none
    loads and runs without an engine error."""
    from ._lint import lint_paths
    return lint_paths([Path(p) for p in paths] if paths else None, Path(rules) if rules else None)


def run_rule_tests(library: Library | None = None, only: Iterable[str] | None = None
                   ) -> tuple[list[RuleTestResult], Coverage, list[Problem]]:
    """Run the tests beside the rule files: (results, coverage, problems in the tests files).

    library: the rule sets (default Library.load()). only: rule set ids or id@version to test (default
    all); coverage still counts every rule and table row of the library (Coverage.only narrows it)."""
    from ._ruletest import run_all
    return run_all(library or Library.load(), list(only) if only else None)


def diff_rule_sets(old: str, new: str, cases: Iterable[str | Path] = (), *,
                   library: Library | None = None) -> DiffReport:
    """Compare two versions of one rule set: what changed (version, dates, rules, table rows) and which of
    `cases` (case files or folders) change outcome. old / new: `ID@VERSION` of the library, or a rule
    file's path. Raises RuleError for two different rule sets or an unknown reference."""
    from ._diff import diff
    return diff(old, new, [Path(c) for c in cases], library)
