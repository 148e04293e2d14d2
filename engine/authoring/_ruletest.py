"""Rule tests: small cases beside each rule file (<name>.tests.yaml), their expectations, and coverage.

    tests:
      - name: myalgia, within the course
        case:                      # a case in the public format; id, jurisdiction and review.date may be
          diagnoses: [{icd9: "729.1"}]          # left out (defaults: the test name, the rule set's
          requests: [{id: "1", service: physical_therapy, body_regions: [lumbar], visits: 6}]
          history: {therapy: []}                # first jurisdiction, its effective_from)
        expect:
          outcome: certify         # required: certify | modify | non_certify | pend
          certified_visits: 6      # optional
          fired: [pm.within-course]   # optional: these rules fired (others may fire too)
          silent: [pm.over-course]    # optional: these rules did not fire
          request: "1"             # optional: which request item (default: the first)

The rule file's own version is pinned while its tests run, so a test always exercises the rules beside it.
Coverage: every rule must fire in at least one test and stay silent in at least one test in which its
rule set ran.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core._caseload import validate_case
from ..core._check import Checker
from ..core._decide import ItemDecision
from ..core._errors import Problem
from ..core._library import Library
from ..core._rulefiles import tests_file
from ..core._ruleset import RuleSet
from ..core._yamlpos import dotted, mark


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: str = Field(pattern=r"^(certify|modify|non_certify|pend)$")
    certified_visits: int | None = None
    fired: list[str] = []
    silent: list[str] = []
    request: str | None = None


class TestSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    case: dict
    expect: Expect


class TestFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tests: list[TestSpec] = []
    remove: list[str] = []           # an edition's tests file: inherited tests (by name) that no longer apply
    inherit: bool = True             # false: an edition's tests replace every inherited one


@dataclass
class RuleTest:
    ruleset: RuleSet
    file: Path
    line: int
    spec: TestSpec

    @property
    def id(self) -> str:
        if self.file != tests_file(self.ruleset.path):          # inherited from the edition it extends
            return f"{self.ruleset.key}::{self.spec.name} (inherited)"
        return f"{self.ruleset.id}::{self.spec.name}"


@dataclass
class TestResult:
    """One rule test run: passed, the failures (expected against actual), the rules and rows that fired,
    and the decided item (None when the test case is invalid)."""
    test: RuleTest
    passed: bool
    failures: list[str]
    fired: list[str]
    item: ItemDecision | None = None


@dataclass
class Coverage:
    """Per rule and table row of each rule set, the tests in which it fired and those in which it stayed
    silent; missing() lists the gaps and percent() the coverage CI requires at 100%."""
    fired: dict[tuple[str, str], list[str]] = field(default_factory=dict)    # (ruleset key, rule) -> tests
    silent: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def only(self, ids) -> "Coverage":
        """Coverage of the named rule sets (ids or id@version); all when ids is empty."""
        if not ids:
            return self
        keep = [k for k in self.fired if k[0] in ids or k[0].split("@")[0] in ids]
        return Coverage({k: self.fired[k] for k in keep}, {k: self.silent[k] for k in keep})

    def missing(self) -> list[tuple[str, str, str]]:
        """(ruleset key, rule id, 'never fires' | 'never silent') for every gap."""
        out = []
        for key in self.fired:
            if not self.fired[key]:
                out.append((*key, "never fires in a test"))
            if not self.silent[key]:
                out.append((*key, "never silent in a test"))
        return out

    def percent(self) -> float:
        total = 2 * len(self.fired)
        if not total:
            return 100.0
        return 100.0 * (total - len(self.missing())) / total


def load_tests(rs: RuleSet) -> tuple[list[RuleTest], list[Problem]]:
    """The tests of a rule set. An edition that `extends` another inherits that edition's tests (run
    against the new edition); its own tests file, if any, adds tests, replaces inherited ones of the same
    name, and `remove:`s inherited ones by name."""
    path = tests_file(rs.path)
    inherited: list[RuleTest] = []
    problems: list[Problem] = []
    if rs.base is not None:
        base_tests, problems = load_tests(rs.base)
        inherited = [RuleTest(rs, t.file, t.line, t.spec) for t in base_tests]
    if not path.exists():
        if rs.base is not None:
            return inherited, problems
        return [], [Problem(f"no tests file beside the rule file (expected {path.name})", file=str(rs.path),
                            line=1, code="T001", suggestion="every rule set needs a tests file")]
    own, probs = _load_own(rs, path)
    problems += probs
    if probs:
        return inherited, problems
    spec, node = own
    if not spec.inherit:
        inherited = []
    names = {t.spec.name for t in inherited}
    for k, name in enumerate(spec.remove):
        if name not in names:
            problems.append(Problem(f"remove: no inherited test named {name!r}", file=str(path),
                                    line=mark(node, ["remove", k])[0], code="T003"))
    replaced = {t.name for t in spec.tests}
    kept = [t for t in inherited if t.spec.name not in replaced and t.spec.name not in spec.remove]
    mine = [RuleTest(rs, path, mark(node, ["tests", i])[0], t) for i, t in enumerate(spec.tests)]
    if not kept and not mine:
        problems.append(Problem("the tests file holds no test", file=str(path), line=1, code="T003"))
    return kept + mine, problems


def _load_own(rs: RuleSet, path: Path):
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
        spec = TestFile.model_validate(data)
    except yaml.YAMLError as e:
        pm = getattr(e, "problem_mark", None)
        return None, [Problem(f"invalid YAML: {e}", file=str(path), line=pm.line + 1 if pm else None, code="T002")]
    except ValidationError as e:
        return None, [Problem(er["msg"], file=str(path), line=mark(node, list(er["loc"]))[0] if node is not None else None,
                            path=dotted(er["loc"]), code="T003") for er in e.errors(include_url=False)]
    if rs.base is None and not spec.tests:
        return None, [Problem("the tests file holds no test", file=str(path), line=1, code="T003")]
    return (spec, node), []


def _case_data(t: RuleTest) -> dict:
    data = dict(t.spec.case)
    data.setdefault("id", t.spec.name)
    data.setdefault("jurisdiction", next(iter(t.ruleset.spec.jurisdictions)))
    review = dict(data.get("review") or {})
    review.setdefault("date", t.ruleset.spec.effective_from)
    data["review"] = review
    return data


def run_test(t: RuleTest, library: Library, checkers: dict) -> TestResult:
    loaded = validate_case(_case_data(t), source=str(t.file), line=t.line)
    if not loaded.ok:
        return TestResult(t, False, [f"the test case is invalid: {p}" for p in loaded.problems or []], [])
    key = (t.ruleset.id, t.ruleset.version)
    checker = checkers.get(key)
    if checker is None:
        checker = checkers[key] = Checker(library, {t.ruleset.id: t.ruleset.version})
    assert loaded.case is not None                     # loaded.ok
    decision = checker.check(loaded.case)
    want = t.spec.expect
    items = [i for i in decision.items if want.request is None or i.request == want.request]
    if not items:
        return TestResult(t, False, [f"no request {want.request!r} in the test case"], [])
    item = items[0]
    fired = [f.rule for f in item.findings]
    failures = []
    if item.outcome != want.outcome:
        failures.append(f"outcome: expected {want.outcome}, got {item.outcome}")
    if want.certified_visits is not None and item.certified_visits != want.certified_visits:
        failures.append(f"certified_visits: expected {want.certified_visits}, got {item.certified_visits}")
    for r in want.fired:
        if r not in fired:
            failures.append(f"expected rule {r} to fire; it did not")
    for r in want.silent:
        if r in fired:
            failures.append(f"expected rule {r} to stay silent; it fired")
    return TestResult(t, not failures, failures, fired, item)


def run_all(library: Library, only: list[str] | None = None) -> tuple[list[TestResult], Coverage, list[Problem]]:
    """Run every rule set's tests; coverage counts every rule of every rule set in the library."""
    results: list[TestResult] = []
    problems: list[Problem] = []
    checkers: dict[tuple[str, str], Checker] = {}
    cov = Coverage()
    for rs in library.rulesets:
        for r in rs.spec.rules:
            cov.fired[(rs.key, r.id)] = []
            cov.silent[(rs.key, r.id)] = []
    for rs in library.rulesets:
        if only and rs.id not in only and rs.key not in only:
            continue
        tests, probs = load_tests(rs)
        problems += probs
        for t in tests:
            res = run_test(t, library, checkers)
            results.append(res)
            if res.item is None:
                continue
            ran = set(res.item.rulesets_run)
            for other in library.rulesets:
                if other.key not in ran:
                    continue
                for r in other.spec.rules:
                    bucket = cov.fired if r.id in res.fired else cov.silent
                    bucket[(other.key, r.id)].append(t.id)
    return results, cov, problems


def diff_text(res: TestResult) -> str:
    """Expected against actual findings, as +/- lines."""
    want = res.test.spec.expect
    lines = [f"--- expected  {res.test.id}", "+++ actual"]
    lines.append(f"-outcome: {want.outcome}" + (f" ({want.certified_visits})" if want.certified_visits is not None else ""))
    if res.item:
        lines.append(f"+outcome: {res.item.outcome}" + (f" ({res.item.certified_visits})" if res.item.certified_visits is not None else ""))
    for r in want.fired:
        lines.append(("  " if r in res.fired else "- ") + f"fired {r}")
    for r in res.fired:
        if r not in want.fired:
            lines.append(("+ " if r in want.silent else "  ") + f"fired {r}" + ("   (expected silent)" if r in want.silent else ""))
    return "\n".join(lines)
