"""Audits on a Dask cluster (the optional extra `ptcheck[cluster]`: dask.distributed).

    from ptcheck.audit._cluster import audit_on_cluster
    report = audit_on_cluster(["big.jsonl"], "local:2", folder="out/disagreements")

How it runs:
  * The inputs are split into partitions by file and byte range: a JSON Lines file is cut at line starts
    every `partition_bytes` (the client reads it once to find the cuts and their line numbers), YAML and
    JSON files go CHUNK_FILES to a partition, a CSV or Parquet file is one partition (its rows are grouped
    by case). Each partition is one task.
  * Each worker process builds one Checker (rules and pins as given) on its first task and keeps it; a lock
    runs one task at a time per process (a Checker is not shared between threads). ptcheck starts a local
    cluster with one thread per worker process, MALLOC_TRIM_THRESHOLD_ raised (Dask's nannies set it to 64 KiB,
    which made each case about 2x slower in issue 23's trial) and Dask's statistical profiler off (of no use
    here); for an existing cluster it says when its workers have more than one thread.
  * Tasks are sent in input order, a few per worker ahead; each lists and explains at most the disagreements
    the report can still list when it is sent (as `--jobs` does: explaining is most of a disagreement's
    cost). A task tallies its partition, writes those
    disagreements to FOLDER/part-NNNNN.jsonl (atomically: a retried task rewrites it) and returns the tally
    without them: disagreements are not gathered. The client merges the tallies in input order and reads
    back only the disagreements the report lists (the first max_listed), so the report is the single-machine
    one, byte for byte apart from its provenance, which links the folder.
  * A task whose worker dies is run again by Dask on another worker; a partition that kills its workers
    (distributed.scheduler.allowed-failures) is re-run here case by case in local worker processes, as
    `audit --jobs` does: the case that kills one becomes an error entry.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..core._errors import PtcheckError
from ._audit import CHUNK_FILES, CHUNK_LINES, AuditAborted, _chunks, _documents, _run_chunk, audit_files
from ._checkpoint import stop_point, write_atomic
from ._report import AuditReport
from ._tabular import is_tabular, need_pyarrow
from ._tally import Tally, _Spool

MALLOC_TRIM_THRESHOLD = 256 * 1024 * 1024     # bytes; see the module docstring
PARTITION_BYTES = 64 * 1024 * 1024           # at most, of JSON Lines per partition
MIN_PARTITION_BYTES = 64 * 1024


class ClusterError(PtcheckError):
    """The cluster cannot be used: the extra is missing, the address is wrong or unreachable, its workers
    cannot import ptcheck or load the same rule sets."""


def parse_cluster(spec: str) -> tuple[str, Any]:
    """`local:N` -> ("local", N); `dask://HOST:PORT` (or tcp://, tls://) -> ("address", "tcp://HOST:PORT")."""
    if spec.startswith("local:"):
        try:
            n = int(spec[len("local:"):])
        except ValueError:
            n = 0
        if n < 1:
            raise ClusterError(f"--cluster {spec}: write local:N with N the number of worker processes (1 or more)")
        return "local", n
    for scheme in ("dask://", "tcp://", "tls://"):
        if spec.startswith(scheme) and len(spec) > len(scheme):
            return "address", ("tcp://" if scheme == "dask://" else scheme) + spec[len(scheme):]
    raise ClusterError(f"--cluster {spec}: write dask://HOST:PORT (a running Dask scheduler) or local:N")


# ---------------------------------------------------------------------------------------------
# partitions


def partitions(files: list[Path], partition_bytes: int = PARTITION_BYTES) -> Iterator[tuple]:
    """Work units in input order: ("jsonl-range", idx, path, start, end, first_line), ("files", idx, [paths]),
    ("tabular", idx, path); idx is the position of the partition's first file."""
    pending: list[str] = []
    first = 0
    for idx, f in enumerate(files):
        if f.suffix != ".jsonl" and not is_tabular(f):
            if not pending:
                first = idx
            pending.append(str(f))
            if len(pending) >= CHUNK_FILES:
                yield ("files", first, pending)
                pending = []
            continue
        if pending:
            yield ("files", first, pending)
            pending = []
        if is_tabular(f):
            yield ("tabular", idx, str(f))
            continue
        yield from _cut(idx, f, partition_bytes)
    if pending:
        yield ("files", first, pending)


def _cut(idx: int, f: Path, size: int) -> Iterator[tuple]:
    """Byte ranges of a JSON Lines file, each starting at a line start, with the number of its first line. The
    first ranges are small, doubling up to `size`: the tasks sent first explain every disagreement they may
    list, so the list fills (and later tasks explain none) after little work."""
    try:
        fh = f.open("rb")
    except OSError:
        yield ("files", idx, [str(f)])            # load_file reports why it cannot be read
        return
    with fh:
        start, line, pos = 0, 1, 0
        n_in = 0
        step = min(size, MIN_PARTITION_BYTES)
        for raw in fh:
            pos += len(raw)
            n_in += 1
            if pos - start >= step:
                yield ("jsonl-range", idx, str(f), start, pos, line)
                start, line, n_in = pos, line + n_in, 0
                step = min(size, 2 * step)
        if pos > start or start == 0:
            yield ("jsonl-range", idx, str(f), start, pos, line)


def _chunks_of(part: tuple) -> Iterator[tuple]:
    """The partition as _audit's work units (so that a partition is tallied exactly as `audit` does it)."""
    kind = part[0]
    if kind == "files":
        yield ("files", part[2], None)
    elif kind == "tabular":
        yield from _chunks([Path(part[2])])
    else:
        _, _, path, start, end, line = part
        with open(path, "rb") as fh:
            fh.seek(start)
            lines: list[tuple[int, bytes]] = []
            n, pos = line - 1, start
            while pos < end:
                text = fh.readline()
                if not text:
                    break
                pos += len(text)
                n += 1
                if text.strip():
                    lines.append((n, text))
                    if len(lines) >= CHUNK_LINES:
                        yield ("jsonl", path, lines, None)
                        lines = []
            if lines:
                yield ("jsonl", path, lines, None)


# ---------------------------------------------------------------------------------------------
# the worker side

_LOCK = threading.Lock()
_CHECKERS: dict = {}


def _checker(rules: str | None, pins: tuple) -> Any:
    """This process's Checker for these rules and pins, built on its first task."""
    key = (rules, pins)
    if key not in _CHECKERS:
        import gc

        from ..core._check import Checker
        from ..core._library import Library
        _CHECKERS[key] = Checker(Library.load(Path(rules) if rules else None), dict(pins))
        gc.freeze()            # what the worker holds for the run leaves the collector's view (as _audit's workers)
    return _CHECKERS[key]


def rules_key(checker: Any) -> str | None:
    import hashlib
    lib = getattr(checker, "library", None)
    if lib is None:
        return None
    return hashlib.sha256("\n".join(sorted(f"{rs.key}:{rs.sha256}" for rs in lib.rulesets)).encode()).hexdigest()


def run_partition(seq: int, part: tuple, rules: str | None, pins: tuple, room: int | None, max_listed: int | None,
                  folder: str) -> tuple[Tally, int, str | None, str | None]:
    """Tally one partition in this worker, listing and explaining at most `room` disagreements (what the report
    can still list, as far as the client knew when it sent the task) and `max_listed` errors; the listed
    disagreements go to FOLDER/part-SEQ.jsonl. Returns the tally without them, how many were written, the
    file, and the rule sets' key (checked by the client)."""
    with _LOCK:
        checker = _checker(rules, pins)
        t = Tally(cap=room)
        for chunk in _chunks_of(part):
            t.merge(_run_chunk(checker, chunk, None if room is None else max(0, room - len(t.disagreements))),
                    max_listed)
        return _finish(t, seq, part, folder, rules_key(checker))


def _finish(t: Tally, seq: int, part: tuple, folder: str, key: str | None) -> tuple[Tally, int, str | None, str | None]:
    """The partition's result: its files counted once (a JSON Lines file by its first range), its listed
    disagreements written to the folder and taken out of the tally."""
    if part[0] in ("files", "tabular") or part[3] == 0:
        t.files = len(part[2]) if part[0] == "files" else 1
    listed, path = len(t.disagreements), None
    if listed:
        path = os.path.join(folder, f"part-{seq:05d}.jsonl")
        write_atomic(Path(path), (text + "\n" for text in t.disagreements))
    t.disagreements, t.cap = [], None
    return t, listed, path, key


def _worker_threads(client: Any) -> int:
    info = client.scheduler_info()
    return max((w.get("nthreads", 1) for w in info.get("workers", {}).values()), default=1)


# ---------------------------------------------------------------------------------------------
# the client side


def audit_on_cluster(paths: Iterable[str | Path], cluster: str, *, folder: str | Path,
                     rules: str | Path | None = None, pins: dict[str, str] | None = None,
                     max_listed: int | None = 1000, partition_bytes: int | None = None,
                     progress: Callable[[int, int | None], Any] | None = None,
                     stop: Callable[[], bool] | None = None, warn: Callable[[str], Any] = lambda s: None,
                     spool: bool = True, tally_out: str | Path | None = None) -> AuditReport:
    """Audit on a Dask cluster (see the module docstring): the report of `audit(paths, max_listed=...)`, with
    its provenance (the cluster, the partitions, the folder of disagreements). Raises ClusterError when the
    cluster cannot be used."""
    try:
        import dask
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ClusterError("--cluster needs the cluster extra: pip install 'ptcheck[cluster]'") from None
    kind, where = parse_cluster(cluster)
    files = audit_files(paths)
    need_pyarrow(files)
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    pins_t = tuple(sorted((pins or {}).items()))
    rules_s = str(Path(rules).resolve()) if rules else os.environ.get("PTCHECK_RULES")
    from ..core._check import Checker
    from ..core._library import Library
    want_key = rules_key(Checker(Library.load(Path(rules_s) if rules_s else None), dict(pins_t)))  # fails fast here
    total = None
    if progress:
        from ._audit import estimate_cases
        total = estimate_cases(files)
    import logging
    local = None
    # a local cluster's workers: the allocator's trim threshold raised, no statistical profiler (it samples the
    # task thread's stack every 10 ms; bench_cluster.py --per-task: its cost within a shared machine's noise)
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": MALLOC_TRIM_THRESHOLD,
                          "distributed.worker.profile.enabled": False, "distributed.worker.daemon": False}):
        try:
            if kind == "local":
                local = LocalCluster(n_workers=where, threads_per_worker=1, processes=True, dashboard_address=None,
                                     silence_logs=logging.ERROR)
                client = Client(local)
            else:
                client = Client(where, timeout="20s")
        except OSError as e:
            raise ClusterError(f"--cluster {cluster}: cannot reach the scheduler ({e})") from None
    try:
        workers = where if kind == "local" else max(1, len(client.scheduler_info().get("workers", {})))
        if partition_bytes is None:       # about 4 partitions per worker, each 64 KiB to 64 MiB of JSON Lines
            size = sum(f.stat().st_size for f in files if f.suffix == ".jsonl")
            partition_bytes = min(PARTITION_BYTES, max(MIN_PARTITION_BYTES, size // (4 * workers)))
        parts = list(partitions(files, partition_bytes))
        if kind == "address" and _worker_threads(client) > 1:
            warn(f"the workers of {cluster} run more than one thread each: ptcheck runs one task at a time per "
                 "process; start them with --nthreads 1 and as many processes as cores (see README)")
        acc = Tally()
        if spool:
            acc.disagreements = _Spool()

        def room() -> int | None:
            """Disagreements the report can still list, given the partitions merged so far (as --jobs does)."""
            return None if max_listed is None else max(0, max_listed - len(acc.disagreements))
        futures: dict = {}
        rooms: dict[int, int | None] = {}
        pending = as_completed(raise_errors=False)
        queue = iter(enumerate(parts))
        window = 2 * workers + 1        # tasks sent ahead: each gets the room known when it is sent

        def send() -> None:
            item = next(queue, None)
            if item is not None:
                k, p = item
                rooms[k] = room()
                fut = client.submit(run_partition, k, p, rules_s, pins_t, rooms[k], max_listed, str(folder),
                                    pure=False, key=f"ptcheck-partition-{k}-{os.urandom(4).hex()}", priority=-k)
                futures[fut] = k
                pending.add(fut)
        for _ in range(window):
            send()
        done: dict[int, tuple] = {}
        next_k = 0
        stopped = False
        for fut in pending:
            k = futures[fut]
            done[k] = _result(fut, k, parts[k], rules_s, pins_t, rooms[k], max_listed, str(folder))
            while next_k in done:
                t, listed, path, key = done.pop(next_k)
                if key is not None and key != want_key:
                    raise ClusterError(f"--cluster {cluster}: a worker loaded other rule sets than this machine; "
                                       "install the same ptcheck and rules on every worker")
                take = listed if max_listed is None else max(0, min(listed, max_listed - len(acc.disagreements)))
                acc.merge(t, max_listed)
                if take and path:
                    with open(path, encoding="utf-8") as fh:
                        for _, text in zip(range(take), fh):
                            acc.disagreements.append(text.rstrip("\n"))
                next_k += 1
                send()
                if progress:
                    progress(acc.cases, total)
            if stop is not None and stop():
                stopped = True
                break
        if stopped:
            client.cancel(list(futures))
    finally:
        client.close()
        if local is not None:
            local.close()
    acc.files = len(files)
    if tally_out is not None and not stopped:
        acc.write(tally_out)
    provenance = {"cluster": cluster, "partitions": len(parts), "disagreements_folder": str(folder),
                  "disagreements_folder_url": folder.as_uri()}
    at = None
    if stopped:
        at = stop_point(files, _position(parts, next_k, files), acc.cases)
    elif progress:
        progress(acc.cases, acc.cases)
    return acc.report(stopped_at=at, provenance=provenance)


def _position(parts: list[tuple], k: int, files: list[Path]) -> tuple[int, int]:
    """Where partition k starts (every partition before it is in the report)."""
    if k >= len(parts):
        return len(files), 0
    p = parts[k]
    if p[0] == "jsonl-range":
        return p[1], p[5] - 1
    return p[1], 0


def _result(fut: Any, k: int, part: tuple, rules: str | None, pins: tuple, room: int | None,
            max_listed: int | None, folder: str) -> tuple:
    """The partition's result; a partition that killed its workers is re-run here case by case."""
    from distributed.scheduler import KilledWorker
    try:
        return fut.result()
    except KilledWorker:
        return _isolated(k, part, rules, pins, room, max_listed, folder)
    except Exception as e:
        raise AuditAborted(f"a partition failed on the cluster: {type(e).__name__}") from None


def _isolated(k: int, part: tuple, rules: str | None, pins: tuple, room: int | None, max_listed: int | None,
              folder: str) -> tuple:
    import functools
    import multiprocessing as mp

    from ._audit import _isolate
    factory = functools.partial(_checker, rules, pins)
    t = Tally(cap=room)
    for chunk in _chunks_of(part):
        loaded = ("loaded", list(_documents(chunk)), None)
        t.merge(_isolate(mp.get_context("fork"), factory, loaded, [], None,
                         None if room is None else max(0, room - len(t.disagreements))), max_listed)
    return _finish(t, k, part, folder, None)


__all__ = ["MALLOC_TRIM_THRESHOLD", "PARTITION_BYTES", "ClusterError", "audit_on_cluster", "parse_cluster",
           "partitions", "run_partition"]
