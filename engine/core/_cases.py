"""The case format (../shared/case-format.md, version 1) as pydantic models, and its JSON Schema.

The value types (regions, services, counts and their maxima, ids) are engine/core/_casetypes.py's; reading
files, texts and JSON lines into validated cases is engine/core/_caseload.py.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from . import _documentation, _dx
from ._casetypes import (
    ICD_ECHO,
    MAX_DIAGNOSES,
    MAX_FREQUENCY,
    MAX_HISTORY,
    MAX_HOURS,
    MAX_HOURS_PER_DAY,
    MAX_RELIEF_WEEKS,
    MAX_REQUESTS,
    MAX_VISITS,
    MAX_WEEKS,
    VISIT_SERVICES,
    Completed,
    Count,
    Flag,
    Frequency,
    Hours,
    HoursPerDay,
    Quantity,
    Region,
    Weeks,
    check_id,
    check_service,
    echo,
    safe_id,
)
from ._visits import VisitTextError, parse_visits

# a list left out is empty: a factory (pydantic deep-copies a default list for every case), shown as [] in the schema
_EMPTY: dict[str, Any] = {"default": []}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True, allow_inf_nan=False)


class Review(_Model):
    kind: Literal["ur", "imr", "iro"] = "ur"
    date: dt.date | None = None


class Patient(_Model):
    age: int | None = Field(default=None, ge=0, le=120)
    sex: Literal["male", "female", "other"] | None = None


class Diagnosis(_Model):
    text: str | None = None
    icd9: str | None = None
    icd10: str | None = None
    region: Region | None = None

    @field_validator("icd9", "icd10", mode="before")
    @classmethod
    def _code_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) else v

    @field_validator("icd9")
    @classmethod
    def _valid_icd9(cls, v: str | None) -> str | None:
        if v is not None and not _dx.icd9_valid(v):
            raise ValueError(f"{echo(v, ICD_ECHO) or 'the value'} is not an ICD-9-CM diagnosis code "
                             "(e.g. 729.1, 847.2, 722.10)")
        return v

    @field_validator("icd10")
    @classmethod
    def _valid_icd10(cls, v: str | None) -> str | None:
        if v is not None and not _dx.icd10_valid(v):
            raise ValueError(f"{echo(v, ICD_ECHO) or 'the value'} is not an ICD-10-CM code "
                             "(e.g. M79.18, S33.5XXA, M54.16)")
        return v

    @model_validator(mode="after")
    def _something(self) -> "Diagnosis":
        if not (self.text or self.icd9 or self.icd10):
            raise ValueError("a diagnosis needs text, icd9 or icd10")
        return self


Actual = Literal["upheld", "overturned", "partially_overturned", "certify", "modify", "non_certify"]


class Request(_Model):
    id: str
    text: str = ""
    service: str
    body_regions: list[Region] = Field(default_factory=list, json_schema_extra=_EMPTY)
    visits: Count | None = None
    frequency_per_week: Frequency | None = None
    duration_weeks: Weeks | None = None
    actual: Actual | None = None
    visits_range: tuple[Count, Count] | None = Field(default=None, description=(
        "a range of visits requested, [low, high] ('2-3x/wk x 4-6 wks' is [8, 18]); visits is then the "
        "high end. Read from the text when not given"))
    hours: Hours | None = Field(default=None, description="total hours requested (work conditioning/hardening)")
    hours_per_day: HoursPerDay | None = Field(default=None, description="hours per day or session requested")
    reading: str | None = Field(default=None, description=(
        "set by ptcheck: which words or fields gave the number of visits, e.g. '\"2x4\" -> 8 visits'"))
    text_notes: tuple[str, ...] = Field(default=(), description=(
        "set by ptcheck: what the request text said that was not counted (a bracketed note about the "
        "original request), or that it gives no number of visits that could be read"))
    # medication
    drug: str | None = None
    strength: str | None = None
    quantity: Quantity | None = None
    sig: str | None = None
    # office visit
    specialty: str | None = None
    purpose: str | None = None
    # injection
    kind: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, v: Any) -> Any:
        return check_id(v)

    @field_validator("service")
    @classmethod
    def _service_spelt_right(cls, v: str) -> str:
        return check_service(v)

    @model_validator(mode="after")
    def _derive_visits(self) -> "Request":
        """visits = frequency x weeks, or what the text says; any two that disagree are an error.

        A range ("2-3x/wk x 4-6 wks", or visits_range given) sets visits to its HIGH end (the amount
        requested, read as "up to") and visits_range to (low, high); a single stated count must lie
        within the range. reading says which words or fields gave the count; text_notes what the text
        said that was not counted, or that it gave no count that could be read."""
        stated: dict[str, int] = {}
        reading = None
        if self.visits is not None:
            stated["visits"] = self.visits
            reading = f"visits: {self.visits}"
        if self.frequency_per_week is not None and self.duration_weeks is not None:
            product = self.frequency_per_week * self.duration_weeks
            stated["frequency_per_week x duration_weeks"] = product
            reading = reading or (f"frequency_per_week x duration_weeks: {self.frequency_per_week}x"
                                  f"{self.duration_weeks} -> {product} visits")
        freq, weeks = self.frequency_per_week, self.duration_weeks
        ranges: dict[str, tuple[int, int]] = {}
        if self.visits_range is not None:
            lo, hi = self.visits_range
            if lo > hi:
                raise ValueError("visits_range must be [low, high] with low <= high")
            ranges["visits_range"] = (lo, hi)
        hours, per_day = self.hours, self.hours_per_day
        notes: tuple[str, ...] = ()
        if self.service in VISIT_SERVICES:
            try:
                parsed = parse_visits(self.text)
            except VisitTextError as e:
                raise ValueError(str(e)) from None
            if parsed.visits_range is not None:
                ranges["text"] = parsed.visits_range
            elif parsed.visits is not None:
                stated["text"] = parsed.visits
            if parsed.reading and (parsed.visits is not None or not reading):
                reading = f"text: {parsed.reading}"
            freq = freq if freq is not None else parsed.frequency_per_week
            weeks = weeks if weeks is not None else parsed.duration_weeks
            for name, given, read in (("hours", hours, parsed.hours), ("hours_per_day", per_day, parsed.hours_per_day)):
                if given is not None and read is not None and given != read:
                    raise ValueError(f"the number of hours contradicts itself: {name} = {given}, text = {read}")
            hours = hours if hours is not None else parsed.hours
            per_day = per_day if per_day is not None else parsed.hours_per_day
            notes = tuple(n for n in parsed.notes
                          if not (stated and n.startswith("the request text gives no number")))
        values = set(stated.values())
        if len(values) > 1:
            detail = ", ".join(f"{k} = {v}" for k, v in stated.items())
            raise ValueError(f"the number of visits contradicts itself: {detail}")
        if len(set(ranges.values())) > 1:
            detail = ", ".join(f"{k} = {lo}-{hi}" for k, (lo, hi) in ranges.items())
            raise ValueError(f"the number of visits contradicts itself: {detail}")
        visits = values.pop() if values else None
        rng = next(iter(ranges.values()), None)
        if rng is not None:
            if visits is not None and not rng[0] <= visits <= rng[1]:
                detail = ", ".join([f"{k} = {v}" for k, v in stated.items()]
                                   + [f"{k} = {lo}-{hi}" for k, (lo, hi) in ranges.items()])
                raise ValueError(f"the number of visits contradicts itself: {detail}")
            visits = rng[1] if visits is None else visits
        if visits is None and hours and per_day and hours % per_day == 0:
            # "80 hours, 8 hours per day": the sessions are the hours over the hours a day
            visits = hours // per_day
            reading = f"hours / hours per day: {hours} / {per_day} -> {visits} sessions"
            notes = tuple(n for n in notes if not n.startswith("the request text gives no number"))
        for name, value, top in (("visits", visits, MAX_VISITS), ("frequency_per_week", freq, MAX_FREQUENCY),
                                 ("duration_weeks", weeks, MAX_WEEKS), ("hours", hours, MAX_HOURS),
                                 ("hours_per_day", per_day, MAX_HOURS_PER_DAY)):
            if value is not None and value > top:      # read from the text, or frequency x weeks
                raise ValueError(f"the request gives {name} = {value}, over the maximum of {top:,} "
                                 "(docs/case-format-extensions.md, Maxima)")
        derived: tuple[tuple[str, object], ...] = (
            ("visits", visits), ("frequency_per_week", freq), ("duration_weeks", weeks), ("visits_range", rng),
            ("hours", hours), ("hours_per_day", per_day), ("reading", reading), ("text_notes", notes))
        for field_name, field_value in derived:
            object.__setattr__(self, field_name, field_value)
        return self


class TherapyCourse(_Model):
    service: str
    body_regions: list[Region] = Field(default_factory=list, json_schema_extra=_EMPTY)
    visits_completed: Completed | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None

    @field_validator("service")
    @classmethod
    def _service_spelt_right(cls, v: str) -> str:
        return check_service(v)



class Surgery(_Model):
    procedure: str | None = None
    kind: str | None = None
    region: Region | None = None
    date: dt.date | None = None


class Injection(_Model):
    kind: str
    region: Region | None = None
    date: dt.date | None = None
    pain_relief_percent: float | None = Field(default=None, ge=0, le=100)
    relief_weeks: float | None = Field(default=None, ge=0, le=MAX_RELIEF_WEEKS)


class Medication(_Model):
    name: str
    since: dt.date | None = None


_DOC = """The documentation flags of a case (history.documentation): yes, no, or left out (not documented).
One field per flag of the documentation table (engine/core/_documentation.py), which is where a flag is
added: its facts and the web form's flags follow from the same table."""
if TYPE_CHECKING:
    class Documentation(_Model):
        pass
else:
    Documentation = create_model(
        "Documentation", __base__=_Model, __module__=__name__, __doc__=_DOC,
        **{d.id: (Flag, Field(default=None, description=f"{d.fact} ({d.source})"))
           for d in _documentation.TABLE if d.flag})


class History(_Model):
    therapy: list[TherapyCourse] | None = Field(default=None, max_length=MAX_HISTORY)   # None: not said; []: none
    surgeries: list[Surgery] = Field(default_factory=list, json_schema_extra=_EMPTY, max_length=MAX_HISTORY)
    injections: list[Injection] = Field(default_factory=list, json_schema_extra=_EMPTY, max_length=MAX_HISTORY)
    medications: list[Medication] = Field(default_factory=list, json_schema_extra=_EMPTY, max_length=MAX_HISTORY)
    documentation: Documentation = Documentation()


class Origin(_Model):
    """Where the case and its actual outcomes come from."""

    outcome: Literal["real", "written"] = Field(description=(
        "real: the actual outcomes come from a real published decision; written: the case was written "
        "to the guideline by the ptcheck authors"))
    source: str | None = Field(default=None, description="a free-text reference, e.g. the seed letter file")


class Case(_Model):
    format: Literal["ptcheck/case@1"] | None = None
    id: str
    origin: Origin | None = None
    jurisdiction: Literal["CA", "TX"]
    review: Review = Review()
    patient: Patient = Patient()
    injury_date: dt.date | None = None
    diagnoses: list[Diagnosis] = Field(default_factory=list, json_schema_extra=_EMPTY, max_length=MAX_DIAGNOSES)
    requests: list[Request] = Field(min_length=1, max_length=MAX_REQUESTS)
    history: History = History()

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, v: Any) -> Any:
        return check_id(v)

    @model_validator(mode="after")
    def _unique_request_ids(self) -> "Case":
        ids = [r.id for r in self.requests]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"request ids must be unique within a case: {', '.join(sorted(str(safe_id(i)) for i in dup))}")
        if self.injury_date and self.review.date and self.injury_date > self.review.date:
            raise ValueError("injury_date is after review.date: one of the two dates is wrong (an injury comes "
                             "before the request for its treatment)")
        return self


def case_schema() -> dict:
    """JSON Schema of the case format as ptcheck accepts it."""
    schema = Case.model_json_schema()
    schema["$id"] = "https://ptcheck.invalid/schema/case-1.json"
    schema["title"] = "ptcheck case (format ptcheck/case@1)"
    return schema

