"""Decisions under unknown facts: the readings of a case that its records allow, and how they combine.

Where the records leave a fact unknown that the rules in force read, the item is evaluated once per
*reading*: a copy of the case with that fact filled in with a value the records allow. Unknowns, and
the values tried for each (UNKNOWNS below):

  prior_therapy    the history does not address prior therapy (`history.therapy` left out):
                   none at all, or a course of the same service on the same regions (its count then
                   unknown too); for work conditioning / hardening also a course of physical therapy
                   with no earlier program (they follow a trial of therapy)
  course_visits    a recorded prior course has no count: its bounds, from 1 (a recorded course is care
                   given) to `high` (beyond every number the rule sets in force state), and the points
                   where a rule's number can flip the outcome (every number in those rule sets, the
                   numbers less the request, and one more than each)
  course_dates     a prior course on the operated region has no dates while the surgery has one:
                   before the surgery, or after it
  request_range    the request gives a range ("2-3x/wk x 4-6 wks"): its ends, and the rule numbers in it

How the readings combine (`combine_readings`, one function, tested row by row):
  1. every reading gives the same outcome and certified visits -> that answer; the rationale says so;
  2. else, for each unknown that flips the answer and for which a presumption in force states a
     reading (rules/presumptions.yaml, each with its reason and citation), keep only the presumed
     readings; if they then agree -> that answer, stating the presumption and what the answer would be
     were it rebutted;
  3. else -> pend, naming exactly the unknowns that flip the answer and the answer under each reading.
A limit never silently assumes zero: an unknown count is never read as 0 unless the records allow it.
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ._cases import Case, Request, TherapyCourse
from ._facts import FAMILIES, may_overlap, regions_overlap

MAX_READINGS = 256          # beyond this many combinations the item pends ("too many unknowns")


@dataclass(frozen=True)
class Unknown:
    """One fact the records leave open, and the values the records allow for it."""
    kind: str                        # prior_therapy | course_visits | course_dates | request_range
    key: str                         # which course or request (for filling it in)
    label: str                       # what is unknown, in words, for the rationale
    values: tuple                    # the values tried
    facts: frozenset                 # the rule facts it moves (only these make it worth evaluating)
    short: str = ""                  # a short name for listing values ("visits of prior course 1")
    need: str = ""                   # the documentation that would settle it


@dataclass
class Reading:
    values: dict                     # Unknown.key -> value
    labels: list[str]                # "prior visits: 1", ...
    case: Case
    request: Request
    outcome: str = "pend"
    certified: int | None = None
    findings: list = field(default_factory=list)

    @property
    def answer(self) -> tuple:
        return self.outcome, self.certified


@dataclass
class Presumption:
    id: str
    unknown: str
    reading: str
    applies_to: list[str]
    reason: str
    citation: str
    within_months_of_surgery: float | None = None     # only when the review is this close to the surgery

    def applies(self, ruleset_ids: list[str], facts: dict) -> bool:
        if not any(fnmatch.fnmatchcase(rid, pat) for rid in ruleset_ids for pat in self.applies_to):
            return False
        if self.within_months_of_surgery is not None:
            months = facts.get("months_since_surgery")
            return months is not None and months <= self.within_months_of_surgery
        return True


def load_presumptions(root: Path) -> list[Presumption]:
    path = root / "presumptions.yaml"
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [Presumption(**p) for p in data.get("presumptions", [])]


# -- finding the unknowns --------------------------------------------------------------------------

_COUNT_FACTS = frozenset({"completed_visits", "total_visits", "prior_therapy", "prior_courses", "prior_pt_trial",
                          "service_visits_per_injury", "service_visits_outside_postsurgical",
                          "visits_since_surgery", "postsurgical_total_visits"})
_SURGERY_FACTS = frozenset({"visits_since_surgery", "postsurgical_total_visits",
                            "service_visits_outside_postsurgical"})
_REQUEST_FACTS = frozenset({"request_visits", "total_visits", "postsurgical_total_visits"})


def unknowns(case: Case, req: Request, numbers: frozenset, high: int) -> list[Unknown]:
    """The unknowns of one item, in a fixed order. `numbers` are the numbers the rule sets in force
    state, `high` a count beyond all of them."""
    family = FAMILIES.get(req.service)
    out: list[Unknown] = []
    rng = getattr(req, "visits_range", None)
    if rng and rng[0] != rng[1]:
        lo, hi = rng
        out.append(Unknown("request_range", req.id, f"the number of visits requested ({lo} to {hi})",
                           _points(lo, hi, numbers, 0), _REQUEST_FACTS, "visits requested",
                           "the exact number of visits requested"))
    if family is None:
        return out
    courses = case.history.therapy
    if courses is None:
        # work conditioning / hardening follow a trial of therapy: "none" is then no therapy of any kind,
        # and a third reading has therapy but no earlier program
        values = ("none", "therapy only", "given") if family == "work_rehab" else ("none", "given")
        out.append(Unknown("prior_therapy", "", "whether any prior therapy was given (the history does not say)",
                           values, _COUNT_FACTS, "prior therapy",
                           "whether therapy was already given for this region, with its visits and dates"))
        return out
    regions = list(req.body_regions)
    surgery = _surgery_date(case, regions)
    for i, c in enumerate(courses):
        if FAMILIES.get(c.service) != family or not may_overlap(c.body_regions, regions):
            continue
        what = f"prior course {i + 1} ({c.service.replace('_', ' ')})"
        if c.visits_completed is None:
            out.append(Unknown("course_visits", str(i), f"the visits of {what} (the records give no count)",
                               _points(1, high, numbers, req.visits or 0), _COUNT_FACTS, f"visits of prior course {i + 1}",
                               f"the number of visits of prior course {i + 1}"))
        if surgery and c.end_date is None and c.start_date is None:
            out.append(Unknown("course_dates", str(i), f"whether {what} came before or after the surgery "
                               f"of {surgery.isoformat()} (the records give no dates)",
                               ("before", "after"), _SURGERY_FACTS, f"prior course {i + 1} vs the surgery",
                               f"the dates of prior course {i + 1}"))
    return out


def _surgery_date(case: Case, regions: list) -> dt.date | None:
    review = case.review.date
    dated = [s.date for s in case.history.surgeries if s.date and (s.region is None or not regions or
             regions_overlap([s.region], regions)) and (review is None or s.date <= review)]
    return max(dated) if dated else None


def _points(lo: int, hi: int, numbers: frozenset, requested: int) -> tuple:
    """lo, hi and every point between them where a rule's number can flip the outcome."""
    pts = {lo, hi}
    for n in numbers:
        for p in (n - 1, n, n + 1, n - requested, n - requested + 1):
            if lo <= p <= hi:
                pts.add(p)
    return tuple(sorted(pts))


_NUMBER = re.compile(r"(?<![\d'.-])\d{1,3}(?![\d'-])")


def rule_numbers(texts) -> frozenset:
    """The small whole numbers written in rule conditions, derives and limits (dates excluded)."""
    out = set()
    for t in texts:
        out.update(int(m) for m in _NUMBER.findall(str(t)))
    return frozenset(out)


# -- filling them in -------------------------------------------------------------------------------

def fill(case: Case, req: Request, u: Unknown, value) -> tuple[Case, Request, str]:
    """The case and request with one unknown filled in, and the words for that reading."""
    hist = case.history
    if u.kind == "request_range":
        req = req.model_copy(update={"visits": value})
        reqs = [req if r.id == req.id else r for r in case.requests]
        return case.model_copy(update={"requests": reqs}), req, f"{value} visits requested"
    if u.kind == "prior_therapy":
        if value == "none":
            return case.model_copy(update={"history": hist.model_copy(update={"therapy": []})}), req, \
                "no prior therapy"
        if value == "therapy only":
            course = TherapyCourse(service="physical_therapy", body_regions=list(req.body_regions))
            return case.model_copy(update={"history": hist.model_copy(update={"therapy": [course]})}), req, \
                "prior physical therapy given, no earlier work conditioning or hardening program"
        course = TherapyCourse(service=req.service, body_regions=list(req.body_regions))
        return case.model_copy(update={"history": hist.model_copy(update={"therapy": [course]})}), req, \
            "prior therapy given (its extent unknown)"
    i = int(u.key)
    courses = list(hist.therapy or [])
    c = courses[i]
    if u.kind == "course_visits":
        courses[i] = c.model_copy(update={"visits_completed": value})
        words = course_words(value, i + 1, "more than any number its rules state" if value == max(u.values) else None)
    else:
        surgery = _surgery_date(case, list(req.body_regions))
        assert surgery is not None
        day = surgery - dt.timedelta(days=1) if value == "before" else surgery
        courses[i] = c.model_copy(update={"end_date": day})
        words = f"prior course {i + 1} {value} the surgery"
    return case.model_copy(update={"history": hist.model_copy(update={"therapy": courses})}), req, words


def readings(case: Case, req: Request, numbers: frozenset, high: int, reads: frozenset) -> tuple[list[Unknown], list[Reading]] | None:
    """Every combination of the values of the unknowns that the rules in force read; None when there
    are no such unknowns. Filling in one unknown can reveal another (a course assumed given has no count
    and no dates): they are found again on each filled case."""
    first = [u for u in unknowns(case, req, numbers, high) if u.facts & reads]
    if not first:
        return None
    seen: dict[tuple, Unknown] = {}
    out: list[Reading] = []

    def walk(c: Case, r: Request, values: dict, labels: list[str]) -> None:
        if len(out) > MAX_READINGS:
            return
        todo = [u for u in unknowns(c, r, numbers, high) if u.facts & reads and (u.kind, u.key) not in values]
        if not todo:
            out.append(Reading(dict(values), list(labels), c, r))
            return
        u = todo[0]
        seen.setdefault((u.kind, u.key), u)
        for v in u.values:
            c2, r2, words = fill(c, r, u, v)
            walk(c2, r2, {**values, (u.kind, u.key): v}, labels + [words])
    walk(case, req, {}, [])
    return list(seen.values()), out


# -- combining them --------------------------------------------------------------------------------

@dataclass
class Combined:
    outcome: str
    certified: int | None
    basis: list[Reading]                         # the readings the answer rests on
    flipping: list[Unknown]                      # unknowns that change the answer (pend) ...
    presumed: list[tuple[Presumption, Unknown]]  # ... or that a presumption settled
    rebutted: list[Reading]                      # readings a presumption set aside


def flips(u: Unknown, rs: list[Reading]) -> bool:
    """True when changing only u's value changes the answer. Unknowns that exist in some readings only
    (a course's count exists only where prior therapy was given) are not held fixed."""
    key = (u.kind, u.key)
    with_u = [r for r in rs if key in r.values]
    common = sorted(set.intersection(*(set(r.values) for r in rs)) - {key}) if rs else []
    groups: dict[tuple, set] = {}
    for r in with_u:
        rest = tuple(str(r.values[k]) for k in common)      # the other values, in one order for all
        groups.setdefault(rest, set()).add(r.answer)
    return any(len(a) > 1 for a in groups.values())


def combine_readings(unknown_list: list[Unknown], rs: list[Reading], presumptions: list[tuple[Presumption, Unknown]]) -> Combined:
    """The answer over the readings (see the module docstring)."""
    if len(rs) > MAX_READINGS:
        return Combined("pend", None, [], list(unknown_list), [], [])
    answers = {r.answer for r in rs}
    if len(answers) == 1:
        return Combined(rs[0].outcome, rs[0].certified, rs, [], [], [])
    flipping = [u for u in unknown_list if flips(u, rs)]
    kept, used = rs, []
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


def _least_basis(kept: list[Reading], rs: list[Reading], used: list[tuple[Presumption, Unknown]]) -> list[Reading]:
    """The readings a presumption kept, led by the one to show the rules' findings for. A count presumed
    at its high end is a stand-in ("more than any number the rules state"): the findings are shown for
    the least count that gives the same answer, every other value held, so that the figures are ones
    the answer really turns on ("10 or more visits": 10 + 12 = 22), not the stand-in (49 + 12 = 61)."""
    lead = kept[0]
    for p, u in used:
        key = (u.kind, u.key)
        if p.reading != "high" or key not in lead.values or not isinstance(lead.values[key], int):
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
            exact = course_words(value, course)
            least.labels = [course_words(value, course, f"the answer is the same for any count from {value} up")
                            if w == exact else w for w in least.labels]   # the same reading (callers key their work by it)
            lead = least
    return [lead] + [r for r in kept if r is not kept[0]] if lead is not kept[0] else kept


def course_words(value: int, course: int, or_more: str | None = None) -> str:
    """The words of a reading of a course's count: '4 visits in prior course 1', or with `or_more` (why the
    count stands for every larger one) '10 or more visits in prior course 1 (...)'."""
    return (f"{value} or more visits in prior course {course} ({or_more})" if or_more
            else f"{value} visits in prior course {course}")


def answer_words(outcome: str, certified: int | None = None) -> str:
    """An answer in words: 'certify', 'non-certify', 'pend', 'modify to 6'."""
    return f"modify to {certified}" if outcome == "modify" else outcome.replace("_", "-")


def summarize_answers(answers) -> str:
    """Answers in words, consecutive modifications run together: 'modify to 1-9 or non-certify'."""
    answers = sorted(set(answers), key=lambda a: (a[0] != "modify", a[0], a[1] or 0))
    mods = [c for o, c in answers if o == "modify" and c is not None]
    words, run = [], []
    for c in mods + [None]:
        if c is not None and run and c == run[-1] + 1:
            run.append(c)
            continue
        if run:
            words.append(f"modify to {run[0]}" if len(run) == 1 else f"modify to {run[0]}-{run[-1]}")
        run = [c] if c is not None else []
    words += [answer_words(o) for o, _ in answers if o != "modify"]
    return " or ".join(words)


def _order(v):
    return (0, v) if isinstance(v, int) else (1, str(v))


def describe(unknown_list: list[Unknown], rs: list[Reading]) -> str:
    """The values of each unknown over some readings, compactly: 'visits of prior course 1: 1-5, 7'."""
    parts = []
    for u in unknown_list:
        vals = sorted({r.values[(u.kind, u.key)] for r in rs if (u.kind, u.key) in r.values}, key=_order)
        if not vals:
            continue
        if all(isinstance(v, int) for v in vals):
            # values next to each other among the points tried stand for the whole interval between them
            order = sorted(set(u.values) | set(vals))
            top = order[-1]
            runs, start, prev = [], vals[0], vals[0]
            for v in vals[1:] + [None]:
                if v is not None and order.index(v) == order.index(prev) + 1:
                    prev = v
                    continue
                end = f"{prev}+" if prev == top else str(prev)
                runs.append(end if start == prev else f"{start}-{end}")
                if v is not None:
                    start = prev = v
            text = ", ".join(runs)
        else:
            text = " or ".join(_VALUE_WORDS.get(str(v), str(v)) for v in vals)
        partial = sum(1 for r in rs if (u.kind, u.key) in r.values) < len(rs)
        parts.append(f"{u.short} (where there is such a course): {text}" if partial else f"{u.short}: {text}")
    return "; ".join(parts)


# how the values of prior_therapy read in a rationale
_VALUE_WORDS = {"none": "none", "therapy only": "physical therapy but no earlier program",
                "given": "a course of the service requested"}


def group_answers(rs: list[Reading]) -> list[tuple[tuple, list[Reading]]]:
    """Readings grouped by answer, in first-seen order (for the rationale)."""
    out: dict[tuple, list[Reading]] = {}
    for r in rs:
        out.setdefault(r.answer, []).append(r)
    return list(out.items())


__all__ = ["Unknown", "Reading", "Presumption", "Combined", "unknowns", "fill", "readings", "combine_readings",
           "flips", "load_presumptions", "rule_numbers", "group_answers", "describe", "summarize_answers", "answer_words",
           "MAX_READINGS"]

