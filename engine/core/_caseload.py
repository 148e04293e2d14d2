"""Reading cases: files, texts and JSON lines into validated cases (engine/core/_cases.py), one at a time.

Loading streams: one case at a time from YAML, multi-document YAML, JSON or JSONL, so a batch of any
size is never held in memory. A document that cannot be read or fails validation is one error entry
(file, line, document index, field path) and the batch goes on: valid cases before and after it are
still yielded. Every YAML and JSON read goes through engine/core/_yamlpos.py and _safejson.py (safe,
bounded). Messages never echo free text from a case (engine/core/_casetypes.py).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from pydantic import BaseModel, ValidationError

from ._cases import Case
from ._casetypes import MAX_DIAGNOSES, MAX_HISTORY, MAX_REQUESTS, Region, echo, safe_id
from ._errors import CaseError, Problem, did_you_mean
from ._safeinput import CASE_FILE, JSONL_LINE, InputError, too_large
from ._safejson import load_json
from ._yamlpos import dotted, iter_yaml, mark


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


def _too_long(data: dict[str, Any]) -> tuple[list[str | int], int] | None:
    """(field path, maximum) of the first list of the case longer than its maximum, else None."""
    history = data.get("history")
    lists: list[tuple[list[str | int], Any, int]] = [(["requests"], data.get("requests"), MAX_REQUESTS),
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
            shown = echo(err.get("input"))
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


def _siblings(loc: list[str | int]) -> list[str]:
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


def unique_ids(loaded: Iterable[Loaded], seen: dict[str, tuple[str, int | None]] | None = None
               ) -> Iterator[Loaded]:
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
