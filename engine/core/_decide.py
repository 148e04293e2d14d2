"""Decision models and the one place that decides: effects into an outcome, readings into an answer.

How the effects of one evaluation combine (`combine`, documented in README and docs/authoring.md):
  1. any `non_certify` finding                      -> non_certify
  2. else any `limit` findings: N = the smallest    -> N <= 0: non_certify; N >= visits requested: certify;
                                                       otherwise modify, certified_visits = N
  3. else any `certify` finding                     -> certify
  4. else any `pend` finding                        -> pend (the documentation that is missing decides)
  5. else                                           -> pend: no rule in force reached a decision (never a
                                                       silent certify; `answer` adds engine.no-decision)
`derive` and `note` findings explain; they never decide.

How the readings of an item combine (`decide`, over the answers of the facts as given and of each reading
of what the records leave unknown, engine/core/_readings.py):
  0. the facts as given are non-certified by a rule that tests a history fact `== unknown` (the
     guideline's own answer to undocumented prior care) -> that answer: a rule set decides the unknown
  1. every reading gives the same outcome and certified visits -> that answer; the rationale says so;
  2. else, for each unknown that flips the answer and for which a presumption in force states a
     reading (rules/presumptions.yaml, each with its reason and citation), keep only the presumed
     readings; if they then agree -> that answer, stating the presumption and what the answer would be
     were it rebutted;
  3. else -> pend, naming exactly the unknowns that flip the answer and the answer under each reading.
A limit never silently assumes zero: an unknown count is never read as 0 unless the records allow it.

For IMR/IRO reviews of a UR denial (REVIEW_BY_JURISDICTION): non_certify and pend -> upheld, certify ->
overturned; modify -> partially_overturned for a Texas IRO (its decision form has Upheld / Overturned /
Partially Overturned), but upheld for a California IMR: the reviewer "shall state whether the disputed
medical treatment is medically necessary" (8 CCR 9792.10.6(d); Labor Code 4610.6), one answer for the
treatment as requested, so a request of which only part is necessary is not overturned.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ._jurisdictions import Presumption
from ._readings import Reading, Unknown, course_words
from ._version import engine_version

Outcome = Literal["certify", "modify", "non_certify", "pend"]
ReviewOutcome = Literal["upheld", "overturned", "partially_overturned"]
REVIEW_BY_JURISDICTION = {
    "TX": {"non_certify": "upheld", "pend": "upheld", "certify": "overturned", "modify": "partially_overturned"},
    "CA": {"non_certify": "upheld", "pend": "upheld", "certify": "overturned", "modify": "upheld"},
}
REVIEW_OF = REVIEW_BY_JURISDICTION["TX"]        # where the jurisdiction is not known
DECISIVE = frozenset({"certify", "limit", "non_certify", "pend"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Finding(_Model):
    rule: str
    ruleset: str
    version: str
    citation: str
    effect: str                       # certify | limit | non_certify | pend | derive | note
    message: str
    limit: int | None = None          # for effect limit: visits that may be certified
    missing: list[str] = []
    figures: dict[str, object] = {}   # the case's own numbers the rule used


class RuleSetRef(_Model):
    id: str
    version: str
    sha256: str


class WouldChange(_Model):
    """Documentation (or a fact the records leave unknown) whose presence changes the answer."""
    documentation: str                # in a reviewer's words
    fact: str                         # the documentation flag, or the kind of unknown
    value: bool | None = None         # the flag's value that changes the answer (None: an unknown)
    outcome: Outcome | None = None    # the answer it leads to (None: depends on what it turns out to be)
    certified_visits: int | None = None
    message: str


class ItemDecision(_Model):
    request: str
    text: str
    service: str
    requested_visits: int | None
    outcome: Outcome
    certified_visits: int | None
    review_outcome: ReviewOutcome | None
    findings: list[Finding]
    missing: list[str]
    would_change: list[WouldChange] = []   # computed: documentation that changes the answer, and to what
    facts: list[str] = []             # how facts were derived (diagnosis mapping, unknowns)
    rulesets_run: list[str] = []      # id@version of every rule set consulted for this item
    actual: str | None = None


class CaseDecision(_Model):
    case: str
    jurisdiction: str
    review_kind: str
    review_date: str | None
    engine_version: str = Field(default_factory=engine_version)   # the ptcheck that decided, beside the rule sets
    rulesets: list[RuleSetRef]
    items: list[ItemDecision]
    notes: list[str] = []


class _Effect(Protocol):
    @property
    def effect(self) -> str: ...

    @property
    def limit(self) -> int | None: ...


def combine(findings: Iterable[_Effect], requested: int | None) -> tuple[str, int | None]:
    """(outcome, certified_visits) from the findings (or hits) of one evaluation."""
    findings = list(findings)
    kinds = {f.effect for f in findings}
    if "non_certify" in kinds:
        return "non_certify", None
    limits = [f.limit for f in findings if f.effect == "limit" and f.limit is not None]
    if limits:
        n = min(limits)
        if n <= 0:
            return "non_certify", None
        if requested is not None and n >= requested:
            return "certify", requested
        return "modify", n
    if "certify" in kinds:
        return "certify", requested
    return "pend", None


def answer(effects: Sequence[_Effect], addressed: bool, requested: int | None) -> tuple[str, int | None, bool]:
    """(outcome, certified, no_decision) of one evaluation: `effects` are the plan's own notes and the hits;
    no_decision when rule sets address the item but none reached a decision (a pend, engine.no-decision)."""
    no_decision = addressed and not any(e.effect in DECISIVE for e in effects)
    if no_decision:
        return "pend", None, True
    outcome, certified = combine(effects, requested)
    return outcome, certified, False


def deciding(findings: list[Finding], outcome: str) -> list[Finding]:
    """The findings that made the outcome (for 'missing' documentation)."""
    if outcome == "non_certify":
        picked = [f for f in findings if f.effect == "non_certify"] or \
                 [f for f in findings if f.effect == "limit"]
    elif outcome == "modify":
        picked = [f for f in findings if f.effect == "limit"]
    elif outcome == "pend":
        picked = [f for f in findings if f.effect == "pend"]
    else:
        picked = []
    return picked


def review_outcome(kind: str, outcome: str, jurisdiction: str = "TX") -> str | None:
    return REVIEW_BY_JURISDICTION[jurisdiction][outcome] if kind in ("imr", "iro") else None


# -- readings ----------------------------------------------------------------------------------------

@dataclass
class Answered:
    """A reading with its answer (labels are its own: a basis reading's words may be rewritten)."""
    reading: Reading
    outcome: str
    certified: int | None
    index: int = 0                               # which reading of the item (its position)
    labels: list[str] = field(default_factory=list)

    @property
    def values(self) -> dict[tuple[str, str], int | str]:       # (Unknown.kind, Unknown.key) -> value
        return self.reading.values

    @property
    def answer(self) -> tuple[str, int | None]:
        return self.outcome, self.certified


@dataclass
class Combined:
    outcome: str
    certified: int | None
    basis: list[Answered]                        # the readings the answer rests on
    flipping: list[Unknown]                      # unknowns that change the answer (pend) ...
    presumed: list[tuple[Presumption, Unknown]]  # ... or that a presumption settled
    rebutted: list[Answered]                     # readings a presumption set aside


@dataclass
class ItemAnswer:
    """The decision of one item: its answer and what it rests on."""
    outcome: str
    certified: int | None
    how: Literal["given", "unknown-rule", "readings"]
    combined: Combined | None = None             # with readings
    answered: list[Answered] = field(default_factory=list)

    @property
    def answer(self) -> tuple[str, int | None]:
        return self.outcome, self.certified


def decide(given: tuple[str, int | None], given_hits: Sequence[tuple[str, str]], readings: list[Reading] | None,
           answers: list[tuple[str, int | None]], unknowns: list[Unknown], presumed: list[tuple[Presumption, Unknown]],
           unknown_rules: frozenset[str]) -> ItemAnswer:
    """The answer of one item. given: the answer on the facts as given (given_hits: the (effect, rule id)
    of each rule that fired on them); readings and answers: each reading of the unknowns and its answer (None: no
    unknowns the rules read); presumed: the presumptions in force for those unknowns; unknown_rules: the
    non-certifying rules that test a history fact `== unknown` (step 0)."""
    if readings is None:
        return ItemAnswer(given[0], given[1], "given")
    if given[0] == "non_certify" and any(e == "non_certify" and rid in unknown_rules for e, rid in given_hits):
        return ItemAnswer(given[0], given[1], "unknown-rule")
    answered = [Answered(r, o, c, i, list(r.labels)) for i, (r, (o, c)) in enumerate(zip(readings, answers))]
    comb = combine_readings(unknowns, answered, presumed)
    return ItemAnswer(comb.outcome, comb.certified, "readings", comb, answered)


def flips(u: Unknown, rs: list[Answered]) -> bool:
    """True when changing only u's value changes the answer. Unknowns that exist in some readings only
    (a course's count exists only where prior therapy was given) are not held fixed."""
    key = (u.kind, u.key)
    with_u = [r for r in rs if key in r.values]
    common = sorted(set.intersection(*(set(r.values) for r in rs)) - {key}) if rs else []
    groups: dict[tuple[str, ...], set[tuple[str, int | None]]] = {}
    for r in with_u:
        rest = tuple(str(r.values[k]) for k in common)      # the other values, in one order for all
        groups.setdefault(rest, set()).add(r.answer)
    return any(len(a) > 1 for a in groups.values())


MAX_READINGS = 256


def combine_readings(unknown_list: list[Unknown], rs: list[Answered],
                     presumptions: list[tuple[Presumption, Unknown]]) -> Combined:
    """The answer over the readings (see the module docstring)."""
    if len(rs) > MAX_READINGS:
        return Combined("pend", None, [], list(unknown_list), [], [])
    answers = {r.answer for r in rs}
    if len(answers) == 1:
        return Combined(rs[0].outcome, rs[0].certified, rs, [], [], [])
    flipping = [u for u in unknown_list if flips(u, rs)]
    kept: list[Answered] = rs
    used: list[tuple[Presumption, Unknown]] = []
    for p, u in presumptions:
        if u in flipping:
            want = {"low": str(min(u.values, key=_order)), "high": str(max(u.values, key=_order))}.get(p.reading, p.reading)
            narrowed = [r for r in kept if (u.kind, u.key) not in r.values or str(r.values[(u.kind, u.key)]) == want]
            if narrowed:
                kept, used = narrowed, used + [(p, u)]
    if used and kept and len({r.answer for r in kept}) == 1:
        rebutted = [r for r in rs if r not in kept]
        return Combined(kept[0].outcome, kept[0].certified, _least_basis(kept, rs, used), [], used, rebutted)
    return Combined("pend", None, rs, flipping or list(unknown_list), [], [])


def _least_basis(kept: list[Answered], rs: list[Answered], used: list[tuple[Presumption, Unknown]]) -> list[Answered]:
    """The readings a presumption kept, led by the one to show the rules' findings for. A count presumed
    at its high end is a stand-in ("more than any number the rules state"): the findings are shown for
    the least count that gives the same answer, every other value held, so that the figures are ones
    the answer really turns on ("10 or more visits": 10 + 12 = 22), not the stand-in (49 + 12 = 61)."""
    lead = kept[0]
    for p, u in used:
        key = (u.kind, u.key)
        if u.kind != "course_visits" or p.reading != "high" or key not in lead.values \
                or not isinstance(lead.values[key], int):
            continue
        same_rest = [r for r in rs if key in r.values and isinstance(r.values[key], int)
                     and {k: v for k, v in r.values.items() if k != key} == {k: v for k, v in lead.values.items() if k != key}]
        least = lead
        for r in sorted(same_rest, key=lambda r: r.values[key], reverse=True):
            if r.answer != lead.answer:
                break
            least = r
        if least is not lead:
            value, course = least.values[key], int(u.key) + 1
            assert isinstance(value, int)                # same_rest holds the readings where it is a count
            exact = course_words(value, course)
            least.labels = [course_words(value, course, f"the answer is the same for any count from {value} up")
                            if w == exact else w for w in least.labels]
            lead = least
    return [lead] + [r for r in kept if r is not kept[0]] if lead is not kept[0] else kept


def _order(v: int | str) -> tuple[int, int | str]:
    return (0, v) if isinstance(v, int) else (1, str(v))


def group_answers(rs: list[Answered]) -> list[tuple[tuple[str, int | None], list[Answered]]]:
    """Readings grouped by answer, in first-seen order (for the rationale)."""
    out: dict[tuple[str, int | None], list[Answered]] = {}
    for r in rs:
        out.setdefault(r.answer, []).append(r)
    return list(out.items())


__all__ = ["Finding", "RuleSetRef", "WouldChange", "ItemDecision", "CaseDecision", "combine", "answer", "deciding",
           "review_outcome", "decide", "ItemAnswer", "Answered", "Combined", "combine_readings", "flips",
           "group_answers", "REVIEW_BY_JURISDICTION", "REVIEW_OF"]
