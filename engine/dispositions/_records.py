"""Reading disposition files: JSON Lines, one record an object, each with a `kind`:

    {"kind": "disposition", "assertion_id": "…", "request": "1", "disposition": "overridden",
     "reason": "exceptional-factors", "comment": "…", "reviewer": "rev-7", "decided_at": "2026-12-01T10:00:00Z"}
    {"kind": "outcome", "assertion_id": "…", "request": "1", "actual": "upheld", "decided_at": "…"}
    {"kind": "decision", …}        a logged decision, as `ptcheck dispositions export` writes it

`kind` defaults to disposition; `decided_at` to the time of the import; `reviewer` is required. Each bad
line is a problem at file:line:column naming the field and what to write; the good lines are imported.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._reasons import OverrideReasons
from ._store import Disposition, ReviewOutcome, Store, StoreError, now


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DispositionRecord(_Model):
    kind: Literal["disposition"] = "disposition"
    assertion_id: str = Field(min_length=1, max_length=64)
    request: str = Field(min_length=1, max_length=100)
    disposition: Literal["accepted", "overridden"]
    reason: str | None = Field(default=None, max_length=64)
    comment: str | None = Field(default=None, max_length=4000)
    reviewer: str = Field(min_length=1, max_length=200)
    decided_at: dt.datetime | None = None
    source: Literal["cds", "page", "import"] = "import"


class OutcomeRecord(_Model):
    kind: Literal["outcome"]
    assertion_id: str = Field(min_length=1, max_length=64)
    request: str = Field(min_length=1, max_length=100)
    actual: Literal["upheld", "overturned", "partially_overturned"]
    decided_at: dt.datetime | None = None
    source: str = "import"


class ItemRecord(_Model):
    request: str
    outcome: Literal["certify", "modify", "non_certify", "pend"]
    certified_visits: int | None = None
    review_outcome: str | None = None
    rules: list[dict[str, str]] = []
    card_uuid: str | None = None


class DecisionRecord(_Model):
    kind: Literal["decision"]
    assertion_id: str = Field(min_length=1, max_length=64)
    served_at: dt.datetime
    channel: str
    engine_version: str
    rulesets: list[dict[str, str]]
    case_sha256: str
    requested_by: str | None = None
    case_id: str | None = None
    case_json: str | None = None
    items: list[ItemRecord]


@dataclass
class RecordProblem:
    """One bad line of a disposition file: where, and what to write instead."""
    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass
class ImportResult:
    """What an import wrote, per kind, and the lines it refused."""
    decisions: int = 0
    dispositions: int = 0
    outcomes: int = 0
    problems: list[RecordProblem] | None = None


def _utc(t: dt.datetime | None) -> dt.datetime:
    if t is None:
        return now()
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def parse_line(text: str) -> tuple[Any, str | None, int]:
    """(record, problem, column) for one JSON line."""
    try:
        return json.loads(text), None, 1
    except json.JSONDecodeError as e:
        return None, f"not JSON: {e.msg} (each line is one JSON object)", e.colno


def read_records(path: Path) -> list[tuple[int, Any, str | None, int]]:
    """(line, record, problem, column) for every non-blank line; OSError for an unreadable file."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            record, problem, col = parse_line(text)
            if problem is None and not isinstance(record, dict):
                problem, col = "each line is one JSON object ({...})", 1
            out.append((n, record, problem, col))
    return out


def _pydantic_words(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        where = ".".join(str(x) for x in err["loc"]) or "the record"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "literal_error":
            msg = "must be " + msg.removeprefix("Input should be ")
        elif err["type"] == "missing":
            msg = "is required"
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


_KINDS: dict[str, type[BaseModel]] = {"disposition": DispositionRecord, "outcome": OutcomeRecord,
                                      "decision": DecisionRecord}


def import_file(store: Store, path: Path, reasons: OverrideReasons) -> ImportResult:
    """Import a JSON Lines file of decisions, dispositions and review outcomes into the store."""
    problems: list[RecordProblem] = []
    result = ImportResult(problems=problems)
    for line, record, problem, col in read_records(path):
        if problem:
            problems.append(RecordProblem(str(path), line, col, problem))
            continue
        kind = record.get("kind", "disposition")
        model: type[BaseModel] | None = _KINDS.get(kind)
        if model is None:
            problems.append(RecordProblem(str(path), line, 1, f"kind: must be disposition, outcome or decision, "
                                                              f"not {json.dumps(kind)[:40]}"))
            continue
        try:
            rec = model.model_validate(record)
        except ValidationError as e:
            problems.append(RecordProblem(str(path), line, 1, _pydantic_words(e)))
            continue
        try:
            if isinstance(rec, DispositionRecord):
                wrong = _disposition_problem(rec, reasons)
                if wrong:
                    problems.append(RecordProblem(str(path), line, 1, wrong))
                    continue
                store.record(Disposition(rec.assertion_id, rec.request, rec.disposition, rec.reason, rec.comment,
                                         rec.reviewer, _utc(rec.decided_at), rec.source))
                result.dispositions += 1
            elif isinstance(rec, OutcomeRecord):
                store.record_outcome(ReviewOutcome(rec.assertion_id, rec.request, rec.actual,
                                                   _utc(rec.decided_at), rec.source))
                result.outcomes += 1
            else:
                assert isinstance(rec, DecisionRecord)
                if store.decision(rec.assertion_id) is not None:
                    continue                     # already in this log: an export imported twice
                row = rec.model_dump(exclude={"kind", "items"})
                row["served_at"] = _utc(rec.served_at)
                store.import_decision(row, [{"assertion_id": rec.assertion_id, **i.model_dump()} for i in rec.items])
                result.decisions += 1
        except StoreError as e:
            problems.append(RecordProblem(str(path), line, 1, str(e)))
    return result


def _disposition_problem(rec: DispositionRecord, reasons: OverrideReasons) -> str | None:
    if rec.disposition == "accepted" and rec.reason:
        return "reason: only an override has a reason (leave it out for accepted)"
    return ("reason: " + wrong) if (wrong := reasons.check(rec.reason)) else None
