"""Readings of unknown facts: the values the records allow for what they leave unknown, and their words.

Where the records leave a fact unknown that the rules in force read, the item is evaluated once per
*reading*: its history with that fact filled in with a value the records allow (engine/core/_evaluate.py
shares one durable_rules run between readings in one class; engine/core/_decide.py combines the answers).
Unknowns, and the values tried for each:

  prior_therapy    the history does not address prior therapy (`history.therapy` left out):
                   none at all, or a course of the same service on the same regions (its count then
                   unknown too); for work conditioning / hardening also a course of physical therapy
                   with no earlier program (they follow a trial of therapy)
  course_visits    a recorded prior course has no count: its bounds, from 1 (a recorded course is care
                   given) to `high` (beyond every number the rule sets in force compare), and the points
                   where a rule's number can flip the outcome (every number those rule sets compare, the
                   numbers less the request, and one more than each)
  course_dates     a prior course on the operated region has no dates while the surgery has one:
                   before the surgery, or after it
  request_range    the request gives a range ("2-3x/wk x 4-6 wks"): its ends, and the rule numbers in it

A reading changes only the facts history_facts derives (engine/core/_facts.py, HISTORY_FACTS): its facts
are the item's other facts with its own history facts. Nothing here decides.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._cases import Case, Request
from ._facts import FAMILIES, HISTORY_FACTS, Course, history_facts, may_overlap, regions_overlap

MAX_READINGS = 256          # beyond this many combinations the item pends ("too many unknowns")

_COUNT_FACTS = frozenset({"completed_visits", "total_visits", "prior_therapy", "prior_courses", "prior_pt_trial",
                          "service_visits_per_injury", "service_visits_outside_postsurgical",
                          "visits_since_surgery", "postsurgical_total_visits"})
_SURGERY_FACTS = frozenset({"visits_since_surgery", "postsurgical_total_visits",
                            "service_visits_outside_postsurgical"})
_REQUEST_FACTS = frozenset({"request_visits", "total_visits", "postsurgical_total_visits"})
assert _COUNT_FACTS | _SURGERY_FACTS | _REQUEST_FACTS <= HISTORY_FACTS


Value = int | str                # a value a reading gives an unknown: a count, or a word (none, given, before ...)


class HasValues(Protocol):
    """A reading, or anything carrying one's values (engine/core/_decide.py Answered)."""
    @property
    def values(self) -> dict[tuple[str, str], Value]: ...


@dataclass(frozen=True)
class Unknown:
    """One fact the records leave open, and the values the records allow for it."""
    kind: str                        # prior_therapy | course_visits | course_dates | request_range
    key: str                         # which course or request (for filling it in)
    label: str                       # what is unknown, in words, for the rationale
    values: tuple[Value, ...]        # the values tried
    facts: frozenset[str]            # the rule facts it moves (only these make it worth evaluating)
    short: str = ""                  # a short name for listing values ("visits of prior course 1")
    need: str = ""                   # the documentation that would settle it


@dataclass(frozen=True)
class History:
    """What a reading fills in: the prior courses (None: the records do not address therapy) and the
    visits requested."""
    courses: tuple[Course, ...] | None
    visits: int | None


@dataclass
class Reading:
    values: dict[tuple[str, str], Value]     # (Unknown.kind, Unknown.key) -> value
    labels: list[str]                # "4 visits in prior course 1", ...
    history: History | None = None
    facts: dict[str, Any] = field(default_factory=dict)      # the item's facts under this reading


@dataclass(frozen=True)
class Found:
    unknowns: list[Unknown]
    readings: list[Reading]


@dataclass(frozen=True)
class Item:
    """What the readings of one item need to know of it."""
    case: Case
    service: str
    regions: tuple[str, ...]
    visits_range: tuple[int, int] | None
    surgery: dt.date | None          # the most recent dated surgery on the item's regions, if any


def item_of(case: Case, req: Request, regions: Sequence[str]) -> Item:
    return Item(case, req.service, tuple(regions), getattr(req, "visits_range", None), _surgery_date(case, regions))


def courses_of(case: Case) -> tuple[Course, ...] | None:
    therapy = case.history.therapy
    if therapy is None:
        return None
    return tuple(Course(c.service, tuple(c.body_regions), c.visits_completed, c.start_date, c.end_date)
                 for c in therapy)


def unknowns(item: Item, h: History, numbers: frozenset[int], high: int, requested: int | None = None) -> list[Unknown]:
    """The unknowns of one item under a history, in a fixed order. `numbers` are the numbers the rule
    sets in force compare, `high` a count beyond all of them; `requested` the visits as requested."""
    family = FAMILIES.get(item.service)
    out: list[Unknown] = []
    rng = item.visits_range
    if rng and rng[0] != rng[1]:
        lo, hi = rng
        out.append(Unknown("request_range", "", f"the number of visits requested ({lo} to {hi})",
                           _points(lo, hi, numbers, 0), _REQUEST_FACTS, "visits requested",
                           "the exact number of visits requested"))
    if family is None:
        return out
    if h.courses is None:
        # work conditioning / hardening follow a trial of therapy: "none" is then no therapy of any kind,
        # and a third reading has therapy but no earlier program
        values = ("none", "therapy only", "given") if family == "work_rehab" else ("none", "given")
        out.append(Unknown("prior_therapy", "", "whether any prior therapy was given (the history does not say)",
                           values, _COUNT_FACTS, "prior therapy",
                           "whether therapy was already given for this region, with its visits and dates"))
        return out
    for i, c in enumerate(h.courses):
        if FAMILIES.get(c.service) != family or not may_overlap(c.body_regions, item.regions):
            continue
        what = f"prior course {i + 1} ({c.service.replace('_', ' ')})"
        if c.visits_completed is None:
            out.append(Unknown("course_visits", str(i), f"the visits of {what} (the records give no count)",
                               _points(1, high, numbers, requested or 0), _COUNT_FACTS,
                               f"visits of prior course {i + 1}", f"the number of visits of prior course {i + 1}"))
        if item.surgery and c.end_date is None and c.start_date is None:
            out.append(Unknown("course_dates", str(i), f"whether {what} came before or after the surgery "
                               f"of {item.surgery.isoformat()} (the records give no dates)",
                               ("before", "after"), _SURGERY_FACTS, f"prior course {i + 1} vs the surgery",
                               f"the dates of prior course {i + 1}"))
    return out


def _surgery_date(case: Case, regions: Sequence[str]) -> dt.date | None:
    review = case.review.date
    dated = [s.date for s in case.history.surgeries if s.date and (s.region is None or not regions or
             regions_overlap([s.region], regions)) and (review is None or s.date <= review)]
    return max(dated) if dated else None


def _points(lo: int, hi: int, numbers: frozenset[int], requested: int) -> tuple[int, ...]:
    """lo, hi and every point between them where a rule's number can flip the outcome."""
    pts = {lo, hi}
    for n in numbers:
        for p in (n - 1, n, n + 1, n - requested, n - requested + 1):
            if lo <= p <= hi:
                pts.add(p)
    return tuple(sorted(pts))


def fill(item: Item, h: History, u: Unknown, value: Value) -> tuple[History, str]:
    """The history with one unknown filled in, and the words for that reading."""
    if u.kind == "request_range":
        assert isinstance(value, int)                  # a count
        return History(h.courses, value), f"{value} visits requested"
    if u.kind == "prior_therapy":
        if value == "none":
            return History((), h.visits), "no prior therapy"
        if value == "therapy only":
            return History((Course("physical_therapy", item.regions),), h.visits), \
                "prior physical therapy given, no earlier work conditioning or hardening program"
        return History((Course(item.service, item.regions),), h.visits), "prior therapy given (its extent unknown)"
    i = int(u.key)
    courses = list(h.courses or ())
    c = courses[i]
    if u.kind == "course_visits":
        assert isinstance(value, int)                  # a count
        courses[i] = Course(c.service, c.body_regions, value, c.start_date, c.end_date)
        words = course_words(value, i + 1, "more than any number its rules state" if value == max(u.values, key=order)
                             else None)
    else:
        assert item.surgery is not None
        day = item.surgery - dt.timedelta(days=1) if value == "before" else item.surgery
        courses[i] = Course(c.service, c.body_regions, c.visits_completed, c.start_date, day)
        words = f"prior course {i + 1} {value} the surgery"
    return History(tuple(courses), h.visits), words


def find(item: Item, given: History, base: dict[str, Any], numbers: frozenset[int], reads: frozenset[str]) -> Found | None:
    """Every combination of the values of the unknowns that the rules in force read, each with its facts
    (`base` updated with the reading's history facts); None when there are no such unknowns. Filling in
    one unknown can reveal another (a course assumed given has no count and no dates): they are found
    again on each filled history."""
    high = max([n for n in numbers if n < 500] or [24]) + 1
    first = [u for u in unknowns(item, given, numbers, high, given.visits) if u.facts & reads]
    if not first:
        return None
    seen: dict[tuple[str, str], Unknown] = {}
    out: list[Reading] = []
    regions = list(item.regions)

    def walk(h: History, values: dict[tuple[str, str], Value], labels: list[str], todo: list[Unknown] | None) -> None:
        if len(out) > MAX_READINGS:
            return
        if todo is None:
            todo = [u for u in unknowns(item, h, numbers, high, h.visits)
                    if u.facts & reads and (u.kind, u.key) not in values]
        if not todo:
            facts = dict(base)
            facts.update(history_facts(item.case, item.service, h.visits, regions, h.courses, base))
            out.append(Reading(dict(values), list(labels), h, facts))
            return
        u, rest = todo[0], todo[1:]
        seen.setdefault((u.kind, u.key), u)
        # a course's count or dates filled in reveal no other unknown: the rest stay as they are; prior
        # therapy filled in gives new courses, and a request's count moves the points of a course's count
        again = u.kind in ("prior_therapy", "request_range")
        for v in u.values:
            h2, words = fill(item, h, u, v)
            walk(h2, {**values, (u.kind, u.key): v}, labels + [words], None if again else rest)
    walk(given, {}, [], None)
    return Found(list(seen.values()), out)


# -- words -----------------------------------------------------------------------------------------

def course_words(value: int, course: int, or_more: str | None = None) -> str:
    """The words of a reading of a course's count: '4 visits in prior course 1', or with `or_more` (why the
    count stands for every larger one) '10 or more visits in prior course 1 (...)'."""
    return (f"{value} or more visits in prior course {course} ({or_more})" if or_more
            else f"{value} visits in prior course {course}")


def answer_words(outcome: str, certified: int | None = None) -> str:
    """An answer in words: 'certify', 'non-certify', 'pend', 'modify to 6'."""
    return f"modify to {certified}" if outcome == "modify" else outcome.replace("_", "-")


def summarize_answers(answers: Iterable[tuple[str, int | None]]) -> str:
    """Answers in words, consecutive modifications run together: 'modify to 1-9 or non-certify'."""
    answers = sorted(set(answers), key=lambda a: (a[0] != "modify", a[0], a[1] or 0))
    mods = [c for o, c in answers if o == "modify" and c is not None]
    words: list[str] = []
    run: list[int] = []
    for c in mods + [None]:
        if c is not None and run and c == run[-1] + 1:
            run.append(c)
            continue
        if run:
            words.append(f"modify to {run[0]}" if len(run) == 1 else f"modify to {run[0]}-{run[-1]}")
        run = [c] if c is not None else []
    words += [answer_words(o) for o, _ in answers if o != "modify"]
    return " or ".join(words)


def order(v: Value) -> tuple[int, int | str]:
    return (0, v) if isinstance(v, int) else (1, str(v))


def describe(unknown_list: list[Unknown], rs: Sequence[HasValues]) -> str:
    """The values of each unknown over some readings (anything with `values`), compactly: 'visits of prior
    course 1: 1-5, 7'."""
    parts = []
    for u in unknown_list:
        vals = sorted({r.values[(u.kind, u.key)] for r in rs if (u.kind, u.key) in r.values}, key=order)
        if not vals:
            continue
        if all(isinstance(v, int) for v in vals):
            # values next to each other among the points tried stand for the whole interval between them
            points = sorted(set(u.values) | set(vals))
            top = points[-1]
            runs, start, prev = [], vals[0], vals[0]
            for v in vals[1:] + [None]:
                if v is not None and points.index(v) == points.index(prev) + 1:
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


__all__ = ["Unknown", "History", "Reading", "Found", "Item", "item_of", "courses_of", "unknowns", "fill", "find",
           "describe", "summarize_answers", "answer_words", "course_words", "MAX_READINGS"]
