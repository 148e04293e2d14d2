"""The value types of the case format (../shared/case-format.md, version 1): body regions, services, outcomes,
counts with their maxima, ids; and which values from a case a message may echo.

Messages never echo free text from a case (request text, diagnosis text, names, dates): they name the
field path; short enum-like values are echoed only when they match ``_ECHO`` (e.g. ``physcial_therapy``).
"""
from __future__ import annotations

import re
import unicodedata
from enum import Enum
from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictInt

CASE_FORMAT = "ptcheck/case@1"


class Region(str, Enum):
    cervical = "cervical"
    thoracic = "thoracic"
    lumbar = "lumbar"
    shoulder = "shoulder"
    elbow = "elbow"
    wrist = "wrist"
    hand = "hand"
    upper_extremity = "upper_extremity"
    hip = "hip"
    knee = "knee"
    ankle = "ankle"
    foot = "foot"
    lower_extremity = "lower_extremity"


KNOWN_SERVICES = (
    "physical_therapy", "occupational_therapy", "chiropractic", "acupuncture", "aquatic_therapy",
    "massage", "work_conditioning", "work_hardening", "home_exercise_kit", "durable_medical_equipment",
    "medication", "office_visit", "injection",
)
# Services counted in visits; for the others a number in the request line is a quantity, not visits.
VISIT_SERVICES = frozenset({
    "physical_therapy", "occupational_therapy", "chiropractic", "acupuncture", "aquatic_therapy",
    "massage", "work_conditioning", "work_hardening",
})
OUTCOMES = ("certify", "modify", "non_certify", "pend")
REVIEW_OUTCOMES = ("upheld", "overturned", "partially_overturned")


# A value from a case is echoed in a message only when it is clearly not free text.
_ECHO = re.compile(r"^[a-z_]{1,30}$")
ICD_ECHO = re.compile(r"^[A-Za-z0-9.]{1,10}$")

# Counts are whole numbers written as whole numbers (true, 8.0 or "8" are refused, never read as 1 or 8), each
# with a maximum far above any real request, so that every figure derived from them (frequency x weeks,
# completed + requested, a rule's arithmetic on them) stays far inside 64 bits: a case either answers or is
# one clear error, never an engine failure (docs/case-format-extensions.md, "Maxima").
MAX_VISITS = 10_000             # visits, visits_range, visits derived from frequency x weeks or hours
MAX_FREQUENCY = 100             # frequency_per_week
MAX_WEEKS = 1_000               # duration_weeks
MAX_HOURS = 100_000             # hours
MAX_HOURS_PER_DAY = 24          # hours_per_day
MAX_QUANTITY = 1_000_000        # quantity (medication)
MAX_COMPLETED = 100_000         # visits_completed of a prior course
MAX_RELIEF_WEEKS = 10_000       # relief_weeks of an injection


MAX_REQUESTS = 100             # requested items in one case
MAX_DIAGNOSES = 100            # diagnoses in one case
MAX_HISTORY = 1_000            # entries of each history list (therapy, surgeries, injections, medications)

Count = Annotated[StrictInt, Field(ge=0, le=MAX_VISITS)]
Frequency = Annotated[StrictInt, Field(ge=0, le=MAX_FREQUENCY)]
Weeks = Annotated[StrictInt, Field(ge=0, le=MAX_WEEKS)]
Hours = Annotated[StrictInt, Field(ge=0, le=MAX_HOURS)]
HoursPerDay = Annotated[StrictInt, Field(ge=0, le=MAX_HOURS_PER_DAY)]
Quantity = Annotated[StrictInt, Field(ge=0, le=MAX_QUANTITY)]
Completed = Annotated[StrictInt, Field(ge=0, le=MAX_COMPLETED)]
Flag = StrictBool | None


def echo(value: Any, pattern: re.Pattern[str] = _ECHO) -> str | None:
    """repr of value when it matches pattern (not free text), else None."""
    return repr(value) if isinstance(value, str) and pattern.match(value) else None


def check_id(v: Any) -> Any:
    """Ids are printable text: control characters (terminal escapes) and invisible format characters
    are refused, never echoed."""
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    if isinstance(v, str):
        if not v.strip():
            raise ValueError("an id must not be empty")
        if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in v):
            raise ValueError("an id must be printable text: it contains control characters "
                             "(e.g. a terminal escape or a line break)")
    return v


def safe_id(v: Any) -> str | None:
    """An id for messages: control characters escaped, at most 80 characters."""
    if v is None:
        return None
    s = str(v)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in s):
        s = s.encode("unicode_escape").decode("ascii")
    return s if len(s) <= 80 else s[:77] + "..."


def check_service(v: str) -> str:
    """A service close to a known one is a typo (an error with 'did you mean'); one far from every
    known service stays allowed: the engine pends it as not addressed (case format, Services)."""
    if v in KNOWN_SERVICES:
        return v
    norm = re.sub(r"[\s\-]+", "_", v.strip().lower())
    close = norm if norm in KNOWN_SERVICES else None
    if close is None:
        import difflib
        hits = difflib.get_close_matches(norm, KNOWN_SERVICES, n=1, cutoff=0.85)
        close = hits[0] if hits else None
    if close is not None:
        raise ValueError(f"{echo(v) or 'the value'} is not a known service; did you mean '{close}'?")
    return v

