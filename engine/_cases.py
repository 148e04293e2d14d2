"""The case format (../shared/case-format.md, version 1) as pydantic models, and the loaders.

Loading streams: one case at a time from YAML, multi-document YAML, JSON or JSONL, so a batch of any
size is never held in memory. A case that fails validation is reported with its file, line and field
path and the batch goes on.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import _dx
from ._errors import CaseError, Problem, did_you_mean
from ._visits import VisitTextError, parse_visits
from ._yamlpos import dotted, mark

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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)


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
            raise ValueError(f"{v!r} is not an ICD-9-CM diagnosis code (e.g. 729.1, 847.2, 722.10)")
        return v

    @field_validator("icd10")
    @classmethod
    def _valid_icd10(cls, v: str | None) -> str | None:
        if v is not None and not _dx.icd10_valid(v):
            raise ValueError(f"{v!r} is not an ICD-10-CM code (e.g. M79.18, S33.5XXA, M54.16)")
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
    visits: int | None = Field(default=None, ge=0)
    frequency_per_week: int | None = Field(default=None, ge=0)
    duration_weeks: int | None = Field(default=None, ge=0)
    actual: Actual | None = None
    # medication
    drug: str | None = None
    strength: str | None = None
    quantity: int | None = Field(default=None, ge=0)
    sig: str | None = None
    # office visit
    specialty: str | None = None
    purpose: str | None = None
    # injection
    kind: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v

    @model_validator(mode="after")
    def _derive_visits(self) -> "Request":
        """visits = frequency x weeks, or what the text says; any two that disagree are an error."""
        stated: dict[str, int] = {}
        if self.visits is not None:
            stated["visits"] = self.visits
        if self.frequency_per_week is not None and self.duration_weeks is not None:
            stated["frequency_per_week x duration_weeks"] = self.frequency_per_week * self.duration_weeks
        freq, weeks = self.frequency_per_week, self.duration_weeks
        if self.service in VISIT_SERVICES:
            try:
                parsed = parse_visits(self.text)
            except VisitTextError as e:
                raise ValueError(str(e)) from None
            if parsed.visits is not None:
                stated["text"] = parsed.visits
            freq = freq if freq is not None else parsed.frequency_per_week
            weeks = weeks if weeks is not None else parsed.duration_weeks
        values = set(stated.values())
        if len(values) > 1:
            detail = ", ".join(f"{k} = {v}" for k, v in stated.items())
            raise ValueError(f"the number of visits contradicts itself: {detail}")
        visits = values.pop() if values else None
        object.__setattr__(self, "visits", visits)
        object.__setattr__(self, "frequency_per_week", freq)
        object.__setattr__(self, "duration_weeks", weeks)
        return self


class TherapyCourse(_Model):
    service: str
    body_regions: list[Region] = []
    visits_completed: int | None = Field(default=None, ge=0)
    start_date: dt.date | None = None
    end_date: dt.date | None = None


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
    relief_weeks: float | None = Field(default=None, ge=0)


class Medication(_Model):
    name: str
    since: dt.date | None = None


class Documentation(_Model):
    functional_improvement: bool | None = None
    objective_functional_deficits: bool | None = None
    home_exercise_program: bool | None = None
    unable_to_do_home_exercise: bool | None = None
    new_injury_or_flare: bool | None = None
    exceptional_factors: bool | None = None
    medication_reduction: bool | None = None
    equipment_described: bool | None = None


class History(_Model):
    therapy: list[TherapyCourse] | None = None      # None: the records do not say; []: none
    surgeries: list[Surgery] = []
    injections: list[Injection] = []
    medications: list[Medication] = []
    documentation: Documentation = Documentation()


class Case(_Model):
    format: Literal["ptcheck/case@1"] | None = None
    id: str
    jurisdiction: Literal["CA", "TX"]
    review: Review = Review()
    patient: Patient = Patient()
    injury_date: dt.date | None = None
    diagnoses: list[Diagnosis] = []
    requests: list[Request] = Field(min_length=1)
    history: History = History()

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v

    @model_validator(mode="after")
    def _unique_request_ids(self) -> "Case":
        ids = [r.id for r in self.requests]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"request ids must be unique within a case: {', '.join(sorted(dup))}")
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
    raw_id: str | None = None

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
                  node: yaml.Node | None = None) -> Loaded:
    """Validate one parsed document; never raises for bad input, returns its problems instead."""
    raw_id = str(data.get("id")) if isinstance(data, dict) and data.get("id") is not None else None
    if not isinstance(data, dict):
        return Loaded(source, line, problems=[Problem(
            f"a case must be a mapping, not {type(data).__name__}", file=source, line=line, code="C001")],
            raw_id=raw_id)
    try:
        return Loaded(source, line, case=Case.model_validate(data), raw_id=raw_id)
    except ValidationError as e:
        return Loaded(source, line, problems=_problems(e, source, line, node), raw_id=raw_id)


_FIELD_NAMES = {
    "Case": Case, "Review": Review, "Patient": Patient, "Diagnosis": Diagnosis, "Request": Request,
    "TherapyCourse": TherapyCourse, "Surgery": Surgery, "Injection": Injection, "Medication": Medication,
    "Documentation": Documentation, "History": History,
}


def _problems(e: ValidationError, source: str, line: int | None, node: yaml.Node | None) -> list[Problem]:
    out = []
    for err in e.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        path = dotted(loc)
        msg, hint = err["msg"], None
        if err["type"] == "extra_forbidden":
            key = str(loc[-1]) if loc else "?"
            msg = f"unknown key '{key}'"
            hint = did_you_mean(key, _siblings(loc))
        elif err["type"] == "enum" and "region" in path:
            msg = f"unknown body region {err.get('input')!r}; allowed: {', '.join(r.value for r in Region)}"
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
    """Every document in every case file, valid or not, streamed."""
    for f in iter_case_files(paths):
        yield from load_file(f)


def load_file(path: str | Path) -> Iterator[Loaded]:
    path = Path(path)
    source = str(path)
    try:
        if path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as fh:
                yield from _load_jsonl(fh, source)
            return
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        yield Loaded(source, None, problems=[Problem(f"cannot read: {e}", file=source, code="C002")])
        return
    if path.suffix == ".json":
        yield from load_text(text, source, fmt="json")
    else:
        yield from load_text(text, source, fmt="yaml")


def load_text(text: str, source: str = "<input>", fmt: str = "yaml") -> Iterator[Loaded]:
    """Cases from text: 'json', 'jsonl' or (multi-document) 'yaml'."""
    if fmt == "jsonl":
        yield from _load_jsonl(text.splitlines(), source)
        return
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            yield Loaded(source, e.lineno, problems=[Problem(f"invalid JSON: {e.msg}", file=source,
                                                             line=e.lineno, column=e.colno, code="C003")])
            return
        for i, doc in enumerate(data if isinstance(data, list) else [data]):
            yield validate_case(doc, source=source, line=None)
        return
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as e:
        pm = getattr(e, "problem_mark", None)
        yield Loaded(source, pm.line + 1 if pm else None, problems=[Problem(
            f"invalid YAML: {getattr(e, 'problem', e)}", file=source,
            line=pm.line + 1 if pm else None, column=pm.column + 1 if pm else None, code="C003")])
        return
    for node in nodes:
        if node is None:
            continue
        data = yaml.safe_load(yaml.serialize(node))
        yield validate_case(data, source=source, line=node.start_mark.line + 1, node=node)


def _load_jsonl(lines: Iterable[str], source: str) -> Iterator[Loaded]:
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            yield Loaded(source, n, problems=[Problem(f"invalid JSON: {e.msg}", file=source, line=n,
                                                      column=e.colno, code="C003")])
            continue
        yield validate_case(data, source=source, line=n)
