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
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from ..core._caseload import Loaded, iter_case_files, load_file, load_json_line, validate_case
from ..core._check import Checker
from ..core._errors import EngineError, Problem
from ..core._textsafe import redact
from ._checkpoint import CheckpointError, Saver, fingerprint, read_checkpoint, stop_point, write_atomic
from ._report import (
    REVIEW_LABELS,
    UR_LABELS,
    AuditError,
    AuditReport,
    Breakdown,
    Confusion,
    Disagreement,
    Group,
    RationaleItem,
    StopPoint,
    cohen_kappa,
)
from ._tabular import is_tabular, need_pyarrow, read_cases, to_loaded
from ._tally import Tally, _Spool, death, origin_group, predicted_label

CHUNK_LINES = 200          # JSONL lines per work unit
CHUNK_FILES = 16           # YAML/JSON files per work unit


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
        if is_tabular(f):
            if pending:
                yield ("files", pending, (idx, 0))
                pending = []
            skip = done_line if idx == first else 0
            cases: list = []
            for c in read_cases(f, skip):
                if skip and c.row <= skip:
                    continue
                cases.append(c)
                if len(cases) >= CHUNK_LINES:
                    yield ("tabular", str(f), cases, _end(idx, cases))
                    cases = []
            if cases:
                yield ("tabular", str(f), cases, _end(idx, cases))
            continue
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


def _end(idx: int, cases: list) -> tuple[int, int]:
    """The position after these cases: the last row of the last one, or the next file after a problem of
    the file itself (row 0: nothing else is read from it)."""
    c = cases[-1]
    last = c.item_rows[-1] if c.item_rows else c.row
    return (idx, last) if last else (idx + 1, 0)


def audit_files(paths: Iterable[str | Path]) -> list[Path]:
    """The input files: iter_case_files' (YAML, JSON, JSONL), and the CSV and Parquet files, in folders too."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            wanted = set(iter_case_files([p]))
            out += [f for f in sorted(p.rglob("*")) if f in wanted or (f.is_file() and is_tabular(f))]
        else:
            out += iter_case_files([p])
    return out


def _load_line(source: str, n: int, text: str | bytes) -> Loaded:
    return load_json_line(source, n, text)        # bounded: a deep, huge or undecodable line is one error


def _documents(chunk: tuple) -> Iterable[Loaded]:
    kind = chunk[0]
    if kind == "jsonl":
        _, source, lines, _end = chunk
        return (_load_line(source, n, text) for n, text in lines)
    if kind == "unreadable":
        return [Loaded(chunk[1], None, problems=[Problem(chunk[2], file=chunk[1], code="C002")])]
    if kind == "tabular":                     # the rows of each case, read by the parent
        return (to_loaded(c, chunk[1]) for c in chunk[2])
    if kind == "loaded":                      # documents already read (re-running a dead worker's chunk)
        return chunk[1]
    return chain.from_iterable(load_file(f) for f in chunk[1])


def _run_chunk(checker: Checker, chunk: tuple, listed: int | None = None) -> Tally:
    p = Tally(cap=listed)
    for loaded in _documents(chunk):
        p.add(checker, loaded)
    return p


def estimate_cases(files: Iterable[Path]) -> int:
    """A quick count of documents (non-empty JSONL lines, YAML documents, CSV and Parquet cases), for progress
    bars."""
    total = 0
    for f in files:
        try:
            if f.suffix == ".jsonl":
                with f.open("rb") as fh:
                    total += sum(1 for line in fh if line.strip())
            elif f.suffix == ".json":
                total += 1
            elif is_tabular(f):
                total += sum(1 for _ in read_cases(f))
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
        raise AuditAborted(f"a worker process died while starting ({death(msg[1])})")
    elif msg[0] == "failed":
        raise AuditAborted(f"a worker failed: {msg[1]}")
    return msg


def _isolate(ctx, factory, chunk: tuple, others: list[_Worker], stop, listed: int | None) -> Tally:
    """Re-run a dead worker's chunk one case at a time in a fresh worker; a case on which that worker
    dies too is an error entry, and the next case gets a new worker."""
    from multiprocessing.connection import wait
    p = Tally(cap=listed)
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
                  room: Callable[[], int | None] = lambda: None) -> Iterator[tuple[tuple, Tally]]:
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


def audit(paths: Iterable[str | Path], *, jobs: int | None = None,
          progress: Callable[[int, int | None], Any] | None = None,
          checker_factory: Callable[[], Checker] | None = None,
          max_listed: int | None = None, in_process: bool | None = None,
          stop: Callable[[], bool] | None = None,
          checkpoint: str | Path | None = None, resume: bool = False, spool: bool = False,
          tally_out: str | Path | None = None) -> AuditReport:
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
    tally_out: when the audit finishes (not when stopped), write its Tally there (Tally.write): `ptcheck
        audit merge` of the tallies of consecutive parts of the input gives the whole's report.
    Raises PtcheckError when the audit cannot run (missing path, rule files that do not load, a
    checkpoint for other inputs) and AuditAborted when workers cannot run."""
    factory = checker_factory or Checker
    jobs = max(1, int(jobs if jobs is not None else (os.cpu_count() or 1)))
    files = audit_files(paths)                     # file names only; raises for a missing path
    need_pyarrow(files)
    checker = factory()                            # fail fast on bad rules, before any fork
    acc, start, saver = Tally(), (0, 0), None
    if checkpoint is not None:
        fp = fingerprint(files, checker, max_listed)
        if resume:
            acc, start = read_checkpoint(Path(checkpoint), fp, files)
        elif Path(checkpoint).exists():
            raise CheckpointError(f"{checkpoint} exists: add --resume to continue from it, or remove it")
        saver = Saver(Path(checkpoint), fp)
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
    acc.files = len(files)
    if tally_out is not None and not stopped:
        acc.write(tally_out)
    return acc.report(stopped_at=stop_point(files, position, acc.cases) if stopped else None)


__all__ = ["REVIEW_LABELS", "UR_LABELS", "AuditAborted", "AuditError", "AuditReport", "Breakdown", "CheckpointError", "Confusion", "Disagreement",
           "Group", "RationaleItem", "StopPoint", "Tally", "audit", "cohen_kappa", "estimate_cases", "origin_group",
           "predicted_label", "write_atomic"]
