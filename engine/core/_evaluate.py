"""Evaluation: what the rule sets of a plan answer for each set of facts of one item, from durable_rules.

The only caller of engine/core/_durable.py. An item is evaluated on one or more *variants* of its facts:
the facts as given, each reading of what the records leave unknown (engine/core/_readings.py), and, to
find what would change the answer, either with one documentation flag set. Variants differ only in the
facts the readings and flags move (`varying`, and the facts exported from them), so per plan step:

  1. variants whose values of the step's varying facts are equal share one run (exact);
  2. variants whose facts fall in the same class for every comparison of the rule set (engine/core/
     _analysis.py: numbers by sign, the rest by value) share one run too: durable_rules fires the same
     rules on them, binding the same derived values;
  3. each class runs once in durable_rules; then every variant computes its own limits and exported
     facts from those firings, with the rule language's evaluator over its own facts.

Every answer still comes from durable_rules firing on facts; the classes only decide which variants need
a run of their own. `classes=False` keeps step 1 only: one run per distinct reading (the test oracle).
Nothing here decides: an Evaluation lists the rules that fired, with their effects and limits.
"""
from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._analysis import Analysis, analyse
from ._compile import compile_ruleset, exported_types
from ._durable import Firing, Registered, encode
from ._exports import export_policies, merge_exports
from ._figures import compile_figure, compile_value
from ._library import Library
from ._plan import MAX_PLANS, ItemPlan, Step
from ._ruleset import RuleSet

Facts = dict[str, Any]
# per rule: its effect, its limit (a function of the facts, or None), the facts it exports (name, function)
Action = tuple[str, Callable[[Any], Any] | None, tuple[tuple[str, Callable[[Any], Any]], ...]]
PlanFacts = tuple[frozenset[str], frozenset[int], dict[str, frozenset[str]]]
# what a class signature holds for one item and step: places of varying facts, class functions, exact facts
Sensitive = tuple[tuple[tuple[str, tuple[Any, ...]], ...], tuple[Callable[[Facts], Hashable], ...], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule that fired for one variant, with its effect and (for a limit) its number."""
    step: int                        # index in ItemPlan.steps
    rule: int                        # index of the rule in its rule set (RuleSet.spec.rules)
    effect: str
    limit: int | None


@dataclass(frozen=True, slots=True)
class Run:
    """One durable_rules run of one rule set: its firings and the derived facts the session asserted; `hits`
    when no rule that fired has a limit or exports a fact (then every variant sharing the run has them)."""
    firings: tuple[Firing, ...]
    derived: Mapping[str, object]
    hits: tuple[Hit, ...] | None = ()


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The answer of a plan's rule sets for one variant: the rules that fired, in finding order (steps in
    plan order, rules by index), where the search-sequence note goes (None: no sequence step ran), and the
    run each step used (None: skipped), from which its messages are rendered without running again."""
    hits: tuple[Hit, ...]
    sequence_at: int | None
    runs: tuple[Run | None, ...]


_NO_RUN = Run((), {}, ())


@dataclass
class Memo:
    """The runs of one item, by plan step: kept for as long as the item is being decided and explained (its
    readings, the flag variants of "what would change the answer", and the replay that renders messages)."""
    exact: dict[tuple[int, tuple[str, ...], tuple[Any, ...]], Run] = field(default_factory=dict)   # by projection
    classes: dict[tuple[Any, ...], Run] = field(default_factory=dict)    # (step, class signature) -> Run
    sensitive: dict[tuple[int, frozenset[str]], Sensitive] = field(default_factory=dict)   # what a signature holds
    runs: int = 0                                    # durable_rules runs made for this item


class _Env:
    """The names a figure reads, in the order a firing sees them: its bound derived values, the session's
    derived facts, then the item's facts (no dict is merged per firing)."""
    __slots__ = ("a", "b", "c")

    def __init__(self, a: Mapping[str, object], b: Mapping[str, object], c: Facts):
        self.a, self.b, self.c = a, b, c

    def get(self, name: str, default: Any = None, /) -> Any:
        for d in (self.a, self.b, self.c):
            if name in d:
                return d[name]
        return default


class Evaluator:
    """Compiles and registers each rule set of a library once, and evaluates plans."""

    def __init__(self, library: Library, *, classes: bool = True):
        self.library = library
        self.classes = classes
        self.exports = exported_types(library)
        # one conflict policy for exported facts, the hit policy of the tables that export them (lint R305)
        self.policies = export_policies(library.rulesets)[0]
        self._registered: dict[RuleSet, Registered] = {}
        self._analysis: dict[RuleSet, Analysis] = {}
        self._action_cache: dict[RuleSet, list[Action]] = {}
        self._proj_names: dict[tuple[RuleSet, frozenset[str]], tuple[str, ...]] = {}
        self._plans: dict[tuple[Step, ...], PlanFacts] = {}     # plan steps -> reads, numbers, unknown-deciding rules
        self._tri_exports = tuple(n for n, t in self.exports.items() if t == "tri")
        self.sessions = 0                            # durable_rules runs, in all (bench/bench_sessions.py)

    # -- what the rule sets are -------------------------------------------------------------------
    def registered(self, rs: RuleSet) -> Registered:
        reg = self._registered.get(rs)
        if reg is None:
            reg = self._registered[rs] = _register(rs, self.exports)
        return reg

    def analysis(self, rs: RuleSet) -> Analysis:
        a = self._analysis.get(rs)
        if a is None:
            a = self._analysis[rs] = analyse(self.registered(rs).compiled)
        return a

    def reads(self, plan: ItemPlan) -> frozenset[str]:
        """The facts the plan's rule sets read."""
        return self._of_plan(plan)[0]

    def numbers(self, plan: ItemPlan) -> frozenset[int]:
        """The whole numbers the plan's rule sets compare or compute with."""
        return self._of_plan(plan)[1]

    def deciding(self, plan: ItemPlan, effect: str) -> frozenset[str]:
        """Ids of the plan's rules with this effect that test a history fact `== unknown`."""
        return self._of_plan(plan)[2].get(effect, frozenset())

    def _of_plan(self, plan: ItemPlan) -> tuple[frozenset[str], frozenset[int], dict[str, frozenset[str]]]:
        hit = self._plans.get(plan.steps)            # plans of other items with the same rule sets share it
        if hit is None:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            reads: set[str] = set()
            numbers: set[int] = set()
            deciding: dict[str, set[str]] = {}
            for s in plan.steps:
                a = self.analysis(s.ruleset)
                reads |= a.reads
                numbers |= a.numbers
                for effect, ids in a.deciding.items():
                    deciding.setdefault(effect, set()).update(ids)
            hit = self._plans[plan.steps] = (frozenset(reads), frozenset(numbers),
                                       {k: frozenset(v) for k, v in deciding.items()})
        return hit

    # -- evaluating --------------------------------------------------------------------------------
    def evaluate(self, plan: ItemPlan, variants: list[Facts], varying: frozenset[str], memo: Memo) -> list[Evaluation]:
        """Evaluate each variant of an item's facts. `varying`: the facts in which the variants may
        differ (any other fact is the same in all of them)."""
        values = [self._start(v) for v in variants]
        n = len(values)
        hits: list[list[Hit]] = [[] for _ in range(n)]
        runs: list[list[Run | None]] = [[None] * len(plan.steps) for _ in range(n)]
        seq_at: list[int | None] = [None] * n
        moving = frozenset(varying)
        for i, step in enumerate(plan.steps):
            a = self.analysis(step.ruleset)
            live = [k for k in range(n) if values[k].get(step.unless) != "true"] if step.unless else range(n)
            if step.role == "sequence":
                for k in live:
                    if seq_at[k] is None:
                        seq_at[k] = len(hits[k])
            names = self._projected(step.ruleset, a, moving)
            groups: dict[tuple[Any, ...], list[int]] = {}
            for k in live:
                v = values[k]
                groups.setdefault(tuple(map(v.get, names)), []).append(k)       # None: absent
            for proj, ks in groups.items():
                run = self._run(i, step, a, values[ks[0]], names, proj, moving, memo)
                for k in ks:
                    runs[k][i] = run
                    if run.hits is not None:             # no limit, no export: the same hits for every variant
                        hits[k].extend(run.hits)
                    else:
                        self._apply(i, step, run, values[k], hits[k])
            if a.reads & moving:                     # its exports may differ between variants too
                moving = moving | a.exports
        return [Evaluation(tuple(h), s, tuple(r)) for h, s, r in zip(hits, seq_at, runs)]

    def _projected(self, rs: RuleSet, a: Analysis, moving: frozenset[str]) -> tuple[str, ...]:
        """The facts a rule set reads that may differ between the variants."""
        key = (rs, moving)
        hit = self._proj_names.get(key)
        if hit is None:
            hit = self._proj_names[key] = tuple(sorted(a.reads & moving))
        return hit

    def _start(self, facts: Facts) -> Facts:
        values = dict(facts)
        for name in self._tri_exports:                 # an exported yes/no nobody set is unknown
            values.setdefault(name, "unknown")
        return values

    def _run(self, i: int, step: Step, a: Analysis, values: Facts, names: tuple[str, ...], proj: tuple[Any, ...],
             moving: frozenset[str], memo: Memo) -> Run:
        key = (i, names, proj)
        run = memo.exact.get(key)
        if run is not None:
            return run
        sig = None
        if self.classes and names:
            sens = memo.sensitive.get((i, moving))
            if sens is None:                 # from the fixed facts: the same for every variant of the item
                sens = memo.sensitive[(i, moving)] = self._sensitive_of(step.ruleset, a, moving, values)
            places, classes, exact = sens
            # (i, moving) names the set of comparisons within the item (two sets never share a signature)
            sig = (i, moving, tuple([_place(values.get(n), points) for n, points in places]),
                   tuple([cls(values) for cls in classes]), tuple(map(values.get, exact)))
            run = memo.classes.get(sig)
        if run is None:
            run = self._durable(i, step.ruleset, values)
            memo.runs += 1
            if sig is not None:
                memo.classes[sig] = run
        memo.exact[key] = run
        return run

    def _sensitive_of(self, rs: RuleSet, a: Analysis, moving: frozenset[str], values: Facts) -> Sensitive:
        """What a class signature of this rule set holds when `moving` facts vary, for one item: the places of
        the varying facts among the values they are compared with, the class functions of the other
        comparisons that read them, and the facts held exactly, of the rules that can still fire
        (Analysis.live, from the facts that do not vary)."""
        live = a.live(moving, values)
        leaves, exact = a.sensitive(moving, live)
        points: dict[str, set[Any]] = {}
        classes = []
        for _, leaf in leaves:
            for name, fns in leaf.against:
                if name in moving and not (leaf.names - {name}) & moving:
                    # the other side is fixed for the item: the comparison is the fact's place among its values
                    points.setdefault(name, set()).update(t for t in (fn(values) for fn in fns) if t is not None)
                    break
            else:
                classes.append(leaf.cls)
        places = tuple((n, tuple(sorted(p))) for n, p in sorted(points.items()))
        return places, tuple(classes), exact

    def _durable(self, i: int, rs: RuleSet, values: Facts) -> Run:
        reg = self.registered(rs)
        if not reg.compiled.may_fire(values):
            return _NO_RUN
        firings, derived = reg.run(values, encode(values, reg.compiled.session_names))
        self.sessions += 1
        ordered = tuple(sorted(firings, key=lambda f: f.rule_index))
        actions = self._actions(rs)
        plain = all(actions[f.rule_index][1] is None and not actions[f.rule_index][2] for f in ordered)
        return Run(ordered, derived, tuple(Hit(i, f.rule_index, actions[f.rule_index][0], None) for f in ordered)
                   if plain else None)

    def _apply(self, i: int, step: Step, run: Run, values: Facts, out: list[Hit],
               envs: list[Facts] | None = None) -> None:
        """One variant's hits from a run, in rule order: limits computed, exports merged into its values.
        With `envs`, also each hit's names for its message (the values as that firing saw them)."""
        if not run.firings:
            return
        actions = self._actions(step.ruleset)
        for fi in run.firings:
            kind, limit_fn, exports = actions[fi.rule_index]
            env = None if envs is None else {**values, **run.derived, **fi.derived}
            limit = None
            if limit_fn is not None or exports:
                lookup = _Env(fi.derived, run.derived, values)
                if limit_fn is not None:
                    lv = limit_fn(lookup)
                    limit = None if lv is None else max(0, int(lv))
                    if env is not None:
                        env["limit"] = limit
                if exports:
                    new = {name: fn(lookup) for name, fn in exports}
                    merged = merge_exports(values, new, self.exports, self.policies)
                    values.update(merged)
                    if env is not None:
                        env.update(merged)
            out.append(Hit(i, fi.rule_index, kind, limit))
            if envs is not None and env is not None:
                envs.append(env)

    def _actions(self, rs: RuleSet) -> list[Action]:
        """Per rule of a rule set: its effect, its limit (a function of the facts, or None), and the facts it
        exports (name, function of the facts)."""
        hit = self._action_cache.get(rs)
        if hit is None:
            hit = self._action_cache[rs] = [
                (r.then.kind, None if r.then.limit is None else compile_figure(r.then.limit),
                 tuple((n, compile_value(v)) for n, v in r.then.derive.items()) if r.then.derive and r.then.export
                 else ())
                for r in rs.spec.rules]
        return hit

    def env(self, plan: ItemPlan, facts: Facts, evaluation: Evaluation) -> list[Facts]:
        """For each hit of an evaluation of `facts`, the names its message and figures read (the item's facts
        as that firing saw them, the session's derived facts, its bound values, `limit`): from the
        evaluation's own runs, no durable_rules session."""
        values = self._start(facts)
        envs: list[Facts] = []
        for i, step in enumerate(plan.steps):
            run = evaluation.runs[i]
            if run is not None:
                self._apply(i, step, run, values, [], envs)
        return envs


_ABSENT = ("absent",)


def _place(x: Any, points: tuple[Any, ...]) -> Hashable:
    """A number's place among sorted values: its sign against each of them (absent: a place of its own)."""
    if x is None:
        return _ABSENT
    i = bisect.bisect_left(points, x)
    return 2 * i + (i < len(points) and points[i] == x)


def _register(rs: RuleSet, exports: dict[str, str]) -> Registered:
    """Each rule set compiled and registered with durable_rules once per process (per content and export
    types): checkers of one library share them."""
    key = (rs.key, rs.sha256, tuple(sorted(exports.items())))
    reg = _REGISTERED.get(key)
    if reg is None:
        with _REGISTER_LOCK:
            reg = _REGISTERED.get(key)
            if reg is None:
                reg = _REGISTERED[key] = Registered(compile_ruleset(rs, exports))
    return reg


_REGISTERED: dict[tuple[str, str, tuple[tuple[str, str], ...]], Registered] = {}
_REGISTER_LOCK = threading.Lock()       # first use from several threads registers each rule set once


__all__ = ["Evaluator", "Evaluation", "Hit", "Memo", "Run"]
