"""Audit: check a batch of cases that carry real outcomes (`actual`) and measure how often ptcheck agrees.

    from ptcheck.audit._audit import audit
    report = audit(["cases/"], jobs=2)
    report.accuracy, report.kappa, report.to_json_dict()

How it runs:
  * Cases are streamed. The batch is never held: the parent reads JSONL lines (or names YAML/JSON
    files) and sends them in chunks to worker processes, which validate, check and tally them; each
    chunk comes back as a small partial tally that the parent merges in input order. Memory is flat
    in the number of cases; only the disagreement and error lists grow (cap them with `max_listed`, or
    spool the disagreements to a temporary file with `spool=True`, as `ptcheck audit` does).
  * Workers are forked (`multiprocessing`, start method fork) and each builds its own Checker once,
    in the pool initializer (durable_rules is one process-wide lock with no threads: processes are the
    way to scale, ../shared/durable-rules.md §5). `jobs=1` runs everything in this process.
  * A case that fails validation, and a case on which the engine raises, are listed under `errors`
    with file, line and case id; every other case is still audited.

What is compared, per request item with an `actual` outcome (the same rule as `engine.agrees`):
  * `actual` is a review outcome (upheld / overturned / partially_overturned): the predicted review
    outcome of the IMR/IRO (for a UR-kind case the outcome mapped the same way);
  * `actual` is a UR outcome (certify / modify / non_certify): the predicted UR outcome.

Cohen's kappa over the confusion matrix (rows: predicted, columns: actual):
    p_o = sum_i n_ii / N,  p_e = sum_i (n_i. * n_.i) / N^2,  kappa = (p_o - p_e) / (1 - p_e)
kappa is None when there is no item, or when p_e = 1 (one single label on both sides: undefined).
The baseline is the accuracy of always predicting the most frequent actual label.
"""
from __future__ import annotations

import faulthandler
import gc
import io
import json
import os
import signal
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr

from ..core._caseload import Loaded, iter_case_files, load_file, load_json_line, validate_case
from ..core._check import Checker
from ..core._decide import REVIEW_OF, CaseDecision, ItemDecision
from ..core._errors import EngineError, Problem, PtcheckError
from ..core._render import agrees
from ..core._textsafe import redact

UR_LABELS = ("certify", "modify", "non_certify", "pend")
REVIEW_LABELS = ("upheld", "overturned", "partially_overturned")
DIMENSIONS = ("jurisdiction", "service", "ruleset", "review_kind")
NO_RULESET = "(none)"

CHUNK_LINES = 200          # JSONL lines per work unit
CHUNK_FILES = 16           # YAML/JSON files per work unit


# ---------------------------------------------------------------------------------------------
# the report


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tally(_Model):
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
    breakdowns: dict[str, list[Tally]]
    groups: list[Group] = []      # by origin: real first, then written, then unspecified
    disagreement_count: int
    error_count: int
    truncated: bool = False       # lists capped by max_listed
    disagreements: list[Disagreement]
    errors: list[AuditError]
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
# per-chunk tallies (what a worker sends back) and their merge

GROUPS = ("real", "written", "unspecified")     # case field origin.outcome; the order of every listing


def origin_group(case: Any) -> str:
    """The case's origin group: `origin.outcome` when it is real or written, else unspecified. Read
    defensively: the field is optional and older case models do not have it."""
    origin = getattr(case, "origin", None)
    outcome = origin.get("outcome") if isinstance(origin, dict) else getattr(origin, "outcome", None)
    outcome = getattr(outcome, "value", outcome)
    return outcome if outcome in ("real", "written") else "unspecified"


_COUNTS = ("cases", "cases_valid", "cases_checked", "items_total", "items", "agree", "disagreement_count",
           "error_count")
_COUNTERS = ("confusion", "dim_items", "dim_agree", "group_confusion", "group_agree", "group_decided")


SPOOL_KEEP = 1000          # disagreements a spooling audit keeps in memory; the rest go to a temporary file


class _Spool:
    """The parent's list of disagreements (compact JSON texts) in input order, for audit(spool=True): the
    first `keep` in memory, the rest appended to an unnamed temporary file (one text per line: compact
    JSON holds no raw newline), deleted when closed or at exit. Memory stays flat in the number listed."""

    def __init__(self, keep: int | None = None):
        self.head: list[str] = []
        self.keep = SPOOL_KEEP if keep is None else keep
        self._file: IO[bytes] | None = None
        self._n = 0

    def append(self, text: str) -> None:
        if len(self.head) < self.keep:
            self.head.append(text)
        else:
            if self._file is None:
                import tempfile
                import weakref
                self._file = tempfile.TemporaryFile("w+b")
                weakref.finalize(self, self._file.close)     # closed (and so deleted) with the spool
            self._file.write(text.encode("utf-8") + b"\n")
        self._n += 1

    def extend(self, texts: Iterable[str]) -> None:
        for t in texts:
            self.append(t)

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[str]:
        yield from list(self.head)
        f = self._file
        if f is not None:
            f.flush()
            end = f.tell()
            f.seek(0)
            try:
                while f.tell() < end:
                    yield f.readline()[:-1].decode("utf-8")
            finally:
                f.seek(end)


@dataclass
class _Partial:
    cases: int = 0
    cases_valid: int = 0
    cases_checked: int = 0
    items_total: int = 0
    items: int = 0
    agree: int = 0
    confusion: Counter = field(default_factory=Counter)       # (predicted, actual) -> n
    dim_items: Counter = field(default_factory=Counter)       # (dimension, key) -> n
    dim_agree: Counter = field(default_factory=Counter)
    group_confusion: Counter = field(default_factory=Counter)  # (group, predicted, actual) -> n
    group_agree: Counter = field(default_factory=Counter)      # group -> n
    group_decided: Counter = field(default_factory=Counter)    # group -> items not pended
    disagreements: list[str] = field(default_factory=list)    # Disagreement as JSON text
    errors: list[dict] = field(default_factory=list)
    disagreement_count: int = 0
    error_count: int = 0
    # at most this many disagreements of this tally can be listed (max_listed): the ones after it are counted,
    # never explained nor kept (explaining is "what would change the answer", most of a disagreement's cost)
    cap: int | None = None

    def merge(self, other: "_Partial", limit: int | None) -> None:
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in _COUNTERS:
            getattr(self, name).update(getattr(other, name))
        for mine, theirs in ((self.disagreements, other.disagreements), (self.errors, other.errors)):
            room = len(theirs) if limit is None else max(0, min(len(theirs), limit - len(mine)))
            mine.extend(theirs[:room])

    # -- a checkpoint holds the merged tally as JSON
    def to_state(self) -> dict:
        state: dict = {name: getattr(self, name) for name in _COUNTS}
        for name in _COUNTERS:
            state[name] = [[*(k if isinstance(k, tuple) else (k,)), n] for k, n in getattr(self, name).items()]
        state["disagreements"] = list(self.disagreements)
        state["errors"] = self.errors
        return state

    @classmethod
    def from_state(cls, state: dict) -> "_Partial":
        p = cls(**{name: int(state[name]) for name in _COUNTS})
        for name in _COUNTERS:
            c = getattr(p, name)
            for *key, n in state[name]:
                c[tuple(key) if len(key) > 1 else key[0]] = n
        p.disagreements = list(state["disagreements"])
        p.errors = list(state["errors"])
        return p

    # -- one document
    def add(self, checker: Checker | None, loaded: Loaded) -> None:
        self.cases += 1
        if not loaded.ok:
            self.error_count += 1
            problems = loaded.problems or []
            # the first problem's column goes with the document's position (file:line:column, as `check`
            # prints it); the others say their own position in words
            column = problems[0].column if problems and problems[0].line in (None, loaded.line) else None
            self.errors.append(dict(kind="invalid", file=loaded.source, line=loaded.line, column=column,
                                    case=loaded.raw_id, messages=[_problem_text(p, loaded.line, i == 0)
                                                                  for i, p in enumerate(problems)]))
            return
        self.cases_valid += 1
        case = loaded.case
        try:
            # one pass: messages rendered, and "what would change the answer" (deciding an item again per
            # undocumented flag) computed only for the disagreeing items, whose rationale is listed
            if not self._room():           # no disagreement of this tally can be listed any more
                decision = checker.check(case, explain=False)
            elif _single_pass(checker):
                decision = checker.check(case, would_change_for=_disagrees)
            else:              # another kind of checker (checker_factory): outcomes first, then explain
                decision = checker.check(case, explain=False)
                if any(_disagrees(item) for item in decision.items):
                    decision = checker.check(case)
        except Exception as e:         # one case's engine failure is an error entry, never a crash
            label = "engine error" if isinstance(e, EngineError) else f"engine error ({type(e).__name__})"
            self._engine_error(loaded, f"{label}: {redact(str(e))}")
            return
        self.cases_checked += 1
        self._tally(decision, loaded)

    def _room(self) -> bool:
        """Can another disagreement of this tally be listed? The report lists the first max_listed of all
        the input, so none after this tally's own first max_listed (merge keeps the lists in input order)."""
        return self.cap is None or len(self.disagreements) < self.cap

    def crashed(self, loaded: Loaded, exitcode: int | None) -> None:
        """A valid case on which a fresh worker process died: an error entry, the audit goes on."""
        self.cases += 1
        self.cases_valid += 1
        self._engine_error(loaded, f"the engine crashed ({_death(exitcode)}) on this case")

    def _engine_error(self, loaded: Loaded, message: str) -> None:
        self.error_count += 1
        self.errors.append(dict(kind="engine", file=loaded.source, line=loaded.line, case=loaded.case.id,
                                messages=[message]))

    def _tally(self, d: CaseDecision, loaded: Loaded) -> None:
        group = origin_group(loaded.case)
        for item in d.items:
            self.items_total += 1
            if item.actual is None:
                continue
            ok = agrees(item) is True
            pred = predicted_label(item)
            self.items += 1
            self.agree += ok
            self.confusion[(pred, item.actual)] += 1
            self.group_confusion[(group, pred, item.actual)] += 1
            self.group_agree[group] += ok
            self.group_decided[group] += item.outcome != "pend"
            keys = [("jurisdiction", d.jurisdiction), ("service", item.service), ("review_kind", d.review_kind)]
            keys += [("ruleset", rs) for rs in (item.rulesets_run or [NO_RULESET])]
            for k in keys:
                self.dim_items[k] += 1
                self.dim_agree[k] += ok
            if not ok:
                self.disagreement_count += 1
                if not self._room():
                    continue
                # kept as compact JSON text: a str is not tracked by the garbage collector and is about
                # half the size of the dicts, which matters when a long audit keeps many of them
                self.disagreements.append(json.dumps(dict(
                    case=d.case, file=loaded.source, line=loaded.line, request=item.request, text=item.text,
                    service=item.service, jurisdiction=d.jurisdiction, review_kind=d.review_kind,
                    predicted=pred, actual=item.actual, outcome=item.outcome,
                    certified_visits=item.certified_visits, missing=list(item.missing),
                    rationale=[dict(rule=f.rule, ruleset=f.ruleset, effect=f.effect, message=f.message,
                                    citation=f.citation) for f in item.findings]),
                    ensure_ascii=False, separators=(",", ":")))


def _disagrees(item: ItemDecision) -> bool:
    return item.actual is not None and agrees(item) is not True


_SINGLE_PASS: dict[type, bool] = {}


def _single_pass(checker: Any) -> bool:
    """Does this checker's check() take would_change_for= (a Checker does; a checker_factory may give
    another kind)."""
    t = type(checker)
    ok = _SINGLE_PASS.get(t)
    if ok is None:
        import inspect
        try:
            ok = "would_change_for" in inspect.signature(checker.check).parameters
        except (TypeError, ValueError):
            ok = False
        _SINGLE_PASS[t] = ok
    return ok


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"signal {-exitcode}"
    return f"the process exited with code {exitcode}"


def predicted_label(item: ItemDecision) -> str:
    """The prediction in the label space of the item's actual outcome (see the module docstring)."""
    if item.actual in REVIEW_LABELS:
        return item.review_outcome or REVIEW_OF[item.outcome]
    return item.outcome


def _problem_text(p: Problem, doc_line: int | None, first: bool = False) -> str:
    """One problem of an invalid document, without free text from the case (see _textsafe.redact). Its
    position in words where it is not the document's own (the first problem's column is AuditError.column)."""
    col = f"column {p.column}" if p.column is not None else ""
    if p.line is not None and p.line != doc_line:
        where = f"line {p.line}{', ' + col if col else ''}: "
    else:
        where = f"{col}: " if col and not first else ""
    path = f" ({p.path})" if p.path else ""
    hint = f" {p.suggestion}" if p.suggestion else ""
    return redact(f"{where}{p.code} {p.message}{path}{hint}")


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


def _labels(confusion: Counter) -> list[str]:
    """Every label of each label space the actual outcomes use (so empty rows show), then any other."""
    present = {lab for pair in confusion for lab in pair}
    actual = {a for _, a in confusion}
    out: list[str] = []
    if actual & set(UR_LABELS):
        out += UR_LABELS
    if actual & set(REVIEW_LABELS):
        out += REVIEW_LABELS
    return out + sorted(present - set(out))


def _majority(actual_counts: Counter, labels: list[str]) -> tuple[str | None, int]:
    """The most frequent actual label and its count (ties broken by label order)."""
    if not actual_counts:
        return None, 0
    return min(actual_counts.items(), key=lambda kv: (-kv[1], labels.index(kv[0]) if kv[0] in labels else 99))


def _groups(p: _Partial, labels: list[str]) -> list[Group]:
    out = []
    for g in GROUPS:
        actual_counts: Counter = Counter()
        for (grp, _, ac), n in p.group_confusion.items():
            if grp == g:
                actual_counts[ac] += n
        items = sum(actual_counts.values())
        if not items:
            continue
        agree, decided = p.group_agree[g], p.group_decided[g]
        base_label, base_n = _majority(actual_counts, labels)
        out.append(Group(origin=g, items=items, agree=agree, accuracy=accuracy(agree, items), decided=decided,
                         decided_share=accuracy(decided, items), baseline_accuracy=accuracy(base_n, items),
                         baseline_label=base_label, no_better_than_baseline=agree <= base_n))
    return out


def _report(p: _Partial, files: int, truncated: bool, stopped_at: StopPoint | None = None) -> AuditReport:
    labels = _labels(p.confusion)
    matrix = [[p.confusion.get((pr, ac), 0) for ac in labels] for pr in labels]
    actual_counts = Counter()
    for (_, ac), n in p.confusion.items():
        actual_counts[ac] += n
    base_label, base_n = _majority(actual_counts, labels)
    breakdowns = {}
    for dim in DIMENSIONS:
        keys = sorted(k for d, k in p.dim_items if d == dim)
        breakdowns[dim] = [Tally(key=k, items=p.dim_items[(dim, k)], agree=p.dim_agree[(dim, k)],
                                 accuracy=accuracy(p.dim_agree[(dim, k)], p.dim_items[(dim, k)])) for k in keys]
    report = AuditReport(
        partial=stopped_at is not None, stopped_at=stopped_at, groups=_groups(p, labels), files=files, cases=p.cases, cases_valid=p.cases_valid, cases_checked=p.cases_checked,
        items_total=p.items_total, items=p.items, agree=p.agree, accuracy=accuracy(p.agree, p.items),
        kappa=cohen_kappa(matrix), baseline_accuracy=accuracy(base_n, p.items), baseline_label=base_label,
        confusion=Confusion(labels=labels, matrix=matrix), breakdowns=breakdowns,
        disagreement_count=p.disagreement_count, error_count=p.error_count, truncated=truncated,
        disagreements=_models(list(p.disagreements.head) if isinstance(p.disagreements, _Spool) else p.disagreements),
        errors=[AuditError(**e) for e in p.errors])
    if isinstance(p.disagreements, _Spool):
        report._spool = p.disagreements
    return report


def _models(texts: list[str]) -> list[Disagreement]:
    """Disagreement models from their JSON text, releasing the text as it goes (peak: not both lists)."""
    out = []
    texts.reverse()
    while texts:
        out.append(Disagreement.model_validate_json(texts.pop()))
    return out


# ---------------------------------------------------------------------------------------------
# reading: work units


def _chunks(files: list[Path], start: tuple[int, int] = (0, 0)) -> Iterator[tuple]:
    """Work units, each ending with its end position (see Position):
    ("jsonl", source, [(line_no, text), ...], end) for JSONL; ("files", [path, ...], end) for the rest;
    ("unreadable", source, message, end). `start` skips what a checkpoint says is done."""
    first, done_line = start
    pending: list[str] = []
    for idx in range(first, len(files)):
        f = files[idx]
        if f.suffix != ".jsonl":
            pending.append(str(f))
            if len(pending) >= CHUNK_FILES:
                yield ("files", pending, (idx + 1, 0))
                pending = []
            continue
        if pending:
            yield ("files", pending, (idx, 0))
            pending = []
        source = str(f)
        skip = done_line if idx == first else 0
        try:
            fh = f.open("rb")                # lines decoded one by one: a bad line is one error
        except OSError:
            yield ("files", [source], (idx + 1, 0))        # load_file reports why it cannot be read
            continue
        with fh:
            lines: list[tuple[int, bytes]] = []
            any_case = False
            for n, text in enumerate(fh, start=1):
                if n > skip and text.strip():
                    any_case = True
                    lines.append((n, text))
                    if len(lines) >= CHUNK_LINES:
                        yield ("jsonl", source, lines, (idx, n))
                        lines = []
            if lines:
                yield ("jsonl", source, lines, (idx, lines[-1][0]))
            elif not any_case and skip == 0:            # no case in the file: load_file says so (C003)
                yield ("files", [source], (idx + 1, 0))
    if pending:
        yield ("files", pending, (len(files), 0))


def _load_line(source: str, n: int, text: str | bytes) -> Loaded:
    return load_json_line(source, n, text)        # bounded: a deep, huge or undecodable line is one error


def _documents(chunk: tuple) -> Iterable[Loaded]:
    kind = chunk[0]
    if kind == "jsonl":
        _, source, lines, _end = chunk
        return (_load_line(source, n, text) for n, text in lines)
    if kind == "unreadable":
        return [Loaded(chunk[1], None, problems=[Problem(chunk[2], file=chunk[1], code="C002")])]
    if kind == "loaded":                      # documents already read (re-running a dead worker's chunk)
        return chunk[1]
    return chain.from_iterable(load_file(f) for f in chunk[1])


def _run_chunk(checker: Checker, chunk: tuple, listed: int | None = None) -> _Partial:
    p = _Partial(cap=listed)
    for loaded in _documents(chunk):
        p.add(checker, loaded)
    return p


def estimate_cases(files: Iterable[Path]) -> int:
    """A quick count of documents (non-empty JSONL lines, YAML documents), for progress bars."""
    total = 0
    for f in files:
        try:
            if f.suffix == ".jsonl":
                with f.open("rb") as fh:
                    total += sum(1 for line in fh if line.strip())
            elif f.suffix == ".json":
                total += 1
            else:
                with f.open("rb") as fh:
                    seps, content_before = 0, False
                    for line in fh:
                        if line.startswith(b"---"):
                            seps += 1
                        elif not seps and line.strip() and not line.lstrip().startswith(b"#"):
                            content_before = True
                total += max(1, seps + content_before)
        except OSError:
            total += 1
    return total


_WARM_CASES = [   # touch the ICD-9 and ICD-10 tables and compile the common rule sets before forking
    {"id": "warm-ca", "jurisdiction": "CA", "review": {"kind": "imr", "date": "2014-07-01"},
     "diagnoses": [{"icd9": "847.2"}, {"icd10": "M54.16"}, {"text": "low back pain"}],
     "requests": [{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": 6}],
     "history": {"therapy": [{"service": "physical_therapy", "visits_completed": 6}]}},
    {"id": "warm-tx", "jurisdiction": "TX", "review": {"kind": "iro", "date": "2014-07-01"},
     "diagnoses": [{"icd9": "847.0"}, {"icd10": "S13.4XXA"}],
     "requests": [{"id": "1", "service": "physical_therapy", "body_regions": ["cervical"], "visits": 6}],
     "history": {"therapy": []}},
]


def _warm(checker: Checker) -> None:
    """Load the diagnosis tables and compile rule sets in the parent, so that the forked workers inherit
    them (copy-on-write) instead of each loading them again (~3 s and ~200 MB per process)."""
    for data in _WARM_CASES:
        try:
            loaded = validate_case(data, source="<warm-up>")
            if loaded.ok:
                checker.check(loaded.case)
        except Exception:           # a warm-up is an optimisation only; the audit reports real failures
            pass



# ---------------------------------------------------------------------------------------------
# workers: one pipe each, so the parent always knows which chunk a worker holds when it dies


class AuditAborted(EngineError):
    """The audit could not run to the end (a worker could not start, or failed outside any one case)."""


class _Stopped(Exception):
    """The caller's stop() said so (an interrupt): the report covers the chunks merged until then."""


def _worker_main(conn, factory: Callable[[], Checker], inherited: list) -> None:
    # Ctrl-C reaches the whole process group and a service manager may TERM every process: the parent
    # alone decides when to stop; a worker leaves quietly when its pipe closes (no tracebacks)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    faulthandler.disable()     # a crash is reported as the case's error entry, not as a stack dump on stderr
    try:
        for c in inherited:                 # the parent's ends of every pipe, inherited by fork
            c.close()
        try:
            checker, failure = factory(), None
            # what the worker holds for the whole run (inherited from the parent, its checker) leaves the
            # cyclic collector's view: its full collections then walk only what the cases allocate
            # (measured: ~10% of a worker's time otherwise)
            gc.freeze()
        except Exception as e:
            checker, failure = None, f"{type(e).__name__}: {e}"
        conn.send(("ready", failure))
        while True:
            task = conn.recv()
            if task is None:
                break
            try:
                result = ("done", _run_chunk(checker, *task))
            except Exception as e:         # outside any one case (a case's own failure is an error entry)
                result = ("failed", f"{type(e).__name__}: {redact(str(e))}")
            conn.send(result)
    except BaseException:                   # the parent went away: nothing to report to
        pass
    finally:
        os._exit(0)


class _Worker:
    def __init__(self, ctx, factory: Callable[[], Checker], others: list["_Worker"]):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, daemon=True,
                                args=(child, factory, [self.conn, *(w.conn for w in others)]))
        self.proc.start()
        child.close()
        self.ready = False
        self.task: tuple[int, tuple] | None = None

    def send(self, seq: int, chunk: tuple, listed: int | None) -> None:
        self.task = (seq, chunk)
        try:
            self.conn.send((chunk, listed))
        except OSError:                     # it died: its sentinel says so
            pass

    def poll(self) -> tuple | None:
        """A message, ("died", exitcode), or None when there is nothing yet."""
        try:
            if self.conn.poll():
                return self.conn.recv()
        except (EOFError, OSError):
            pass
        else:
            if self.proc.is_alive():
                return None
        self.proc.join(5)
        return ("died", self.proc.exitcode)

    def handles(self) -> list:
        return [self.conn, self.proc.sentinel]

    def close(self, kill: bool = False) -> None:
        if not kill:
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _expect(w: _Worker, msg: tuple) -> tuple:
    """Handle the start-up messages; a worker that cannot start aborts the audit (re-running cases in
    more workers would only fail the same way)."""
    if msg[0] == "ready":
        if msg[1] is not None:
            raise AuditAborted(f"a worker could not build its checker: {msg[1]}")
        w.ready = True
    elif msg[0] == "died" and not w.ready:
        raise AuditAborted(f"a worker process died while starting ({_death(msg[1])})")
    elif msg[0] == "failed":
        raise AuditAborted(f"a worker failed: {msg[1]}")
    return msg


def _isolate(ctx, factory, chunk: tuple, others: list[_Worker], stop, listed: int | None) -> _Partial:
    """Re-run a dead worker's chunk one case at a time in a fresh worker; a case on which that worker
    dies too is an error entry, and the next case gets a new worker."""
    from multiprocessing.connection import wait
    p = _Partial(cap=listed)
    solo: _Worker | None = None
    try:
        for loaded in _documents(chunk):
            if not loaded.ok:
                p.add(None, loaded)
                continue
            if solo is None:
                solo = _Worker(ctx, factory, others)
            solo.send(0, ("loaded", [loaded], None), None if listed is None else max(0, listed - len(p.disagreements)))
            while True:
                if stop is not None and stop():
                    raise _Stopped
                wait(solo.handles(), timeout=0.25)
                msg = solo.poll()
                if msg is None or _expect(solo, msg)[0] == "ready":
                    continue
                break
            if msg[0] == "died":
                p.crashed(loaded, msg[1])
                solo.close(kill=True)
                solo = None
            else:
                p.merge(msg[1], None)       # each case's tally lists at most what was left of `listed`
    finally:
        if solo is not None:
            solo.close()
    return p


def _pool_results(chunks: Iterator[tuple], jobs: int, factory: Callable[[], Checker],
                  stop: Callable[[], bool] | None = None,
                  room: Callable[[], int | None] = lambda: None) -> Iterator[tuple[tuple, _Partial]]:
    """(end position, tally) per chunk, in input order, from `jobs` forked workers. room(): how many more
    disagreements can be listed, given what was merged so far (a bound for the chunk sent next)."""
    import multiprocessing as mp
    from multiprocessing.connection import wait
    ctx = mp.get_context("fork")
    workers: list[_Worker] = []
    finished = False
    try:
        for _ in range(jobs):
            workers.append(_Worker(ctx, factory, workers))
        results: dict[int, tuple] = {}
        sent = next_seq = 0
        exhausted = False
        while True:
            while next_seq in results:
                yield results.pop(next_seq)
                next_seq += 1
            if stop is not None and stop():
                raise _Stopped
            for w in workers:             # one chunk per worker; at most 4 per worker waiting to be merged
                if w.task is None and not exhausted and sent - next_seq < 4 * jobs:
                    chunk = next(chunks, None)
                    if chunk is None:
                        exhausted = True
                        break
                    w.send(sent, chunk, room())
                    sent += 1
            busy = [w for w in workers if w.task is not None]
            if not busy:
                if exhausted and next_seq == sent:
                    break
                continue
            wait([h for w in busy for h in w.handles()], timeout=0.25)
            for i, w in enumerate(workers):
                if w.task is None:
                    continue
                msg = w.poll()
                while msg is not None and _expect(w, msg)[0] == "ready":
                    msg = w.poll()
                if msg is None:
                    continue
                seq, chunk = w.task
                w.task = None
                if msg[0] == "done":
                    results[seq] = (chunk[-1], msg[1])
                    continue
                # died with a chunk: replace it, then find the case(s) that kill a worker
                w.close(kill=True)
                workers[i] = _Worker(ctx, factory, [x for x in workers if x is not w])
                results[seq] = (chunk[-1], _isolate(ctx, factory, chunk, workers, stop, room()))
        finished = True
    finally:
        for w in workers:
            w.close(kill=not finished)


def _warm_and_pool(checker: Checker, chunks, jobs, factory, stop, room: Callable[[], int | None] = lambda: None):
    _warm(checker)
    return _pool_results(chunks, jobs, factory, stop, room)


# ---------------------------------------------------------------------------------------------
# checkpoints: the merged tally and the position after it, rewritten atomically

CHECKPOINT_FORMAT = "ptcheck/audit-checkpoint@1"
CHECKPOINT_SECONDS = 2.0       # at most this often, and at most ~10% of the run spent writing it


class CheckpointError(PtcheckError):
    """A checkpoint cannot be used for these inputs (missing, unreadable, or written for other inputs)."""


def write_atomic(path: Path, text: str | Iterable[str]) -> None:
    """Write text (or its pieces, written as they come) to path through a temporary file in the same
    folder and os.replace: a reader (or a crash) never sees half a file. The file is readable by its owner
    only (reports hold case data)."""
    import tempfile
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            if isinstance(text, str):
                fh.write(text)
            else:
                for piece in text:
                    fh.write(piece)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _fingerprint(files: list[Path], checker: Any, max_listed: int | None) -> dict:
    import hashlib
    inputs = []
    for f in files:
        try:
            st = f.stat()
            inputs.append({"path": str(f), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
        except OSError:
            inputs.append({"path": str(f), "size": None, "mtime_ns": None})
    lib = getattr(checker, "library", None)
    rules = None
    if lib is not None:
        keys = sorted(f"{rs.key}:{rs.sha256}" for rs in lib.rulesets)
        rules = hashlib.sha256("\n".join(keys).encode()).hexdigest()
    return {"inputs": inputs, "rules": rules, "pins": sorted(getattr(checker, "pins", {}).items()),
            "max_listed": max_listed}


def _read_checkpoint(path: Path, fp: dict) -> tuple[_Partial, tuple[int, int]]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint (run without --resume to start one)") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a ptcheck audit checkpoint")
    old = doc.get("fingerprint", {})
    if [i["path"] for i in old.get("inputs", [])] != [i["path"] for i in fp["inputs"]]:
        raise CheckpointError(f"{path}: written for other input files; give the same paths, or start again")
    changed = [n["path"] for o, n in zip(old["inputs"], fp["inputs"]) if o != n]
    if changed:
        raise CheckpointError(f"{path}: {changed[0]} changed since the checkpoint (size or time); "
                              f"start again without --resume")
    if old.get("pins") != [list(x) for x in fp["pins"]]:
        def words(pins) -> str:
            return "with " + " ".join(f"--ruleset {k}@{v}" for k, v in pins) if pins else "without --ruleset"
        raise CheckpointError(f"{path}: written {words(old.get('pins'))}, resumed {words(fp['pins'])}: resume "
                              "with the same --ruleset pins")
    if old.get("rules") != fp["rules"]:
        raise CheckpointError(f"{path}: the rule sets changed since the checkpoint; start again without --resume")
    if old.get("max_listed") != fp["max_listed"]:
        was, now = old.get("max_listed"), fp["max_listed"]
        raise CheckpointError(f"{path}: written {'without --max-listed' if was is None else f'with --max-listed {was}'}"
                              f", resumed {'without it' if now is None else f'with --max-listed {now}'}: "
                              "resume with the same --max-listed")
    pos = doc["position"]
    return _Partial.from_state(doc["tally"]), (int(pos["file_index"]), int(pos["line"]))


class _Saver:
    def __init__(self, path: Path, fp: dict):
        self.path, self.fp = Path(path), fp
        self.last, self.cost = 0.0, 0.0

    def save(self, acc: _Partial, position: tuple[int, int], complete: bool = False) -> None:
        import time
        t = time.monotonic()
        doc = {"format": CHECKPOINT_FORMAT, "complete": complete, "fingerprint": self.fp,
               "position": {"file_index": position[0], "line": position[1]}, "tally": acc.to_state()}
        write_atomic(self.path, json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
        self.last = time.monotonic()
        self.cost = self.last - t

    def maybe(self, acc: _Partial, position: tuple[int, int]) -> None:
        import time
        if time.monotonic() - self.last >= max(CHECKPOINT_SECONDS, 10 * self.cost):
            self.save(acc, position)


def _stop_point(files: list[Path], position: tuple[int, int], cases: int) -> StopPoint:
    idx, line = position
    if idx >= len(files):
        return StopPoint(file=None, line=None, cases_done=cases)
    return StopPoint(file=str(files[idx]), line=line or None, cases_done=cases)


# ---------------------------------------------------------------------------------------------


def audit(paths: Iterable[str | Path], *, jobs: int | None = None,
          progress: Callable[[int, int | None], Any] | None = None,
          checker_factory: Callable[[], Checker] | None = None,
          max_listed: int | None = None, in_process: bool | None = None,
          stop: Callable[[], bool] | None = None,
          checkpoint: str | Path | None = None, resume: bool = False, spool: bool = False) -> AuditReport:
    """Audit every case under `paths` (files or folders: YAML, multi-document YAML, JSON, JSONL).

    jobs: worker processes (default os.cpu_count()).
    in_process: run in this process, without workers (default: when jobs is 1). In workers, a case that
        kills its process (a crash of the inference engine) is one error entry and the audit goes on;
        in this process it would end the program.
    progress: called as progress(cases_done, cases_estimated) after each chunk.
    checker_factory: builds the Checker (default Checker()); called once here and once per worker.
    max_listed: keep at most this many disagreements and errors in the lists (counts stay exact).
    stop: polled while running; when it returns True the audit stops and returns a partial report
        (report.partial, report.stopped_at) of every chunk finished before.
    checkpoint: save the progress to this file (atomically, every few seconds and when stopped); with
        resume=True, first continue from it. Without resume an existing checkpoint is an error.
    spool: keep only the first SPOOL_KEEP disagreements in memory and the rest in a temporary file, so
        that memory stays flat however many are listed; the report's `disagreements` then holds the first
        SPOOL_KEEP and iter_disagreements(), write_json() and to_json() give every one (what `ptcheck
        audit` does). A checkpoint still holds every listed disagreement.
    Raises PtcheckError when the audit cannot run (missing path, rule files that do not load, a
    checkpoint for other inputs) and AuditAborted when workers cannot run."""
    factory = checker_factory or Checker
    jobs = max(1, int(jobs if jobs is not None else (os.cpu_count() or 1)))
    files = list(iter_case_files(paths))           # file names only; raises for a missing path
    checker = factory()                            # fail fast on bad rules, before any fork
    acc, start, saver = _Partial(), (0, 0), None
    if checkpoint is not None:
        fp = _fingerprint(files, checker, max_listed)
        if resume:
            acc, start = _read_checkpoint(Path(checkpoint), fp)
        elif Path(checkpoint).exists():
            raise CheckpointError(f"{checkpoint} exists: add --resume to continue from it, or remove it")
        saver = _Saver(Path(checkpoint), fp)
    elif resume:
        raise CheckpointError("--resume needs --checkpoint FILE")
    if spool:
        listed, acc.disagreements = acc.disagreements, _Spool()  # type: ignore[assignment]
        acc.disagreements.extend(listed)
    total = estimate_cases(files) if progress else None
    chunks = _chunks(files, start)

    def room() -> int | None:
        """Disagreements that can still be listed: those of a chunk beyond it are only counted (merges are
        in input order, so what is merged so far all comes before the chunk about to run)."""
        return None if max_listed is None else max(0, max_listed - len(acc.disagreements))
    if in_process if in_process is not None else jobs == 1:
        results: Iterator[tuple] = ((c[-1], _run_chunk(checker, c, room())) for c in chunks)
    else:
        results = _warm_and_pool(checker, chunks, jobs, factory, stop, room)
    position, stopped = start, False
    try:
        for end, part in results:
            acc.merge(part, max_listed)
            position = end
            if saver is not None:
                saver.maybe(acc, position)
            if progress:
                progress(acc.cases, total)
            if stop is not None and stop():
                raise _Stopped
    except _Stopped:
        stopped = True
    finally:
        getattr(results, "close", lambda: None)()
    if saver is not None:
        saver.save(acc, position, complete=not stopped)
    if progress and not stopped:
        progress(acc.cases, acc.cases)
    truncated = len(acc.disagreements) < acc.disagreement_count or len(acc.errors) < acc.error_count
    return _report(acc, len(files), truncated, _stop_point(files, position, acc.cases) if stopped else None)


__all__ = ["AuditAborted", "AuditError", "AuditReport", "CheckpointError", "Confusion", "Disagreement", "Group",
           "RationaleItem", "StopPoint", "Tally", "audit", "cohen_kappa", "estimate_cases", "origin_group",
           "predicted_label", "write_atomic"]
