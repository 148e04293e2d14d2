"""Explanation: an item's decision in words, from what the pipeline recorded (no rule set runs here).

  findings       every rule that fired for the variant the answer is shown on (the facts as given, or the
                 reading the answer rests on, its messages prefixed with that reading's values), with its
                 message and figures rendered from the facts it saw, its citation, and the documentation it
                 names; the plan's own notes; the engine's notes on unknowns and presumptions
  missing        the documentation the deciding findings name, in words (engine/core/_documentation.py),
                 without a flag the case already documents or "what would change the answer" gives
  would_change   computed by the caller (deciding again with each flag set): WouldChange entries
"""
from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from typing import Any

from . import _documentation
from ._cases import Case, Request
from ._decide import Combined, Finding, ItemAnswer, ItemDecision, WouldChange, deciding, group_answers, review_outcome
from ._evaluate import Evaluation, Evaluator
from ._facts import EPOCH, FACT_TYPES
from ._plan import ItemPlan, PlanNote
from ._readings import Unknown, answer_words, describe
from ._rules import template_names

ENGINE_CITATION = "ptcheck engine (no guideline)"


@dataclass(frozen=True)
class Need:
    """A piece of documentation a finding names: an id of the documentation table, or (for the engine's
    own findings on unknowns) words of their own."""
    id: str | None
    words: str


def need(doc_or_words: str) -> Need:
    d = _documentation.BY_ID.get(doc_or_words)
    return Need(d.id, d.words) if d is not None else Need(None, doc_or_words)


@dataclass
class Shown:
    """A finding (None where the item is not explained: no words are built) and the documentation it names."""
    effect: str
    rule: str
    needs: list[Need]
    finding: Finding | None = None


def _shown(f: Finding, needs: list[Need]) -> Shown:
    return Shown(f.effect, f.rule, needs, f)


class Explainer:
    def __init__(self, evaluator: Evaluator):
        self.evaluator = evaluator

    def variant(self, plan: ItemPlan, on: dt.date | None, facts: dict, ev: Evaluation, no_decision: bool,
                render: bool = True) -> list[Shown]:
        """The findings of one evaluation on a review date: the plan's notes (engine.not-addressed where no
        rule set addresses the item), every hit (the search-sequence note before the
        first search-sequence rule set that ran), and engine.no-decision where nothing decided."""
        out = [_note(n) for n in plan.notes]
        if not plan.addressed:
            regions = f" for {', '.join(plan.regions)}" if plan.regions else ""
            out.append(_engine("engine.not-addressed", f"No rule set in force for {plan.jurisdiction}"
                               f"{' on ' + on.isoformat() if on else ''} addresses {plan.service.replace('_', ' ')}"
                               f"{regions}: a reviewer must decide.", [need("guideline_for_service")]))
        if not render:                         # no words: what decides, and the documentation it names
            for k, h in enumerate(ev.hits):
                rule = plan.steps[h.step].ruleset.spec.rules[h.rule]
                out.append(Shown(h.effect, rule.id, [need(m) for m in rule.missing] if rule.missing else []))
            if no_decision:
                out.append(Shown("pend", "engine.no-decision", [need("guideline_row")]))
            return out
        envs = self.evaluator.env(plan, facts, ev)
        for k, (h, env) in enumerate(zip(ev.hits, envs)):
            if k == ev.sequence_at and plan.sequence_note is not None:
                out.append(_note(plan.sequence_note))
            step = plan.steps[h.step]
            rs = step.ruleset
            rule = rs.spec.rules[h.rule]
            shown = self.evaluator.registered(rs).compiled.rules[h.rule].shown
            needs = [need(m) for m in rule.missing]
            out.append(_shown(Finding.model_construct(          # fields are ours and typed: no re-validation
                rule=rule.id, ruleset=rs.id, version=rs.version, citation=rs.cited(rule), effect=h.effect,
                message=render_message(rule.message, env), limit=h.limit, missing=[n.words for n in needs],
                figures=_figures(shown, env)), needs))
        if ev.sequence_at is not None and ev.sequence_at >= len(ev.hits) and plan.sequence_note is not None:
            out.append(_note(plan.sequence_note))
        if no_decision:
            out.append(_engine("engine.no-decision", "The rules in force reached no decision for this item (no "
                               "rule's condition was met).", [need("guideline_row")]))
        return out

    def item(self, case: Case, req: Request, plan: ItemPlan, shown: list[Shown], ia: ItemAnswer,
             unknowns: list[Unknown], notes: list[str], changes: list[WouldChange] | None,
             on_unknown: frozenset[str], explain: bool) -> ItemDecision:
        """The decision of one item. shown: the findings of the variant the answer is shown on (already
        composed with the readings' notes by `compose`); changes None: "what would change the answer" was
        not computed (no explanation)."""
        missing = [c.documentation for c in changes or []]
        computed = {c.fact for c in changes or []}
        doc = case.history.documentation
        picked = {id(s) for s in deciding(shown, ia.outcome)}       # type: ignore[arg-type]
        for s in shown:
            if id(s) not in picked or s.rule in on_unknown:
                continue
            for n in s.needs:
                if n.id in _documentation.FLAGS and (changes is None or getattr(doc, n.id) is not None
                                                     or n.id in computed):
                    continue            # a flag the case documents, or that the computed list already gives
                if n.words not in missing:
                    missing.append(n.words)
        return ItemDecision.model_construct(            # our own typed values: no re-validation
            request=req.id, text=req.text, service=req.service, requested_visits=req.visits,
            outcome=ia.outcome, certified_visits=ia.certified if ia.outcome in ("certify", "modify") else None,
            review_outcome=review_outcome(case.review.kind, ia.outcome, case.jurisdiction),
            findings=[s.finding for s in shown if s.finding is not None] if explain else [], missing=missing, would_change=changes or [],
            facts=notes, rulesets_run=plan.keys, actual=req.actual)


def compose(ia: ItemAnswer, unknowns: list[Unknown], given: list[Shown], basis: list[Shown] | None,
            render: bool = True) -> list[Shown]:
    """The findings shown for an item decided over readings: the engine's notes on the unknowns, then the
    rules' findings for the reading the answer rests on (each message saying which values it filled in),
    or, for a pend, the rules' own words on the facts as given (what they say is missing). Without
    `render`, what decides and the documentation it names only."""
    comb = ia.combined
    if ia.how != "readings" or comb is None:
        return given
    if not render:
        out = [Shown("pend", "engine.unknown-flips", [Need(None, u.need) for u in comb.flipping])] \
            if comb.outcome == "pend" else []
    else:
        out = _reading_notes(comb, unknowns, ia)
    if comb.outcome != "pend" and basis is not None:
        labels = comb.basis[0].labels
        lead = "If " + ", ".join(labels) + ": " if labels and render else ""
        for s in basis:
            f = s.finding
            if lead and f is not None and f.effect != "note" and f.message:
                s = _shown(f.model_copy(update={"message": lead + f.message}), s.needs)
            out.append(s)
        return out
    return out + [s for s in given if s.effect in ("pend", "note", "derive")]


def _reading_notes(comb: Combined, unknown_list: list[Unknown], ia: ItemAnswer) -> list[Shown]:
    """The rationale of a decision over readings: what is unknown, and the answer under each reading."""
    what = "; ".join(u.label for u in unknown_list)

    def answers(rs) -> str:
        groups = group_answers(rs)
        shown = [f"{answer_words(*a)} for {describe(unknown_list, g)}" for a, g in groups[:5]]
        if len(groups) > 5:
            shown.append(f"... {len(groups) - 5} more answers")
        return "; ".join(shown)
    if comb.outcome == "pend":
        flipping = "; ".join(u.label for u in comb.flipping)
        rds = ia.answered
        return [_engine("engine.unknown-flips", f"The answer depends on what the records leave unknown: {flipping}. "
                        f"{answers(rds) if rds else 'Too many readings to evaluate.'}",
                        [Need(None, u.need) for u in comb.flipping])]
    basis = describe(unknown_list, comb.basis[:1])
    note: dict[str, Any] = dict(rule="engine.readings", ruleset="engine", version="-",
                                citation="ptcheck engine: decision under unknown facts", effect="note")
    if not comb.presumed:
        return [_shown(Finding(**note, message=f"The records leave unknown: {what}. Every reading they allow gives "
                               f"the same answer ({answer_words(comb.outcome, comb.certified)}); the rules' findings "
                               f"are shown for {basis}."), [])]
    out = [_shown(Finding(rule=f"presumption.{p.id}", ruleset="presumptions", version="-", citation=p.citation,
                          effect="note", message=f"Presumed: {p.reason} ({u.label})."), []) for p, u in comb.presumed]
    out.append(_shown(Finding(**note, message=f"The records leave unknown: {what}. On the presumption the answer is "
                              f"{answer_words(comb.outcome, comb.certified)} (findings shown for {basis}); were it "
                              f"rebutted: {answers(comb.rebutted)}."), []))
    return out


def _note(n: PlanNote) -> Shown:
    needs = [need(m) for m in n.missing]
    return _shown(Finding(rule=n.rule, ruleset=n.source, version="-", citation=n.citation, effect=n.effect,
                          message=n.message, missing=[x.words for x in needs]), needs)


def _engine(rule: str, message: str, needs: list[Need]) -> Shown:
    return _shown(Finding(rule=rule, ruleset="engine", version="-", citation=ENGINE_CITATION, effect="pend",
                          message=message, missing=[n.words for n in needs]), needs)


# -- messages ----------------------------------------------------------------------------------------

class _Fmt(dict):
    def __missing__(self, key):
        return "unknown"


def show(name: str, v):
    if v is None:
        return "unknown"
    t = FACT_TYPES.get(name)
    if t == "date" and isinstance(v, int):
        return (EPOCH + dt.timedelta(days=v)).isoformat()
    if t == "str" and isinstance(v, str):
        return v.replace("_", " ")
    if isinstance(v, list):
        return ", ".join(str(x).replace("_", " ") for x in v) or "none"
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def render_message(template: str, env: dict) -> str:
    return string.Formatter().vformat(template, (), _Fmt({k: show(k, env[k]) for k in template_names(template)
                                                          if k in env}))


def _figures(names: tuple[str, ...], env: dict) -> dict:
    return {n: show(n, env.get(n)) for n in names if n in env}


__all__ = ["Explainer", "Need", "Shown", "compose", "render_message", "show", "need"]
