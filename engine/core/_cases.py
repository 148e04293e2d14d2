"""The case format (../shared/case-format.md, version 1) as pydantic models, and the loaders.

Loading streams: one case at a time from YAML, multi-document YAML, JSON or JSONL, so a batch of any
size is never held in memory. A document that cannot be read or fails validation is one error entry
(file, line, document index, field path) and the batch goes on: valid cases before and after it are
still yielded. Every YAML and JSON read goes through engine/core/_yamlpos.py (safe, bounded).

Messages never echo free text from a case (request text, diagnosis text, names, dates): they name the
field path; short enum-like values are echoed only when they match ``_ECHO`` (e.g. ``physcial_therapy``).
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from . import _dx
from ._errors import CaseError, Problem, did_you_mean
from ._visits import VisitTextError, parse_visits
from ._yamlpos import CASE_FILE, JSONL_LINE, InputError, dotted, iter_yaml, load_json, mark, too_large

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
_ICD_ECHO = re.compile(r"^[A-Za-z0-9.]{1,10}$")

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


def _echo(value: Any, pattern: re.Pattern = _ECHO) -> str | None:
    """repr of value when it matches pattern (not free text), else None."""
    return repr(value) if isinstance(value, str) and pattern.match(value) else None


def _check_id(v: Any) -> Any:
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
            raise ValueError(f"{_echo(v, _ICD_ECHO) or 'the value'} is not an ICD-9-CM diagnosis code "
                             "(e.g. 729.1, 847.2, 722.10)")
        return v

    @field_validator("icd10")
    @classmethod
    def _valid_icd10(cls, v: str | None) -> str | None:
        if v is not None and not _dx.icd10_valid(v):
            raise ValueError(f"{_echo(v, _ICD_ECHO) or 'the value'} is not an ICD-10-CM code "
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
    body_regions: list[Region] = []
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
        return _check_id(v)

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
    body_regions: list[Region] = []
    visits_completed: Completed | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None

    @field_validator("service")
    @classmethod
    def _service_spelt_right(cls, v: str) -> str:
        return check_service(v)


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
        raise ValueError(f"{_echo(v) or 'the value'} is not a known service; did you mean '{close}'?")
    return v


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


class Documentation(_Model):
    functional_improvement: Flag = None
    objective_functional_deficits: Flag = None
    home_exercise_program: Flag = None
    unable_to_do_home_exercise: Flag = None
    new_injury_or_flare: Flag = None
    exceptional_factors: Flag = None
    medication_reduction: Flag = None
    equipment_described: Flag = None
    therapy_plateau: Flag = None     # extension: therapy improved, then reached a plateau


class History(_Model):
    therapy: list[TherapyCourse] | None = Field(default=None, max_length=MAX_HISTORY)   # None: not said; []: none
    surgeries: list[Surgery] = Field(default=[], max_length=MAX_HISTORY)
    injections: list[Injection] = Field(default=[], max_length=MAX_HISTORY)
    medications: list[Medication] = Field(default=[], max_length=MAX_HISTORY)
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
    diagnoses: list[Diagnosis] = Field(default=[], max_length=MAX_DIAGNOSES)
    requests: list[Request] = Field(min_length=1, max_length=MAX_REQUESTS)
    history: History = History()

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, v: Any) -> Any:
        return _check_id(v)

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


# ---------------------------------------------------------------------------------------------
# loading


@dataclass
class Loaded:
    """One document read from a file: a valid case, or the problems that stop it from being one."""

    source: str
    line: int | None
    case: Case | None = None
    problems: list[Problem] | None = None
    raw_id: str | None = None          # the document's id as far as it could be read (escaped, for messages)
    index: int | None = None           # 0-based position of the document in its file (YAML stream, JSON list)

    @property
    def ok(self) -> bool:
        return self.case is not None


def case_schema() -> dict:
    """JSON Schema of the case format as ptcheck accepts it."""
    schema = Case.model_json_schema()
    schema["$id"] = "https://ptcheck.invalid/schema/case-1.json"
    schema["title"] = "ptcheck case (format ptcheck/case@1)"
    return schema


def validate_case(data: Any, *, source: str = "<input>", line: int | None = None,
                  node: yaml.Node | None = None, index: int | None = None) -> Loaded:
    """Validate one parsed document; never raises for bad input, returns its problems instead."""
    raw_id = safe_id(data.get("id")) if isinstance(data, dict) and data.get("id") is not None else None
    if not isinstance(data, dict):
        return Loaded(source, line, problems=[Problem(
            f"a case must be a mapping, not {_kind(data)}", file=source, line=line, code="C001")],
            raw_id=raw_id, index=index)
    too_long = _too_long(data)
    if too_long is not None:           # refused before any item is validated (17,000 items took seconds)
        loc, top = too_long
        where_line, where_col = mark(node, loc) if node is not None else (line, None)
        return Loaded(source, line, problems=[Problem(
            f"{dotted(loc)} has more than {top:,} entries (the maximum for one case; "
            "docs/case-format-extensions.md, Maxima): split the case", file=source, line=where_line,
            column=where_col, path=dotted(loc), code="C100")], raw_id=raw_id, index=index)
    try:
        return Loaded(source, line, case=Case.model_validate(data), raw_id=raw_id, index=index)
    except ValidationError as e:
        return Loaded(source, line, problems=_problems(e, source, line, node), raw_id=raw_id, index=index)
    except RecursionError:                 # the loaders bound nesting; data built in Python may not be
        return Loaded(source, line, problems=[Problem("nesting too deep", file=source, line=line, code="Y004")],
                      raw_id=raw_id, index=index)


def _too_long(data: dict) -> tuple[list, int] | None:
    """(field path, maximum) of the first list of the case longer than its maximum, else None."""
    history = data.get("history")
    lists: list[tuple[list, Any, int]] = [(["requests"], data.get("requests"), MAX_REQUESTS),
                                          (["diagnoses"], data.get("diagnoses"), MAX_DIAGNOSES)]
    if isinstance(history, dict):
        lists += [(["history", k], history.get(k), MAX_HISTORY)
                  for k in ("therapy", "surgeries", "injections", "medications")]
    for loc, value, top in lists:
        if isinstance(value, list) and len(value) > top:
            return loc, top
    return None


def _kind(data: Any) -> str:
    return {list: "a list", str: "text", type(None): "empty (null)", bool: "true/false",
            int: "a number", float: "a number"}.get(type(data), type(data).__name__)


_FIELD_NAMES = {
    "Case": Case, "Review": Review, "Patient": Patient, "Diagnosis": Diagnosis, "Request": Request,
    "TherapyCourse": TherapyCourse, "Surgery": Surgery, "Injection": Injection, "Medication": Medication,
    "Documentation": Documentation, "History": History, "Origin": Origin,
}
_KEY_ECHO = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")


def _problems(e: ValidationError, source: str, line: int | None, node: yaml.Node | None) -> list[Problem]:
    out = []
    for err in e.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        loc = [p if isinstance(p, int) or _KEY_ECHO.match(str(p)) else "?" for p in loc]
        path = dotted(loc)
        msg, hint = err["msg"], None
        if err["type"] == "extra_forbidden":
            key = str(loc[-1]) if loc else "?"
            msg = f"unknown key '{key}'" if key != "?" else "unknown key"
            hint = did_you_mean(key, _siblings(loc)) if key != "?" else None
        elif err["type"] == "enum" and "region" in path:
            allowed = ", ".join(r.value for r in Region)
            shown = _echo(err.get("input"))
            msg = (f"unknown body region {shown}; allowed: {allowed}" if shown else
                   f"the value at {path} is not a body region; allowed: {allowed}")
            if shown:
                hint = did_you_mean(err["input"], [r.value for r in Region])
        elif err["type"] in ("int_type", "bool_type"):
            msg = ("a count must be a whole number written as one (not true/false, text or a decimal)"
                   if err["type"] == "int_type" else "must be true or false (written as true or false)")
        elif err["type"] == "missing":
            msg = f"required key '{loc[-1]}' is missing"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        where_line, where_col = (mark(node, loc, key=err["type"] == "extra_forbidden")
                                 if node is not None else (line, None))
        out.append(Problem(msg, file=source, line=where_line, column=where_col, path=path,
                           code="C100", suggestion=hint))
    return out


def _siblings(loc: list) -> list[str]:
    """Field names allowed beside loc[-1] (for 'did you mean')."""
    model: type[BaseModel] = Case
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        ann = field.annotation
        inner = getattr(ann, "__args__", None)
        cand = [a for a in (inner or (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not cand:
            for a in inner or ():
                cand += [b for b in getattr(a, "__args__", ()) if isinstance(b, type) and issubclass(b, BaseModel)]
        if not cand:
            return []
        model = cand[0]
    return list(model.model_fields)


_YAML_SUFFIXES = {".yaml", ".yml"}


def iter_case_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Case files under the given files or folders, in a stable order."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and (f.suffix in _YAML_SUFFIXES | {".json", ".jsonl"}) \
                        and not f.name.endswith((".tests.yaml", ".expected.yaml")):
                    yield f
        elif p.exists():
            yield p
        else:
            raise CaseError(f"{p}: no such file or folder")


def load_cases(paths: Iterable[str | Path]) -> Iterator[Loaded]:
    """Every document in every case file, valid or not, streamed. A case id used twice in the batch
    (in one file or across files) is an error on the later document (C013)."""
    seen: dict[str, tuple[str, int | None]] = {}
    for f in iter_case_files(paths):
        yield from unique_ids(load_file(f), seen)


def unique_ids(loaded: Iterable[Loaded], seen: dict | None = None) -> Iterator[Loaded]:
    """The documents, with each valid case whose id was seen before turned into a C013 error."""
    seen = {} if seen is None else seen
    for item in loaded:
        if item.case is not None:
            cid = item.case.id
            if cid in seen:
                src, ln = seen[cid]
                first = f"{src}:{ln}" if ln is not None else src
                item = Loaded(item.source, item.line, problems=[Problem(
                    f"case id '{safe_id(cid)}' is used twice in this batch (first at {first})",
                    file=item.source, line=item.line, path="id", code="C013")],
                    raw_id=item.raw_id, index=item.index)
            else:
                seen[cid] = (item.source, item.line)
        yield item


def load_file(path: str | Path) -> Iterator[Loaded]:
    """Every document of one case file (YAML, JSON or JSONL), each valid or an error entry."""
    path = Path(path)
    source = str(path)
    try:
        fh = path.open("rb")
    except OSError as e:
        yield Loaded(source, None, problems=[Problem(f"cannot read: {e.strerror or e}", file=source,
                                                     code="C002")])
        return
    empty = True
    with fh:
        if path.suffix == ".jsonl":
            for item in unique_ids(_load_jsonl(_bounded_lines(fh, JSONL_LINE.max_bytes), source)):
                empty = False
                yield item
        else:
            try:
                data = fh.read(CASE_FILE.max_bytes + 1)
            except OSError as e:
                yield Loaded(source, None, problems=[Problem(f"cannot read: {e.strerror or e}", file=source,
                                                             code="C002")])
                return
    if path.suffix != ".jsonl":
        for item in load_text(data, source, fmt="json" if path.suffix == ".json" else "yaml"):
            empty = False
            yield item
    if empty:          # an empty file, comments only, [] or blank lines: said, never a silent exit 0
        yield Loaded(source, None, problems=[Problem(
            "no case in this file (it is empty, holds only comments, or an empty list)", file=source,
            code="C003")], index=0)


def load_text(text: str | bytes, source: str = "<input>", fmt: str = "yaml") -> Iterator[Loaded]:
    """Cases from text or bytes: 'json', 'jsonl' or (multi-document) 'yaml'. Case ids must be unique."""
    if fmt == "jsonl":
        lines: list[str] | list[bytes] = text.splitlines()
        numbered: list[tuple[int, str | bytes | None]] = list(enumerate(lines, start=1))
        yield from unique_ids(_load_jsonl(numbered, source))
        return
    if fmt == "json":
        yield from unique_ids(_load_json(text, source))
        return
    yield from unique_ids(_load_yaml(text, source))


def _load_yaml(text: str | bytes, source: str) -> Iterator[Loaded]:
    for doc in iter_yaml(text, source, CASE_FILE):
        if doc.problem is not None:
            yield Loaded(source, doc.problem.line or doc.line, problems=[doc.problem], index=doc.index)
        else:
            yield validate_case(doc.data, source=source, line=doc.line, node=doc.node, index=doc.index)


def _load_json(text: str | bytes, source: str) -> Iterator[Loaded]:
    try:
        data = load_json(text, source, CASE_FILE)
    except InputError as e:
        yield Loaded(source, e.problems[0].line, problems=e.problems, index=0)
        return
    for i, doc in enumerate(data if isinstance(data, list) else [data]):
        yield validate_case(doc, source=source, line=None, index=i)


def load_json_line(source: str, n: int, text: str | bytes | None) -> Loaded:
    """One JSONL line (line number n) as a case or its error; text None: the line is over the limit."""
    if text is None:
        return Loaded(source, n, problems=[too_large(source, JSONL_LINE, n)], index=n - 1)
    # the line's own end is not part of the JSON (else an unclosed string reads as a control character)
    text = text.rstrip(b"\r\n") if isinstance(text, bytes) else text.rstrip("\r\n")
    try:
        data = load_json(text, source, JSONL_LINE, line=n)
    except InputError as e:
        return Loaded(source, n, problems=e.problems, index=n - 1)
    return validate_case(data, source=source, line=n, index=n - 1)


def _load_jsonl(lines: Iterable[tuple[int, str | bytes | None]], source: str) -> Iterator[Loaded]:
    for n, line in lines:
        if line is not None and not line.strip():
            continue
        yield load_json_line(source, n, line)


def _bounded_lines(fh: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) of each line, never reading more than limit + 1 bytes of one line into
    memory; a longer line is (n, None)."""
    n = 0
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        n += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while True:                               # skip the rest of the long line
                more = fh.readline(1 << 16)
                if not more or more.endswith(b"\n"):
                    break
            yield n, None
            continue
        yield n, line.rstrip(b"\r\n")
