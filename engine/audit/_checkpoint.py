"""Audit checkpoints: the merged tally and the position after it, rewritten atomically, and read back only
when every part of them can be trusted.

A checkpoint file is compact JSON, {"sha256": H, "checkpoint": BODY}, H the sha256 of BODY's text:
    BODY = {"format": "ptcheck/audit-checkpoint@2", "complete": bool, "fingerprint": {inputs, rules, pins,
            max_listed}, "position": {"file_index": i, "line": n}, "tally": <the Tally's serialised form>}
Reading it (resume) refuses, with one line naming the file and what is wrong (CheckpointError, exit 2):
a checksum that does not match (damage, an edit), a body that does not follow the schema (a missing or
wrong-typed field, a count out of range), a tally whose counts do not add up, a fingerprint of other inputs,
rules, pins or --max-listed, a position past the end of the inputs, and a position that does not match the
tally (the documents before it are not the cases tallied: a reset or moved position). Only then is the
tally merged into a report.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core._caseload import load_file
from ..core._errors import PtcheckError
from ._report import StopPoint
from ._tabular import count_cases, is_tabular
from ._tally import MAX_COUNT, Tally, TallyError
from ._tallyfile import _dump, _schema_words, _sha

CHECKPOINT_FORMAT = "ptcheck/audit-checkpoint@2"
CHECKPOINT_SECONDS = 2.0       # at most this often, and at most ~10% of the run spent writing it


class CheckpointError(PtcheckError):
    """A checkpoint cannot be used for these inputs (missing, unreadable, damaged, or written for other
    inputs)."""


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


def fingerprint(files: list[Path], checker: Any, max_listed: int | None) -> dict:
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
    return {"inputs": inputs, "rules": rules, "pins": [list(p) for p in sorted(getattr(checker, "pins", {}).items())],
            "max_listed": max_listed}


Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]


class _Position(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    file_index: Count
    line: Count


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    format: str
    complete: bool
    fingerprint: dict
    position: _Position
    tally: dict


def read_checkpoint(path: Path, fp: dict, files: list[Path]) -> tuple[Tally, tuple[int, int]]:
    """The tally and position of the checkpoint at `path`, for inputs `files` of fingerprint `fp`; each
    thing that cannot be trusted is a CheckpointError (see the module docstring)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint (run without --resume to start one)") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read the checkpoint: {e.strerror or e}") from None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}): it is damaged; start again "
                              "without --resume") from None
    if isinstance(doc, dict) and doc.get("format") == "ptcheck/audit-checkpoint@1":
        raise CheckpointError(f"{path}: written by an older ptcheck (a checkpoint without a checksum); start "
                              "again without --resume")
    if not isinstance(doc, dict) or set(doc) != {"sha256", "checkpoint"} or not isinstance(doc["checkpoint"], dict):
        raise CheckpointError(f"{path}: not a ptcheck audit checkpoint")
    body = doc["checkpoint"]
    if doc["sha256"] != _sha(_dump(body)):
        raise CheckpointError(f"{path}: the checksum does not match the content: the checkpoint is damaged or was "
                              "edited; start again without --resume")
    if body.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a ptcheck audit checkpoint (format {CHECKPOINT_FORMAT} expected)")
    try:
        valid = _Body.model_validate(body)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        raise CheckpointError(f"{path}: {'.'.join(map(str, err['loc']))}: {_schema_words(err)}: the checkpoint is "
                              "damaged; start again without --resume") from None
    _same_inputs(path, valid.fingerprint, fp)
    try:
        tally = Tally.from_state(valid.tally, str(path), prefix="tally.")
    except TallyError as e:
        raise CheckpointError(f"{e}; start again without --resume") from None
    position = (valid.position.file_index, valid.position.line)
    _position_matches(path, files, position, tally.cases)
    return tally, position


def _same_inputs(path: Path, old: dict, fp: dict) -> None:
    old_inputs = old.get("inputs")
    if not isinstance(old_inputs, list) or not all(isinstance(i, dict) for i in old_inputs) \
            or [i.get("path") for i in old_inputs] != [i["path"] for i in fp["inputs"]]:
        raise CheckpointError(f"{path}: written for other input files; give the same paths, or start again")
    changed = [n["path"] for o, n in zip(old_inputs, fp["inputs"]) if o != n]
    if changed:
        raise CheckpointError(f"{path}: {changed[0]} changed since the checkpoint (size or time); "
                              f"start again without --resume")
    if old.get("pins") != fp["pins"]:
        def words(pins: Any) -> str:
            if not pins or not isinstance(pins, list):
                return "without --ruleset"
            return "with " + " ".join(f"--ruleset {'@'.join(map(str, p))}" for p in pins)
        raise CheckpointError(f"{path}: written {words(old.get('pins'))}, resumed {words(fp['pins'])}: resume "
                              "with the same --ruleset pins")
    if old.get("rules") != fp["rules"]:
        raise CheckpointError(f"{path}: the rule sets changed since the checkpoint; start again without --resume")
    if old.get("max_listed") != fp["max_listed"]:
        was, now = old.get("max_listed"), fp["max_listed"]
        raise CheckpointError(f"{path}: written {_listed_words(was)}, resumed {_listed_words(now)}: "
                              "resume with the same --max-listed")
    if set(old) != set(fp):
        raise CheckpointError(f"{path}: fingerprint: unexpected fields: the checkpoint is damaged")


def _listed_words(n: Any) -> str:
    return "with --max-listed all" if n is None else f"with --max-listed {n}"


def _position_matches(path: Path, files: list[Path], position: tuple[int, int], cases: int) -> None:
    """The position must lie within the inputs, and the documents before it must be the cases tallied."""
    idx, line = position
    if idx > len(files) or (idx == len(files) and line):
        raise CheckpointError(f"{path}: position: file index {idx} is past the end of the {len(files)} input "
                              f"file(s): the checkpoint is damaged; start again without --resume")
    if line and files[idx].suffix != ".jsonl" and not is_tabular(files[idx]):
        raise CheckpointError(f"{path}: position: line {line} of {files[idx]}, which is not JSON Lines: the "
                              "checkpoint is damaged; start again without --resume")
    before = documents_before(files, position)
    if before is None:
        raise CheckpointError(f"{path}: position: line {line} is past the end of {files[idx]}: the checkpoint is "
                              "damaged; start again without --resume")
    if before != cases:
        raise CheckpointError(f"{path}: position: the inputs hold {before} case(s) before it, the tally counts "
                              f"{cases}: the checkpoint is damaged or was edited; start again without --resume")


def documents_before(files: list[Path], position: tuple[int, int]) -> int | None:
    """How many documents the audit reads before `position` (None: its line is past its file's end): a JSONL
    file's non-empty lines, a YAML or JSON file's documents (as load_file reads them), a CSV or Parquet file's
    cases (the position's line is then the last row of a case)."""
    idx, line = position
    total = 0
    for k in range(min(idx + 1, len(files))):
        f = files[k]
        if k == idx and not line:
            break
        if is_tabular(f):
            n = count_cases(f, line if k == idx else None)
            if n is None:
                return None
            total += n
            continue
        if f.suffix != ".jsonl":
            total += sum(1 for _ in load_file(f))
            continue
        try:
            with f.open("rb") as fh:
                n = 0
                for n, text in enumerate(fh, start=1):
                    if k == idx and n > line:
                        break
                    total += bool(text.strip())
                if k == idx and n < line:
                    return None
        except OSError:
            total += 1                  # an unreadable file is one error entry
    return total


class Saver:
    """Writes the checkpoint: at most every CHECKPOINT_SECONDS (and at most ~10% of the run), and at the end."""

    def __init__(self, path: Path, fp: dict):
        self.path, self.fp = Path(path), fp
        self.last, self.cost = 0.0, 0.0

    def save(self, acc: Tally, position: tuple[int, int], complete: bool = False) -> None:
        import time
        t = time.monotonic()
        head = _dump({"format": CHECKPOINT_FORMAT, "complete": complete, "fingerprint": self.fp,
                      "position": {"file_index": position[0], "line": position[1]}})
        body = head[:-1] + ',"tally":' + acc.to_text() + "}"
        write_atomic(self.path, ['{"sha256":"', _sha(body), '","checkpoint":', body, "}"])
        self.last = time.monotonic()
        self.cost = self.last - t

    def maybe(self, acc: Tally, position: tuple[int, int]) -> None:
        import time
        if time.monotonic() - self.last >= max(CHECKPOINT_SECONDS, 10 * self.cost):
            self.save(acc, position)


def stop_point(files: list[Path], position: tuple[int, int], cases: int) -> StopPoint:
    idx, line = position
    if idx >= len(files):
        return StopPoint(file=None, line=None, cases_done=cases)
    return StopPoint(file=str(files[idx]), line=line or None, cases_done=cases)


__all__ = ["CHECKPOINT_FORMAT", "CheckpointError", "Saver", "documents_before", "fingerprint", "read_checkpoint",
           "stop_point", "write_atomic"]
