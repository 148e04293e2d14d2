"""Audit: check a batch of cases that carry real outcomes (`actual`) and measure how often ptcheck agrees.

    from engine._audit import audit
    report = audit(["cases/"], jobs=2)
    report.accuracy, report.kappa, report.to_json_dict()

How it runs:
  * Cases are streamed. The batch is never held: the parent reads JSONL lines (or names YAML/JSON
    files) and sends them in chunks to worker processes, which validate, check and tally them; each
    chunk comes back as a small partial tally that the parent merges in input order. Memory is flat
    in the number of cases; only the disagreement and error lists grow (cap them with `max_listed`).
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

import json
import os
import signal
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ._cases import Loaded, iter_case_files, load_file, load_json_line, validate_case
from ._check import Checker
from ._decide import REVIEW_OF, CaseDecision, ItemDecision
from ._errors import EngineError, Problem
from ._explain import agrees

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
    kind: Literal["invalid", "engine"]
    file: str
    line: int | None
    case: str | None
    messages: list[str]


class AuditReport(_Model):
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
    disagreement_count: int
    error_count: int
    truncated: bool = False       # lists capped by max_listed
    disagreements: list[Disagreement]
    errors: list[AuditError]

    def to_json_dict(self) -> dict:
        return self.model_dump(mode="json")

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_json_dict(), indent=indent, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# per-chunk tallies (what a worker sends back) and their merge


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
    disagreements: list[str] = field(default_factory=list)    # Disagreement as JSON text
    errors: list[dict] = field(default_factory=list)
    disagreement_count: int = 0
    error_count: int = 0

    def merge(self, other: "_Partial", limit: int | None) -> None:
        for name in ("cases", "cases_valid", "cases_checked", "items_total", "items", "agree",
                     "disagreement_count", "error_count"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.confusion.update(other.confusion)
        self.dim_items.update(other.dim_items)
        self.dim_agree.update(other.dim_agree)
        for mine, theirs in ((self.disagreements, other.disagreements), (self.errors, other.errors)):
            room = len(theirs) if limit is None else max(0, min(len(theirs), limit - len(mine)))
            mine.extend(theirs[:room])

    # -- one document
    def add(self, checker: Checker, loaded: Loaded) -> None:
        self.cases += 1
        if not loaded.ok:
            self.error_count += 1
            self.errors.append(dict(kind="invalid", file=loaded.source, line=loaded.line,
                                    case=loaded.raw_id, messages=[_problem_text(p, loaded.line)
                                                                  for p in loaded.problems or []]))
            return
        self.cases_valid += 1
        case = loaded.case
        try:
            # outcomes first, without rendering explanations; a case with a disagreement is checked again
            # in full, since its rationale is listed (most items agree, so most explanations are skipped)
            decision = checker.check(case, explain=False)
            if any(item.actual is not None and agrees(item) is not True for item in decision.items):
                decision = checker.check(case)
        except Exception as e:         # one case's engine failure is an error entry, never a crash
            self.error_count += 1
            label = "engine error" if isinstance(e, EngineError) else f"engine error ({type(e).__name__})"
            self.errors.append(dict(kind="engine", file=loaded.source, line=loaded.line, case=case.id,
                                    messages=[f"{label}: {e}"]))
            return
        self.cases_checked += 1
        self._tally(decision, loaded)

    def _tally(self, d: CaseDecision, loaded: Loaded) -> None:
        for item in d.items:
            self.items_total += 1
            if item.actual is None:
                continue
            ok = agrees(item) is True
            pred = predicted_label(item)
            self.items += 1
            self.agree += ok
            self.confusion[(pred, item.actual)] += 1
            keys = [("jurisdiction", d.jurisdiction), ("service", item.service), ("review_kind", d.review_kind)]
            keys += [("ruleset", rs) for rs in (item.rulesets_run or [NO_RULESET])]
            for k in keys:
                self.dim_items[k] += 1
                self.dim_agree[k] += ok
            if not ok:
                self.disagreement_count += 1
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


def predicted_label(item: ItemDecision) -> str:
    """The prediction in the label space of the item's actual outcome (see the module docstring)."""
    if item.actual in REVIEW_LABELS:
        return item.review_outcome or REVIEW_OF[item.outcome]
    return item.outcome


def _problem_text(p: Problem, doc_line: int | None) -> str:
    where = f"line {p.line}: " if p.line is not None and p.line != doc_line else ""
    path = f" ({p.path})" if p.path else ""
    hint = f" {p.suggestion}" if p.suggestion else ""
    return f"{where}{p.code} {p.message}{path}{hint}"


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


def _report(p: _Partial, files: int, truncated: bool) -> AuditReport:
    labels = _labels(p.confusion)
    matrix = [[p.confusion.get((pr, ac), 0) for ac in labels] for pr in labels]
    actual_counts = Counter()
    for (_, ac), n in p.confusion.items():
        actual_counts[ac] += n
    base_label, base_n = (min(actual_counts.items(), key=lambda kv: (-kv[1], labels.index(kv[0])))
                          if actual_counts else (None, 0))
    breakdowns = {}
    for dim in DIMENSIONS:
        keys = sorted(k for d, k in p.dim_items if d == dim)
        breakdowns[dim] = [Tally(key=k, items=p.dim_items[(dim, k)], agree=p.dim_agree[(dim, k)],
                                 accuracy=accuracy(p.dim_agree[(dim, k)], p.dim_items[(dim, k)])) for k in keys]
    return AuditReport(
        files=files, cases=p.cases, cases_valid=p.cases_valid, cases_checked=p.cases_checked,
        items_total=p.items_total, items=p.items, agree=p.agree, accuracy=accuracy(p.agree, p.items),
        kappa=cohen_kappa(matrix), baseline_accuracy=accuracy(base_n, p.items), baseline_label=base_label,
        confusion=Confusion(labels=labels, matrix=matrix), breakdowns=breakdowns,
        disagreement_count=p.disagreement_count, error_count=p.error_count, truncated=truncated,
        disagreements=_models(p.disagreements),
        errors=[AuditError(**e) for e in p.errors])


def _models(texts: list[str]) -> list[Disagreement]:
    """Disagreement models from their JSON text, releasing the text as it goes (peak: not both lists)."""
    out = []
    texts.reverse()
    while texts:
        out.append(Disagreement.model_validate_json(texts.pop()))
    return out


# ---------------------------------------------------------------------------------------------
# reading: work units


def _chunks(files: list[Path]) -> Iterator[tuple]:
    """("jsonl", source, [(line_no, text), ...]) for JSONL; ("files", [path, ...]) for the rest."""
    pending: list[str] = []
    for f in files:
        if f.suffix != ".jsonl":
            pending.append(str(f))
            if len(pending) >= CHUNK_FILES:
                yield ("files", pending)
                pending = []
            continue
        if pending:
            yield ("files", pending)
            pending = []
        source = str(f)
        try:
            fh = f.open("rb")                # lines decoded one by one: a bad line is one error
        except OSError:
            yield ("files", [source])        # load_file reports why it cannot be read
            continue
        with fh:
            lines: list[tuple[int, str]] = []
            for n, text in enumerate(fh, start=1):
                if text.strip():
                    lines.append((n, text))
                    if len(lines) >= CHUNK_LINES:
                        yield ("jsonl", source, lines)
                        lines = []
            if lines:
                yield ("jsonl", source, lines)
    if pending:
        yield ("files", pending)


def _load_line(source: str, n: int, text: str | bytes) -> Loaded:
    return load_json_line(source, n, text)        # bounded: a deep, huge or undecodable line is one error


def _documents(chunk: tuple) -> Iterable[Loaded]:
    if chunk[0] == "jsonl":
        _, source, lines = chunk
        return (_load_line(source, n, text) for n, text in lines)
    if chunk[0] == "unreadable":
        return [Loaded(chunk[1], None, problems=[Problem(chunk[2], file=chunk[1], code="C002")])]
    return chain.from_iterable(load_file(f) for f in chunk[1])


def _run_chunk(checker: Checker, chunk: tuple) -> _Partial:
    p = _Partial()
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


# ---------------------------------------------------------------------------------------------
# workers

_WORKER_CHECKER: Checker | None = None
_WORKER_FAILURE: str | None = None


def _worker_init(factory: Callable[[], Checker]) -> None:
    global _WORKER_CHECKER, _WORKER_FAILURE
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C: the parent stops the pool, no worker tracebacks
    try:
        _WORKER_CHECKER = factory()
    except Exception as e:                   # reported by the first task (a raising initializer loops)
        _WORKER_FAILURE = f"{type(e).__name__}: {e}"


def _worker_run(chunk: tuple) -> _Partial:
    if _WORKER_CHECKER is None:
        raise AuditAborted(f"a worker could not build its checker: {_WORKER_FAILURE}")
    return _run_chunk(_WORKER_CHECKER, chunk)


class AuditAborted(EngineError):
    """The audit could not run to the end (a worker failed or died)."""


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


def _pool_results(chunks: Iterator[tuple], jobs: int, factory: Callable[[], Checker]) -> Iterator[_Partial]:
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    pool = ctx.Pool(jobs, initializer=_worker_init, initargs=(factory,))
    try:
        workers = {p.pid for p in getattr(pool, "_pool", [])}
        it = pool.imap(_worker_run, chunks)
        while True:
            try:
                yield it.next(timeout=0.5)
            except StopIteration:
                break
            except mp.TimeoutError:
                # Pool replaces a dead worker silently and its chunk never comes back: detect it.
                now = {p.pid for p in getattr(pool, "_pool", [])}
                if workers and now != workers:
                    raise AuditAborted("a worker process died (the inference engine crashed); "
                                       "run with --jobs 1 to find the case") from None
        pool.close()
        pool.join()
    finally:
        pool.terminate()


def audit(paths: Iterable[str | Path], *, jobs: int | None = None,
          progress: Callable[[int, int | None], Any] | None = None,
          checker_factory: Callable[[], Checker] | None = None,
          max_listed: int | None = None) -> AuditReport:
    """Audit every case under `paths` (files or folders: YAML, multi-document YAML, JSON, JSONL).

    jobs: worker processes (default os.cpu_count(); 1 runs in this process).
    progress: called as progress(cases_done, cases_estimated) after each chunk.
    checker_factory: builds the Checker (default Checker()); called once here and once per worker.
    max_listed: keep at most this many disagreements and errors in the lists (counts stay exact).
    Raises PtcheckError when the audit cannot run (missing path, rule files that do not load)."""
    factory = checker_factory or Checker
    jobs = max(1, int(jobs if jobs is not None else (os.cpu_count() or 1)))
    files = list(iter_case_files(paths))           # file names only; raises for a missing path
    checker = factory()                            # fail fast on bad rules, before any fork
    total = estimate_cases(files) if progress else None
    chunks = _chunks(files)
    if jobs == 1:
        results: Iterator[_Partial] = (_run_chunk(checker, c) for c in chunks)
    else:
        _warm(checker)
        results = _pool_results(chunks, jobs, factory)
    acc = _Partial()
    for part in results:
        acc.merge(part, max_listed)
        if progress:
            progress(acc.cases, total)
    if progress:
        progress(acc.cases, acc.cases)
    truncated = len(acc.disagreements) < acc.disagreement_count or len(acc.errors) < acc.error_count
    return _report(acc, len(files), truncated)


__all__ = ["AuditAborted", "AuditError", "AuditReport", "Confusion", "Disagreement", "RationaleItem", "Tally",
           "audit", "cohen_kappa", "estimate_cases", "predicted_label"]
