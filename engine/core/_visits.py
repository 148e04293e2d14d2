"""Read the number of visits out of a request line ("2x4", "2 times a week for 4 weeks", "x12", "(8sessions)").

Request shorthand is documented in ../shared/guidelines.md §7.3: "FxW" is F visits a week for W weeks;
"x12" or "12 visits" alone is a total. A line that states both must agree, or it is a contradiction.

Also read: ranges ("PT 2-3x/wk x 4-6 wks" is 8 to 18 visits; "6-8 visits"), a frequency and a
duration apart ("2x/wk ... x 4 weeks"), hours ("80 hours of work hardening", "8 hours per day"), and
bracketed notes about another request or decision ("10 sessions (request was 12 sessions)"): the note
is recorded, not counted; the main text wins.

Linear time: the text is lower-cased, runs of whitespace are collapsed and number words become digits
first; every pattern below then has only bounded quantifiers (possessive where a number could be
re-split) and starts with a character set, so the regex engine skips ahead in C and each start costs a
bounded amount of work. Each pattern runs once over the text (findall / sub, no per-match Python work
beyond distinct values). 100 kB of arbitrary text reads in well under 0.1 s (tests/test_visits.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "sixteen": 16, "eighteen": 18, "twenty": 20,
    "twenty-four": 24, "once": 1, "twice": 2, "thrice": 3,
}


def _number_words() -> re.Pattern:
    """Number words as whole words; grouped by first letter, with the word-start check after that
    letter, so the pattern starts with a character set (a fast scan)."""
    by_first: dict[str, list[str]] = {}
    for w in sorted(_WORDS, key=len, reverse=True):
        by_first.setdefault(w[0], []).append(re.escape(w[1:]))
    return re.compile("|".join(f"{c}(?<!\\w{c})(?:{'|'.join(rest)})\\b" for c, rest in by_first.items()))


_NUMBER_WORD = _number_words()
_SPACE = re.compile(r"\s+")


def _num(name: str, before: str = r"\w") -> str:
    """1-3 digits, not part of a longer number, not preceded by a character of `before`. The
    lookbehind sits after the first digit so the pattern starts with a digit (a fast C scan)."""
    look = rf"(?<![{before or chr(92) + 'd'}]\d)"
    return rf"(?P<{name}>\d{look}\d{{0,2}}(?!\d))"


def _range(name: str, before: str = r"\w") -> str:
    """A number or a range of two ("2-3", "4 to 6"): groups name and name_h; never re-split."""
    return rf"{_num(name, before)}(?: ?(?:-|–|to) ?(?P<{name}_h>\d{{1,3}})(?!\d))?+"


_WEEKS = r"(?:weeks?|wks?)\b"
_NOT_AFTER_FXW = r"\w#/."          # "#2x4", "1/2x4", "0.5x4" are not frequency x weeks
_NOT_AFTER_TOTAL = r"\w."
_PER = r"(?:a|per|/|each)"
_FUNIT = r"(?:times?|x|×|visits?|sessions?|treatments?)"
# "2 times a week", "2x/wk", "3 visits per week", "2 weekly", "2/wk"
_FREQ_TAIL = rf"(?:(?: ?{_FUNIT}(?: ?{_PER})?| ?{_PER}) ?(?:weeks?|wks?|weekly)\b| ?weekly\b)"


def _fxw() -> str:
    """One pattern, one pass: a number (or range), then the first tail that fits."""
    times = rf"{_FREQ_TAIL}[^\d]{{0,12}}?(?:(?:for|x|×|times|over) ?)?{_range('w1', '')} ?{_WEEKS}"
    fxw = rf" ?[x×] ?{_range('w2', '')}(?! ?(?:mg|ml|units?)\b)(?: ?{_WEEKS}|(?![\w/]|\.\d))"
    ntimesn = rf" ?times? {_num('w3', '')}(?! ?(?:visits?|sessions?|hours?|hrs?))"
    return rf"{_range('f', _NOT_AFTER_FXW)}(?:{times}|{fxw}|{ntimesn})"


# frequency x duration: "2 times a week for 4 weeks", "2-3x/wk x 4-6 wks", "2x4", "3x4wks", "2 times 8"
_FXW = re.compile(_fxw())
# a frequency alone ("3x/wk") and a duration alone ("x 4 weeks", "for 6 weeks")
_FREQ = re.compile(rf"{_range('f')}{_FREQ_TAIL}")
_DUR_ALONE = re.compile(
    rf"(?:f(?<![\w.]f)or|x(?<![\w.]x)|×(?<![\w.]×)|o(?<![\w.]o)ver) ?{_range('w', '')} ?{_WEEKS}")
# totals: "12 visits", "(8sessions)", "#6 visits", "12 (12) sessions", "6-8 visits"; "x12" (no frequency)
# up to two words between the number and the unit: "8 additional sessions", "12 more physical therapy visits"
_BETWEEN = (r"(?:(?:additional|more|further|extra|supervised|outpatient|post-?op(?:erative)?|skilled|formal|"
            r"physical therapy|occupational therapy|pt|ot|aquatic(?: therapy)?|chiropractic|acupuncture|massage|"
            r"therapy|treatment) )?")
_TOTAL = (rf"{_range('t1', _NOT_AFTER_TOTAL)} ?(?:\( ?\d{{1,3}} ?\) ?)?{_BETWEEN}{_BETWEEN}"
          r"(?:visits?|sessions?|treatments?|appointments?)\b")
_XTOTAL = (rf"[x×](?<![\w.][x×]) ?{_range('t2', '')}"
           rf"(?! ?(?:weeks?|wks?|hours?|hrs?|days?|months?|mg|ml|units?|min\w{{0,5}})\b|\w)")
_TOTALS = re.compile(_TOTAL)
_TOTALS_X = re.compile(f"{_TOTAL}|{_XTOTAL}")
# "80 hours", "8 hours per day", "8 hrs/day", "4 hours daily"
_HOURS = re.compile(rf"{_num('h', _NOT_AFTER_TOTAL)} ?(?:hours?|hrs?)\b(?P<pd> ?{_PER} ?day\b| ?daily\b)?")
# innermost bracketed groups that speak of another request or decision
_NOTE = re.compile(
    r"[(\[](?P<inner>[^()\[\]]{0,500}?\b(?:request(?:ed|s)?|original(?:ly)?|modif(?:y|ied|ication)|was|were|"
    r"previous(?:ly)?|prior|certified|approved|authori[sz]ed|denied|non-?certified|reduced|changed)\b"
    r"[^()\[\]]{0,500})[)\]]")


def _int(tok: str) -> int:
    return int(tok)


def _pair(lo: str, hi: str) -> tuple[int, int]:
    a = int(lo)
    b = int(hi) if hi else a
    return (a, b) if a <= b else (b, a)


def _show(r: tuple[int, int]) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}-{r[1]}"


@dataclass(frozen=True)
class ParsedVisits:
    """What a request line says. For a range, ``visits`` is the HIGH end (what is requested, read as
    "up to", as a reviewer reads it), ``visits_range`` is (low, high); frequency_per_week and
    duration_weeks are then the high ends too. ``reading`` says which words gave the count and
    ``notes`` what was read but not counted, or that nothing could be read; neither takes part in ==."""

    visits: int | None = None
    frequency_per_week: int | None = None
    duration_weeks: int | None = None
    visits_range: tuple[int, int] | None = None
    hours: int | None = None
    hours_per_day: int | None = None
    reading: str | None = field(default=None, compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)


class VisitTextError(ValueError):
    """The request line states two different numbers of visits. The message carries numbers only,
    never the request text (it may hold health information)."""


class _Words:
    """The words that gave the reading: the first match of each kind (and how many more)."""

    def __init__(self):
        self.parts: list[str] = []

    def add(self, pattern: re.Pattern, text: str, count: int) -> None:
        m = pattern.search(text)
        if m:
            more = f" (and {count - 1} more)" if count > 1 else ""
            self.parts.append(f'"{m.group(0).strip()}"{more}')


def _normal(text: str) -> str:
    text = _SPACE.sub(" ", text.lower())
    return _NUMBER_WORD.sub(lambda m: str(_WORDS[m.group(0)]), text)


def parse_visits(text: str) -> ParsedVisits:
    """Return what the request line says about visits; fields it does not state are None.

    Raises VisitTextError when the line contradicts itself ("2x4 (10 sessions)").
    """
    if not text or not text.strip():
        return ParsedVisits()
    text = _normal(text)
    notes: list[str] = []
    words = _Words()

    # bracketed notes about another request or decision: recorded, not counted
    note_inner = _NOTE.findall(text) if ("(" in text or "[" in text) else ()
    if note_inner:
        for inner in note_inner[:3]:
            said = _count_only(inner)
            notes.append("a bracketed note about another request or decision was not counted"
                         + (f" (it reads {said})" if said else ""))
        if len(note_inner) > 3:
            notes.append(f"{len(note_inner) - 3} more bracketed notes were not counted")
        text = _NOTE.sub(" ", text)

    # hours
    found = set(_HOURS.findall(text)) if ("hour" in text or "hr" in text) else set()
    hours = {int(h) for h, pd in found if not pd}
    per_day = {int(h) for h, pd in found if pd}
    if len(hours) > 1 or len(per_day) > 1:
        raise VisitTextError("the request text gives several numbers of hours: "
                             + ", ".join(map(str, sorted(hours | per_day))))
    hour_words = _Words()
    if found:
        hour_words.add(_HOURS, text, len(found))
        text = _HOURS.sub(" ", text)

    # frequency x duration
    idx = _FXW.groupindex
    readings = set()
    n_fxw = 0
    fi, fh, w1, w1h, w2, w2h, w3 = (idx[k] - 1 for k in ("f", "f_h", "w1", "w1_h", "w2", "w2_h", "w3"))
    weekly = "wk" in text or "week" in text
    for g in (_FXW.findall(text) if (weekly or "x" in text or "×" in text or "time" in text) else ()):
        n_fxw += 1
        f = _pair(g[fi], g[fh])
        w = _pair(g[w1], g[w1h]) if g[w1] else _pair(g[w2], g[w2h]) if g[w2] else _pair(g[w3], "")
        readings.add((f, w))
        if len(readings) > 1:
            shown = sorted(f"{_show(f)}x{_show(w)}" for f, w in readings)
            raise VisitTextError("the request text gives two frequency x duration readings: "
                                 + " and ".join(shown))
    freq = weeks = None
    if readings:
        freq, weeks = readings.pop()
        words.add(_FXW, text, n_fxw)
        text = _FXW.sub(" ", text)
    else:                                              # a frequency and a duration apart
        f_m = _FREQ.search(text) if weekly else None
        if f_m:
            freq = _pair(f_m.group("f"), f_m.group("f_h"))
            words.parts.append(f'"{f_m.group(0).strip()}"')
            text = text[:f_m.start()] + " " + text[f_m.end():]
        d_m = _DUR_ALONE.search(text) if weekly else None
        if d_m:
            weeks = _pair(d_m.group("w"), d_m.group("w_h"))
            words.parts.append(f'"{d_m.group(0).strip()}"')
            text = text[:d_m.start()] + " " + text[d_m.end():]

    # totals
    pattern = _TOTALS_X if freq is None else _TOTALS
    totals = set()
    n_tot = 0
    hint = any(u in text for u in ("visit", "session", "treatment", "appointment")) or \
        (freq is None and ("x" in text or "×" in text))
    for g in (pattern.findall(text) if hint else ()):
        n_tot += 1
        totals.add(_pair(g[0], g[1]) if g[0] else _pair(g[2], g[3]))
        if len(totals) > 2:
            break
    if n_tot:
        words.add(pattern, text, n_tot)

    visits = vrange = None
    if freq is not None and weeks is not None:
        product = (freq[0] * weeks[0], freq[1] * weeks[1])
        others = {t for t in totals if not (product[0] <= t[0] and t[1] <= product[1])}
        if others:
            raise VisitTextError(
                f"the request text says {_show(freq)}x{_show(weeks)} = {_show(product)} visits but also "
                f"{', '.join(_show(o) for o in sorted(others))} visits")
        vrange = product
    elif len(totals) > 1:
        raise VisitTextError("the request text gives several visit counts: "
                             + ", ".join(_show(t) for t in sorted(totals)))
    elif totals:
        vrange = totals.pop()
    if vrange is not None:
        visits = vrange[1]
    h = next(iter(hours)) if hours else None
    hpd = next(iter(per_day)) if per_day else None
    if h is None and hpd is not None and visits is not None:
        h = visits * hpd
        notes.append(f"hours = {visits} sessions x {hpd} hours per day")
    parts = words.parts + hour_words.parts
    reading = None
    if parts:
        got = []
        if visits is not None:
            got.append(f"{_show(vrange)} visits")
        elif freq is not None or weeks is not None:
            got.append(", ".join(x for x in (f"{_show(freq)} a week" if freq else "",
                                              f"for {_show(weeks)} weeks" if weeks else "") if x))
        if h is not None or hpd is not None:
            got.append(", ".join(x for x in (f"{h} hours" if h is not None else "",
                                              f"{hpd} hours per day" if hpd is not None else "") if x))
        reading = " + ".join(parts) + " -> " + "; ".join(got)
    if visits is None:
        notes.append("the request text gives no number of visits that could be read")
    return ParsedVisits(
        visits=visits,
        frequency_per_week=freq[1] if freq else None,
        duration_weeks=weeks[1] if weeks else None,
        visits_range=vrange if vrange and vrange[0] != vrange[1] else None,
        hours=h, hours_per_day=hpd, reading=reading, notes=tuple(notes))


def _count_only(inner: str) -> str | None:
    """What a bracketed note says in numbers ("12 visits"), for the note; never raises."""
    try:
        p = parse_visits(inner)
    except VisitTextError:
        return None
    if p.visits is not None:
        return f"{_show(p.visits_range or (p.visits, p.visits))} visits"
    return None
