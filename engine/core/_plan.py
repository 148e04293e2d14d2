"""Plan: for one requested item, the rule sets that decide it, their roles and the order they run in.

A plan is a pure function of the library (its rule sets, jurisdictions.yaml and presumptions.yaml), the
pinned versions, and four things of the item: jurisdiction, review date, service and body regions. It is
made before any fact is derived and cached by those four (the date by its span of effective dates).

  in force     Library.in_force: the rule sets of the jurisdiction in force on the review date (the newest
               with no date), pinned versions instead where --ruleset pins one
  addressing   of those, the ones whose scope holds the service and a region that may be the request's
  roles        primary rule sets decide; a `fallback` rule set (ODG in California) only where no primary
               one addresses the service, with the jurisdiction's fallback note; `supplemental` ones (the
               Labor Code visit cap) beside either
  sequence     where a primary rule set in force is named `silent` by the jurisdiction's search sequence,
               the rule sets it goes on to (`use`: the version in force, or the pinned one) run after the
               primary ones, each skipped for a reading where the entry's `unless` fact is true
  order        rule sets that export facts run before the ones that read them, otherwise as listed
  not held     where no primary or fallback rule set addresses the item, the plan says so (`addressed`
               false; engine/core/_explain.py words it as engine.not-addressed): the item pends for a
               reviewer, never a silent certify
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ._facts import may_overlap
from ._jurisdictions import JurisdictionId, Presumption
from ._library import Library
from ._ruleset import RuleSet


@dataclass(frozen=True)
class Step:
    """One rule set in an item's run order."""
    ruleset: RuleSet
    role: str                        # primary | fallback | supplemental | sequence
    unless: str | None = None        # a sequence step is skipped where this fact is true


@dataclass(frozen=True)
class PlanNote:
    """A finding the plan itself gives (no rule of a rule set): where the rule sets come from, or that
    none addresses the item."""
    rule: str
    source: str                      # shown as the finding's rule set, e.g. "jurisdictions/CA"
    citation: str
    effect: str                      # note | pend
    message: str
    missing: tuple[str, ...] = ()    # documentation ids (engine/core/_documentation.py)
    limit: int | None = None         # (a plan note is never a limit)


@dataclass(frozen=True, eq=False)
class ItemPlan:
    """(Compared and hashed by identity: plans are cached, one object per distinct plan.)"""
    jurisdiction: str
    on: dt.date | None
    service: str
    regions: tuple[str, ...]
    steps: tuple[Step, ...]
    addressed: bool                  # a primary or fallback rule set addresses the item
    notes: tuple[PlanNote, ...]      # shown before every rule set's findings (the fallback note)
    sequence_note: PlanNote | None   # shown before the first search-sequence step that runs
    presumptions: tuple[Presumption, ...] = ()     # those that apply to these rule sets
    ruleset_ids: tuple[str, ...] = field(default=())

    @property
    def keys(self) -> list[str]:
        return [s.ruleset.key for s in self.steps]


MAX_PLANS = 4096              # plans kept (by jurisdiction, span of dates, service and regions)


class Planner:
    """Plans the items of one library with one set of pins (a Checker holds one)."""

    def __init__(self, library: Library, pins: dict[str, str] | None = None):
        self.library = library
        self.pins = dict(pins or {})
        self._plans: dict[tuple[str, int | None, bool, str, tuple[str, ...]], ItemPlan] = {}
        self._exports: dict[str, bool] = {}
        self._positions: dict[str, int] = {}

    def in_force(self, jurisdiction: str, on: dt.date | None) -> list[RuleSet]:
        return self.library.in_force(jurisdiction, on, self.pins)

    def plan(self, jurisdiction: JurisdictionId, on: dt.date | None, service: str, regions: tuple[str, ...]
             ) -> ItemPlan:
        key = (jurisdiction, self.library.span(on), on is None, service, regions)
        hit = self._plans.get(key)
        if hit is None:
            if len(self._plans) >= MAX_PLANS:      # bounded: an audit of millions of items keeps a few thousand
                self._plans.clear()
            hit = self._plans[key] = self._plan(jurisdiction, on, service, regions)
        return hit

    def _plan(self, jurisdiction: JurisdictionId, on: dt.date | None, service: str, regions: tuple[str, ...]
              ) -> ItemPlan:
        lib = self.library
        sets = self.in_force(jurisdiction, on)
        addressing = [rs for rs in sets if _in_scope(rs, service, regions)]
        role = {rs.id: rs.spec.jurisdictions[jurisdiction] for rs in addressing}
        primary = [rs for rs in addressing if role[rs.id] == "primary"]
        fallback = [rs for rs in addressing if role[rs.id] == "fallback"] if not primary else []
        supplemental = [rs for rs in addressing if role[rs.id] == "supplemental"]
        words = service.replace("_", " ")
        notes: list[PlanNote] = []
        jur = lib.policy.of(jurisdiction)
        if fallback:
            fb = jur.fallback_note(on)
            if fb is not None:
                notes.append(PlanNote("jurisdiction.fallback", f"jurisdictions/{jurisdiction}", fb.citation, "note",
                                      fb.message.format(service=words, guideline=fallback[0].spec.guideline.name)))
        steps = [Step(rs, "supplemental") for rs in supplemental] + [Step(rs, "primary") for rs in primary] \
            + [Step(rs, "fallback") for rs in fallback]
        sequence_note = None
        entry = jur.sequence(on, {rs.id for rs in primary})
        if entry is not None:
            used = sorted((rs for rs in (lib.version_in_force(rid, on, self.pins) for rid in entry.use)
                           if rs is not None and _in_scope(rs, service, regions)), key=self._position)
            if used:
                steps += [Step(rs, "sequence", entry.unless) for rs in used]
                sequence_note = PlanNote("jurisdiction.search-sequence", f"jurisdictions/{jurisdiction}",
                                         entry.citation, "note",
                                         " ".join(entry.message.split()).format(service=words))
        ordered = tuple(s for s in steps if self._exporting(s.ruleset)) + \
            tuple(s for s in steps if not self._exporting(s.ruleset))
        ids = tuple(s.ruleset.id for s in ordered)
        import fnmatch
        presumptions = tuple(p for p in lib.policy.presumptions
                             if any(fnmatch.fnmatchcase(rid, pat) for rid in ids for pat in p.applies_to))
        return ItemPlan(jurisdiction, on, service, regions, ordered, bool(primary or fallback), tuple(notes),
                        sequence_note, presumptions, ids)

    def _position(self, rs: RuleSet) -> int:
        if not self._positions:
            self._positions.update((r.key, k) for k, r in enumerate(self.library.rulesets))
        return self._positions[rs.key]

    def _exporting(self, rs: RuleSet) -> bool:
        hit = self._exports.get(rs.key)
        if hit is None:
            hit = self._exports[rs.key] = any(r.then.derive and r.then.export for r in rs.spec.rules)
        return hit


def _in_scope(rs: RuleSet, service: str, regions: tuple[str, ...]) -> bool:
    scope = rs.spec.scope
    return service in scope.services and may_overlap(scope.regions, regions)


__all__ = ["Step", "PlanNote", "ItemPlan", "Planner"]
