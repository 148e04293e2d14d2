"""Read the number of visits out of a request line ("2x4", "2 times a week for 4 weeks", "x12", "(8sessions)").

Request shorthand is documented in ../shared/guidelines.md §7.3: "FxW" is F visits a week for W weeks;
"x12" or "12 visits" alone is a total. A line that states both must agree, or it is a contradiction.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "sixteen": 16, "eighteen": 18, "twenty": 20,
    "twenty-four": 24, "once": 1, "twice": 2, "thrice": 3,
}
_NUM = r"(\d{1,3}|" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")"
_UNIT = r"(?:visits?|sessions?|treatments?|appointments?|times?)"

# "2x4", "2 X 4 weeks", "3×6"
_FXW = re.compile(rf"(?<![\w#/.]){_NUM}\s*[x×]\s*{_NUM}(?!\s*(?:mg|ml|units?)\b)(?![\w/.])", re.I)
# "2 times a week for 4 weeks", "2 times per week x 6 weeks", "twice weekly for 3 weeks", "2 times 8"
_TIMES = re.compile(
    rf"\b{_NUM}\s*(?:times?|x|visits?|sessions?|treatments?)?\s*(?:a|per|/|each)?\s*(?:week|wk|weekly)s?\b[^\d]{{0,12}}?"
    rf"(?:for|x|times|over)?\s*{_NUM}\s*(?:weeks?|wks?)\b",
    re.I,
)
_TWICE_WEEKLY = re.compile(rf"\b{_NUM}\s*(?:times?)\s+{_NUM}\b(?!\s*(?:visits?|sessions?))", re.I)
# "x12", "X 12"  (a total, when no frequency precedes it)
_XTOTAL = re.compile(rf"(?<![\w.]){'x'}\s*{_NUM}\b(?!\s*(?:weeks?|wks?))", re.I)
# "12 visits", "(8sessions)", "#6 visits", "twelve (12) sessions"
_TOTAL = re.compile(rf"#?\s*{_NUM}\s*(?:\(\s*\d+\s*\)\s*)?{_UNIT}\b", re.I)


def _n(tok: str) -> int:
    tok = tok.lower()
    return _WORDS[tok] if tok in _WORDS else int(tok)


@dataclass(frozen=True)
class ParsedVisits:
    visits: int | None = None
    frequency_per_week: int | None = None
    duration_weeks: int | None = None


class VisitTextError(ValueError):
    """The request line states two different numbers of visits."""


def parse_visits(text: str) -> ParsedVisits:
    """Return what the request line says about visits; fields it does not state are None.

    Raises VisitTextError when the line contradicts itself ("2x4 (10 sessions)").
    """
    if not text:
        return ParsedVisits()
    freq = weeks = None
    rest = text
    m = _TIMES.search(text) or _FXW.search(text) or _TWICE_WEEKLY.search(text)
    if m:
        freq, weeks = _n(m.group(1)), _n(m.group(2))
        rest = text[: m.start()] + " " + text[m.end():]
    totals = {_n(t.group(1)) for t in _TOTAL.finditer(rest) if not _is_times_word(t)}
    if freq is None:
        totals |= {_n(t.group(1)) for t in _XTOTAL.finditer(rest)}
    if freq is not None and weeks is not None:
        product = freq * weeks
        others = totals - {product}
        if others:
            raise VisitTextError(
                f"request text {text!r} says {freq}x{weeks} = {product} visits but also "
                f"{', '.join(str(o) for o in sorted(others))} visits"
            )
        return ParsedVisits(product, freq, weeks)
    if len(totals) > 1:
        raise VisitTextError(
            f"request text {text!r} gives several visit counts: {', '.join(map(str, sorted(totals)))}"
        )
    return ParsedVisits(visits=totals.pop() if totals else None)


def _is_times_word(m: re.Match) -> bool:
    # "2 times" is a frequency, not a total
    return m.group(0).lower().rstrip().endswith(("time", "times"))
