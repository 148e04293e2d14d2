"""Decision models and the one place where findings combine into an outcome.

How findings combine, per requested item (documented in README and docs/authoring.md):
  1. any `non_certify` finding                      -> non_certify
  2. else any `limit` findings: N = the smallest    -> N <= 0: non_certify; N >= visits requested: certify;
                                                       otherwise modify, certified_visits = N
  3. else any `certify` finding                     -> certify
  4. else any `pend` finding                        -> pend (the documentation that is missing decides)
  5. else                                           -> pend: no rule in force reached a decision (never a
                                                       silent certify)
`derive` and `note` findings explain; they never decide.
For IMR/IRO reviews of a UR denial (REVIEW_OF, per jurisdiction): non_certify and pend -> upheld,
certify -> overturned; modify -> partially_overturned for a Texas IRO (its decision form has Upheld /
Overturned / Partially Overturned), but upheld for a California IMR: the reviewer "shall state whether
the disputed medical treatment is medically necessary" (8 CCR 9792.10.6(d); Labor Code 4610.6), one answer
for the treatment as requested, so a request of which only part is necessary is not overturned.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ._version import engine_version

Outcome = Literal["certify", "modify", "non_certify", "pend"]
ReviewOutcome = Literal["upheld", "overturned", "partially_overturned"]
REVIEW_BY_JURISDICTION = {
    "TX": {"non_certify": "upheld", "pend": "upheld", "certify": "overturned", "modify": "partially_overturned"},
    "CA": {"non_certify": "upheld", "pend": "upheld", "certify": "overturned", "modify": "upheld"},
}
REVIEW_OF = REVIEW_BY_JURISDICTION["TX"]        # where the jurisdiction is not known


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
    would_change: list[dict] = []     # computed: documentation that changes the answer, and to what
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


def combine(findings: list[Finding], requested: int | None) -> tuple[str, int | None]:
    """(outcome, certified_visits) from the findings of one item."""
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
