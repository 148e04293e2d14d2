"""The audit report as a value: its pydantic models (what `ptcheck audit --json` writes) and the statistics
computed from a tally (accuracy, Cohen's kappa, the majority baseline).

Cohen's kappa over the confusion matrix (rows: predicted, columns: actual):
    p_o = sum_i n_ii / N,  p_e = sum_i (n_i. * n_.i) / N^2,  kappa = (p_o - p_e) / (1 - p_e)
kappa is None when there is no item, or when p_e = 1 (one single label on both sides: undefined).
The baseline is the accuracy of always predicting the most frequent actual label.
"""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

UR_LABELS = ("certify", "modify", "non_certify", "pend")
REVIEW_LABELS = ("upheld", "overturned", "partially_overturned")
DIMENSIONS = ("jurisdiction", "service", "ruleset", "review_kind")
NO_RULESET = "(none)"
LABELS = UR_LABELS + REVIEW_LABELS     # the fixed label set of every tally's confusion matrices


# ---------------------------------------------------------------------------------------------
# the report


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Breakdown(_Model):
    """Agreement for one key of one dimension (a jurisdiction, a service, a rule set, a review kind)."""
    key: str
    items: int
    agree: int
    accuracy: float | None


class Confusion(_Model):
    """Counts of items by predicted label (rows) and actual label (columns)."""
    labels: list[str]
    matrix: list[list[int]]

    def count(self, predicted: str, actual: str) -> int:
        return self.matrix[self.labels.index(predicted)][self.labels.index(actual)]


class RationaleItem(_Model):
    rule: str
    ruleset: str
    effect: str
    message: str
    citation: str


class Disagreement(_Model):
    case: str
    file: str
    line: int | None
    request: str
    text: str
    service: str
    jurisdiction: str
    review_kind: str
    predicted: str
    actual: str
    outcome: str
    certified_visits: int | None
    rationale: list[RationaleItem]
    missing: list[str] = []


class AuditError(_Model):
    """A case not audited. Messages name codes, field paths and ids; never free text from the case."""
    kind: Literal["invalid", "engine"]
    file: str
    line: int | None
    case: str | None
    messages: list[str]
    column: int | None = None      # of the first message's problem, when it is on the document's line


class Group(_Model):
    """Agreement within one origin group (case field `origin.outcome`): real, written or unspecified."""
    origin: str
    items: int
    agree: int
    accuracy: float | None
    decided: int                  # items predicted certify / modify / non-certify (not pend)
    decided_share: float | None
    baseline_accuracy: float | None
    baseline_label: str | None
    no_better_than_baseline: bool  # accuracy at or below always answering baseline_label


class StopPoint(_Model):
    """Where an interrupted audit stopped: every case before it is in the report, none after it."""
    file: str | None              # the file of the next case not audited (None: every file was read)
    line: int | None              # ... the last line of that file audited (JSONL); None: the file is not begun
    cases_done: int


class AuditReport(_Model):
    """The result of audit(): agreement of the engine's decisions with the recorded outcomes.

    files / cases / cases_valid / cases_checked: what was read and checked; items: request items with an
    actual outcome, agree of them predicted alike; accuracy, kappa (Cohen's), baseline_accuracy of always
    answering baseline_label; confusion (predicted x actual); breakdowns and groups (by case origin);
    disagreements and errors (lists capped when truncated, counts exact); partial / stopped_at when the
    audit was stopped. to_json() / to_json_dict() give the report as `ptcheck audit --json` writes it,
    write_json(fh) the same text written as it is produced. With audit(spool=True) `disagreements` holds
    the first SPOOL_KEEP only when more are listed (`spooled`); iter_disagreements() gives every one."""
    partial: bool = False         # interrupted: only the cases before stopped_at are in the figures
    stopped_at: StopPoint | None = None
    files: int
    cases: int                    # documents read
    cases_valid: int
    cases_checked: int            # valid and checked without an engine error
    items_total: int              # request items of the checked cases
    items: int                    # ... of which have an actual outcome (compared)
    agree: int
    accuracy: float | None
    kappa: float | None
    baseline_accuracy: float | None
    baseline_label: str | None
    confusion: Confusion
    breakdowns: dict[str, list[Breakdown]]
    groups: list[Group] = []      # by origin: real first, then written, then unspecified
    disagreement_count: int
    error_count: int
    truncated: bool = False       # lists capped by max_listed
    disagreements: list[Disagreement]
    errors: list[AuditError]
    # where the report comes from, when it is not one run over its inputs: tallies merged (`merged_from`), a
    # cluster (`cluster`, `disagreements_folder`). The JSON's last key, and only when set: the rest of the
    # report is byte for byte what one run over the same inputs gives
    provenance: dict | None = Field(default=None, exclude=True)
    # audit(spool=True): every listed disagreement, when more than `disagreements` holds (see _Spool)
    _spool: Any = PrivateAttr(default=None)

    @property
    def spooled(self) -> bool:
        """True when `disagreements` holds only the first of the listed disagreements (audit(spool=True)
        listed more than SPOOL_KEEP): iter_disagreements(), to_json() and write_json() give them all."""
        return self._spool is not None and len(self._spool) > len(self.disagreements)

    @property
    def listed(self) -> int:
        """How many disagreements are listed (all of them unless max_listed capped the list)."""
        return len(self._spool) if self.spooled else len(self.disagreements)

    def iter_disagreements(self) -> Iterator[Disagreement]:
        """Every listed disagreement, in input order, one at a time (read back from the spool file when
        the audit spooled them)."""
        if not self.spooled:
            yield from self.disagreements
            return
        for text in self._spool:
            yield Disagreement.model_validate_json(text)

    def to_json_dict(self) -> dict:
        out = self.model_dump(mode="json")
        if self.spooled:                    # all of them, in memory (write_json streams them instead)
            out["disagreements"] = [d.model_dump(mode="json") for d in self.iter_disagreements()]
        if self.provenance is not None:
            out["provenance"] = self.provenance
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        if indent == 2:
            buf = io.StringIO()
            self.write_json(buf)
            return buf.getvalue()
        return json.dumps(self.to_json_dict(), indent=indent, ensure_ascii=False)

    def write_json(self, fh: IO[str]) -> None:
        """Write to_json() to fh, the disagreements one at a time (a spooled report is never held whole).
        The text is json.dumps(to_json_dict(), indent=2, ensure_ascii=False), byte for byte."""
        head = self.model_dump(mode="json")
        head["disagreements"] = []
        if self.provenance is not None:
            head["provenance"] = self.provenance
        text = json.dumps(head, indent=2, ensure_ascii=False)
        # the key at the top level: two spaces after a newline (a newline inside a string is escaped)
        at = text.index('\n  "disagreements": []') + len('\n  "disagreements": ')
        fh.write(text[:at])
        first = True
        for d in self.iter_disagreements():
            item = json.dumps(d.model_dump(mode="json"), indent=2, ensure_ascii=False)
            fh.write(("[\n    " if first else ",\n    ") + item.replace("\n", "\n    "))
            first = False
        fh.write("[]" if first else "\n  ]")
        fh.write(text[at + 2:])



# ---------------------------------------------------------------------------------------------
# statistics


def accuracy(agree: int, items: int) -> float | None:
    return agree / items if items else None


def cohen_kappa(matrix: list[list[int]]) -> float | None:
    n = sum(map(sum, matrix))
    if not n:
        return None
    k = len(matrix)
    p_o = sum(matrix[i][i] for i in range(k)) / n
    rows = [sum(r) for r in matrix]
    cols = [sum(matrix[i][j] for i in range(k)) for j in range(k)]
    p_e = sum(rows[i] * cols[i] for i in range(k)) / (n * n)
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1 - p_e)



__all__ = ["DIMENSIONS", "LABELS", "NO_RULESET", "REVIEW_LABELS", "UR_LABELS", "AuditError", "AuditReport", "Breakdown",
           "Confusion", "Disagreement", "Group", "RationaleItem", "StopPoint", "accuracy", "cohen_kappa"]
