"""Check a case: a thin façade over the four stages, data flowing one way, per requested item.

  Plan         engine/core/_plan.py       the rule sets in force, their roles and run order
  Evaluation   engine/core/_evaluate.py   the facts (engine/core/_facts.py) as given and under each reading of
                                          what the records leave unknown (engine/core/_readings.py), run in
                                          durable_rules once per class of readings
  Outcome      engine/core/_decide.py     the one place that decides: effects, readings, presumptions
  Explanation  engine/core/_explain.py    findings, missing documentation, what would change the answer
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from . import _documentation, _readings
from ._cases import Case, Request
from ._decide import CaseDecision, ItemAnswer, ItemDecision, RuleSetRef, WouldChange, answer, decide
from ._errors import EngineError
from ._evaluate import Evaluation, Evaluator, Memo
from ._explain import Explainer, Shown, compose
from ._facts import HISTORY_FACTS, ItemFacts, derive, dx_regions
from ._library import Library
from ._plan import ItemPlan, Planner
from ._readings import Found, History, answer_words, summarize_answers
from ._ruleset import RuleSet
from ._version import engine_version


class Checker:
    """Checks cases against a library of rule sets (the installed ones by default), with some rule sets
    pinned to a version (`pins`: id -> version). `classes=False` runs every reading of an unknown in
    durable_rules on its own (the test oracle of the classes; same answers, more sessions)."""

    def __init__(self, library: Library | None = None, pins: dict[str, str] | None = None, *, classes: bool = True):
        self.library = library or Library.load()
        self.pins = dict(pins or {})
        for rid, version in self.pins.items():
            self.library.get(f"{rid}@{version}")
        self.planner = Planner(self.library, self.pins)
        self.evaluator = Evaluator(self.library, classes=classes)
        self.explainer = Explainer(self.evaluator)
        self._order: dict[int, tuple[dict[str, int], list[RuleSet]]] = {}
        self._refs: dict[RuleSet, RuleSetRef] = {}

    def _ref(self, rs: RuleSet) -> RuleSetRef:
        ref = self._refs.get(rs)
        if ref is None:
            ref = self._refs[rs] = RuleSetRef(id=rs.id, version=rs.version, sha256=rs.sha256)
        return ref

    def check(self, case: Case, *, explain: bool = True,
              would_change_for: Callable[[ItemDecision], bool] | None = None) -> CaseDecision:
        """Decide every requested item. explain=False: no findings or messages are built (the outcome,
        certified visits and the documentation the deciding rules name are the same).
        would_change_for: with explain, "what would change the answer" (deciding the item again per
        undocumented flag, the costly part of an explanation) only for the items it returns True for, given
        the item as decided without it; the other items get no would_change. Audit uses it: only a
        disagreeing item's explanation is listed."""
        on = case.review.date
        notes = []
        if on is None:
            notes.append("the case has no review date: the newest rule versions for "
                         f"{case.jurisdiction} were used")
        items: list[ItemDecision] = []
        used: dict[str, RuleSet] = {}
        for req in case.requests:
            try:
                item, plan = self._item(case, req, explain, would_change_for)
            except EngineError as e:          # name the case and item; the caller's batch carries on
                raise EngineError(f"case {case.id!r}, item {req.id!r}: {e}", e.problems) from e
            items.append(item)
            used.update((s.ruleset.key, s.ruleset) for s in plan.steps)
        in_force = self.planner.in_force(case.jurisdiction, on)
        order = self._order.get(id(in_force))
        if order is None:                    # in_force lists are cached by span of dates: few of them
            order = self._order[id(in_force)] = ({rs.key: i for i, rs in enumerate(in_force)}, in_force)
        refs = [self._ref(rs) for rs in sorted(used.values(), key=lambda r: (order[0].get(r.key, len(order[0])), r.key))]
        return CaseDecision.model_construct(case=case.id, jurisdiction=case.jurisdiction, review_kind=case.review.kind,
                                            review_date=on.isoformat() if on else None, engine_version=engine_version(),
                                            rulesets=refs, items=items, notes=notes)

    # -- one item: plan -> evaluation -> outcome -> explanation
    def _item(self, case: Case, req: Request, explain: bool,
              would_change_for: Callable[[ItemDecision], bool] | None) -> tuple[ItemDecision, ItemPlan]:
        regions: tuple[str, ...] = tuple(req.body_regions) or tuple(dx_regions(case, self.library.diagnoses))
        plan = self.planner.plan(case.jurisdiction, case.review.date, req.service, regions)
        given = derive(case, req, regions, self.library.diagnoses)
        found = self._readings(case, req, plan, given) if plan.addressed else None
        memo = Memo()
        d = self._decide(case, req, plan, given, found, memo)
        on_unknown = self.evaluator.deciding(plan, "pend") if found is not None else frozenset()
        unknowns = found.unknowns if found is not None else []
        if not explain:
            return self.explainer.item(case, req, plan, self._shown(plan, case.review.date, found, d, False), d.answer, unknowns,
                                       given.notes, None, on_unknown, False), plan
        shown = self._shown(plan, case.review.date, found, d, True)
        if not plan.addressed:
            return self.explainer.item(case, req, plan, shown, d.answer, unknowns, given.notes, None, on_unknown,
                                       True), plan
        if would_change_for is not None:
            item = self.explainer.item(case, req, plan, shown, d.answer, unknowns, given.notes, None, on_unknown, True)
            if not would_change_for(item):
                return item, plan
        changes = self._would_change(case, req, plan, given, found, d, memo)
        return self.explainer.item(case, req, plan, shown, d.answer, unknowns, given.notes, changes, on_unknown,
                                   True), plan

    def _readings(self, case: Case, req: Request, plan: ItemPlan, given: ItemFacts) -> Found | None:
        ev = self.evaluator
        item = _readings.item_of(case, req, plan.regions)
        return _readings.find(item, History(_readings.courses_of(case), req.visits), given.base,
                              ev.numbers(plan), ev.reads(plan))

    def _decide(self, case: Case, req: Request, plan: ItemPlan, given: ItemFacts, found: Found | None, memo: Memo,
                flag: str | None = None) -> "_Decided":
        """Evaluate the item's variants (the facts as given and each reading; with `flag` documented) and
        decide. The stages in order: evaluation, then the one place that decides."""
        variants = [given.values] + ([r.facts for r in found.readings] if found is not None else [])
        varying = HISTORY_FACTS if found is not None else frozenset()
        if flag is not None:
            variants = [{**v, flag: "true"} for v in variants]
            varying = varying | {flag}
        evs = self.evaluator.evaluate(plan, variants, varying, memo)
        answers = [answer([*plan.notes, *ev.hits], plan.addressed, req.visits) for ev in evs]
        hits = [(h.effect, plan.steps[h.step].ruleset.spec.rules[h.rule].id) for h in evs[0].hits]
        presumed = []
        if found is not None:
            months = given.values.get("months_since_surgery")
            presumed = [(p, u) for u in found.unknowns for p in plan.presumptions
                        if p.unknown == u.kind and p.applies(list(plan.ruleset_ids), months)]
        d = decide(answers[0][:2], hits, found.readings if found is not None else None,
                   [a[:2] for a in answers[1:]], found.unknowns if found is not None else [], presumed,
                   self.evaluator.deciding(plan, "non_certify"))
        return _Decided(d, variants, evs, [a[2] for a in answers])

    def _shown(self, plan: ItemPlan, on: dt.date | None, found: Found | None, d: "_Decided", render: bool) -> list[Shown]:
        """The findings of the variant the answer is shown on (composed with the readings' notes)."""
        ex = self.explainer
        base = ex.variant(plan, on, d.variants[0], d.evs[0], d.no_decision[0], render)
        basis = None
        comb = d.answer.combined
        if d.answer.how == "readings" and comb is not None and comb.outcome != "pend" and comb.basis:
            k = comb.basis[0].index + 1
            basis = ex.variant(plan, on, d.variants[k], d.evs[k], d.no_decision[k], render)
        return compose(d.answer, found.unknowns if found is not None else [], base, basis, render)

    def _would_change(self, case: Case, req: Request, plan: ItemPlan, given: ItemFacts, found: Found | None,
                      d: "_Decided", memo: Memo) -> list[WouldChange]:
        """The documentation whose presence changes the answer, found by deciding again with it (never a
        flag the case already documents), and the unknowns that flip a pended answer."""
        reads = self.evaluator.reads(plan)
        doc = case.history.documentation
        out = []
        for flag in _documentation.FLAGS:
            if flag not in reads or getattr(doc, flag) is True:
                continue
            e = self._decide(case, req, plan, given, found, memo, flag).answer
            if e.answer != d.answer.answer:
                words = _documentation.words(flag)
                out.append(WouldChange(documentation=words, fact=flag, value=True, outcome=e.outcome,   # type: ignore[arg-type]
                                       certified_visits=e.certified,
                                       message=f"with {words}: {answer_words(e.outcome, e.certified)}"))
        comb = d.answer.combined
        if comb is not None and comb.outcome == "pend":
            for u in comb.flipping:
                out.append(WouldChange(documentation=u.need, fact=u.kind, message=f"{u.need}: the answer depends on it"))
        elif comb is not None:
            for p, u in comb.presumed:
                other = {r.answer for r in comb.rebutted}
                out.append(WouldChange(documentation=f"{u.need} (rebutting the presumption {p.id})", fact=u.kind,
                                       message="were the presumption rebutted: " + summarize_answers(other)))
        return out


class _Decided:
    """An item's evaluations and the decision made on them."""
    __slots__ = ("answer", "variants", "evs", "no_decision")

    def __init__(self, answer: ItemAnswer, variants: list[dict[str, Any]], evs: list[Evaluation], no_decision: list[bool]):
        self.answer, self.variants, self.evs, self.no_decision = answer, variants, evs, no_decision


__all__ = ["Checker"]
