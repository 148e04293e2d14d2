"""CSV and Parquet input for audits: one row per request item, the rows of a case together, mapped to the
case format (docs/tabular.md has the mapping and an example).

Columns are the case format's field paths: the case's own (`id`, `jurisdiction`, `review.kind`,
`review.date`, `injury_date`, `origin.outcome`, `origin.source`, `patient`, `diagnoses`, `history`) repeat on
every row of the case and must be equal on each; the item's are `request.<field>` (`request.id`,
`request.service`, `request.visits`, `request.actual`, ...). A cell holding a list or an object (`diagnoses`,
`history`, `patient`, `request.body_regions`, `request.visits_range`) is JSON text in a CSV (Parquet may also
use list and struct columns); `request.body_regions` may also be `lumbar;cervical`. An empty cell (CSV) or a
null (Parquet) is a field left out. Counts in a CSV must be written as whole numbers.

Rows are numbered from 1, the header not counted (a CSV's row n is its line n + 1 when no cell spans lines);
a problem of the file itself (its header, a file that cannot be read) is at row 0.
Every problem names the file, the row and the column (1-based) of the cell it comes from: a case is
`Loaded(source, row of its first row)` and its problems carry the row and column of their cell, so the audit
reports them as `file:row:column`, as it reports a JSON Lines file's `file:line:column`.
"""
from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core._caseload import Loaded, validate_case
from ..core._errors import Problem, PtcheckError, did_you_mean

SUFFIXES = (".csv", ".parquet")
CASE_COLUMNS = ("id", "jurisdiction", "review.kind", "review.date", "injury_date", "origin.outcome", "origin.source",
                "patient", "diagnoses", "history", "format")
ITEM_FIELDS = ("id", "text", "service", "body_regions", "visits", "frequency_per_week", "duration_weeks", "actual",
               "visits_range", "hours", "hours_per_day", "drug", "strength", "quantity", "sig", "specialty",
               "purpose", "kind")
ITEM_COLUMNS = tuple(f"request.{f}" for f in ITEM_FIELDS)
_INTS = {"request.visits", "request.frequency_per_week", "request.duration_weeks", "request.hours",
         "request.hours_per_day", "request.quantity"}
_JSON = {"patient", "diagnoses", "history", "request.visits_range", "request.body_regions"}
_WHOLE = re.compile(r"^[0-9]{1,18}$")
SEEN_IDS = 100_000         # a case id whose rows come back within this many cases is an error (T002)


class TabularError(PtcheckError):
    """A CSV or Parquet file that cannot be read at all (pyarrow missing for Parquet)."""


@dataclass
class RawCase:
    """The rows of one case as read: its data (or the problems that stop it), and where each part came from."""
    row: int
    data: dict | None
    problems: list[Problem] = field(default_factory=list)
    item_rows: list[int] = field(default_factory=list)
    columns: dict[str, int] = field(default_factory=dict)        # column name -> 1-based column number
    raw_id: str | None = None
    first_values: list = field(default_factory=list)             # the case's first row


def is_tabular(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def need_pyarrow(files: list[Path]) -> None:
    """Refuse to start an audit of Parquet files without pyarrow (exit 2, before any case is read)."""
    if any(f.suffix.lower() == ".parquet" for f in files):
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            raise TabularError("reading Parquet needs pyarrow: pip install 'ptcheck[parquet]'") from None


def _rows(path: Path) -> Iterator[tuple[int, list[str] | None, list[Any] | None, str | None]]:
    """(row number, header, values, problem) per row; the header comes once as row 0."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq
        try:
            pf = pq.ParquetFile(str(path))
        except Exception as e:           # pyarrow raises its own kinds for damaged files
            yield 0, None, None, f"not a readable Parquet file ({type(e).__name__})"
            return
        names = list(pf.schema_arrow.names)
        yield 0, names, None, None
        n = 0
        for batch in pf.iter_batches(batch_size=4096):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for row in zip(*columns):
                n += 1
                yield n, names, list(row), None
        return
    with path.open("r", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as e:
            yield 0, None, None, f"the header cannot be read ({type(e).__name__})"
            return
        if header is None:
            yield 0, None, None, "the file is empty (a header row is needed)"
            return
        yield 0, header, None, None
        n = 0
        while True:
            try:
                cells: list[str] = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as e:
                n += 1
                yield n, header, None, f"the row cannot be read ({type(e).__name__})"
                return
            n += 1
            if not any(v.strip() for v in cells):
                continue
            yield n, header, cells, None


def read_cases(path: str | Path, start_row: int = 0) -> Iterator[RawCase]:
    """The cases of a CSV or Parquet file, streamed, each with the rows after `start_row` it came from (a
    checkpoint's position is the last row of a case already audited)."""
    path = Path(path)
    source = str(path)
    try:
        rows = _rows(path)
        _, header, _, problem = next(rows)
    except OSError as e:
        yield RawCase(0, None, [Problem(f"cannot read: {e.strerror or e}", file=source, code="C002")])
        return
    if problem or header is None:
        yield RawCase(0, None, [Problem(problem or "no header", file=source, code="C002")])
        return
    columns = {name: i + 1 for i, name in enumerate(header)}
    bad = [(n, i) for n, i in columns.items() if n not in CASE_COLUMNS and n not in ITEM_COLUMNS]
    missing = [c for c in ("id", "request.id") if c not in columns]
    if bad or missing or len(columns) != len(header):
        if bad:
            name, col = bad[0]
            plain = re.match(r"^[\w.]{1,40}$", name) is not None       # else not shown: a header is free text
            hint = did_you_mean(name, [*CASE_COLUMNS, *ITEM_COLUMNS]) if plain else None
            p = Problem(f"unknown column {name if plain else '(not shown)'}: columns are paths of the case format "
                        "(id, jurisdiction, review.date, request.visits, ...; see docs/tabular.md)", file=source,
                        line=0, column=col, code="T001", suggestion=hint.replace("'", "") if hint else None)
        elif missing:
            p = Problem(f"the column {missing[0]} is missing (a case is the rows of one id; an item is a "
                        "request.id)", file=source, line=0, code="T001")
        else:
            p = Problem("a column name is used twice", file=source, line=0, code="T001")
        yield RawCase(0, None, [p])
        return
    current: RawCase | None = None
    seen: dict[str, int] = {}
    for n, _, values, problem in rows:
        if problem is not None:
            if current is not None:
                yield current
                current = None
            yield RawCase(n, None, [Problem(problem, file=source, line=n, code="C002")])
            return
        assert values is not None
        cid = values[columns["id"] - 1]
        key = str(cid) if cid not in (None, "") else None
        if current is not None and key == current.raw_id and key is not None:
            _add_item(current, values, n, source)
            continue
        if current is not None:
            if current.row > start_row:
                yield current
            seen.setdefault(current.raw_id or "", current.item_rows[-1])
            if len(seen) > SEEN_IDS:                  # memory stays flat: the oldest ids are forgotten
                del seen[next(iter(seen))]
        current = RawCase(n, {}, columns=columns, raw_id=key)
        if key is not None and key in seen:
            current.problems.append(Problem(f"the rows of case id '{_safe(key)}' are not together (its first rows "
                                            f"end at row {seen[key]}): sort the rows by id",
                                            file=source, line=n, column=columns["id"], path="id", code="T002"))
        _case_fields(current, values, n, source)
        _add_item(current, values, n, source)
    if current is not None and current.row > start_row:
        yield current


def _safe(text: str) -> str:
    from ..core._casetypes import safe_id
    return safe_id(text) or "?"


def _cell(name: str, value: Any, row: int, col: int, source: str, problems: list[Problem]) -> Any:
    """A cell's value for the case format (None: the field is left out)."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    if not isinstance(value, str):
        return value
    if name in _INTS:
        return int(value) if _WHOLE.match(value) else value      # pydantic says what is wrong with the rest
    if name in _JSON:
        if name == "request.body_regions" and not value.lstrip().startswith("["):
            return [v.strip() for v in value.split(";") if v.strip()]
        try:
            return json.loads(value)
        except ValueError as e:
            problems.append(Problem(f"the cell is not valid JSON ({getattr(e, 'msg', type(e).__name__)}); lists and "
                                    "objects are written as JSON", file=source, line=row, column=col,
                                    path=name, code="T003"))
            return None
    return value


def _set(data: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for p in parts[:-1]:
        data = data.setdefault(p, {})
    data[parts[-1]] = value


def _case_fields(c: RawCase, values: list, row: int, source: str) -> None:
    assert c.data is not None
    for name in CASE_COLUMNS:
        col = c.columns.get(name)
        if col is None:
            continue
        v = _cell(name, values[col - 1], row, col, source, c.problems)
        if v is not None:
            _set(c.data, name, v)
    c.data["requests"] = []


def _add_item(c: RawCase, values: list, row: int, source: str) -> None:
    assert c.data is not None
    if c.item_rows:                   # a case's own cells must be the same on each of its rows
        for name in CASE_COLUMNS:
            col = c.columns.get(name)
            if col is None or name == "id":
                continue
            if values[col - 1] != c.first_values[col - 1]:
                c.problems.append(Problem(f"the column {name} differs from the first row of the case (row {c.row}): "
                                          "the cells of the case itself are the same on each of its rows",
                                          file=source, line=row,
                                          column=col, path=name, code="T004"))
                break
    else:
        c.first_values = list(values)
    item: dict = {}
    for name in ITEM_COLUMNS:
        col = c.columns.get(name)
        if col is None:
            continue
        v = _cell(name, values[col - 1], row, col, source, c.problems)
        if v is not None:
            item[name[len("request."):]] = v
    c.data["requests"].append(item)
    c.item_rows.append(row)


_REQ = re.compile(r"^requests\[(\d+)\](?:\.(\w+))?")


def to_loaded(c: RawCase, source: str) -> Loaded:
    """Validate a case read from rows; every problem at the row and column of its cell."""
    if c.problems or c.data is None:
        return Loaded(source, c.row, problems=c.problems, raw_id=_safe(c.raw_id) if c.raw_id else None)
    loaded = validate_case(c.data, source=source, line=c.row)
    if loaded.ok:
        return loaded
    for p in loaded.problems or []:
        p.line, p.column = _position(c, p.path or "")
    return loaded


def _position(c: RawCase, path: str) -> tuple[int, int | None]:
    m = _REQ.match(path)
    if m:
        i = int(m.group(1))
        row = c.item_rows[i] if i < len(c.item_rows) else c.row
        return row, c.columns.get(f"request.{m.group(2)}") if m.group(2) else None
    for name in sorted(CASE_COLUMNS, key=len, reverse=True):      # review.date before review
        if path == name or path.startswith(name + ".") or path.startswith(name + "["):
            return c.row, c.columns.get(name)
    top = re.split(r"[.\[]", path, maxsplit=1)[0]
    return c.row, c.columns.get(top)


def count_cases(path: Path, upto_row: int | None = None) -> int | None:
    """Cases whose rows all lie at or before `upto_row` (a checkpoint's position; None: the whole file). None
    when the position is past the file's last row or inside a case."""
    last = n = 0
    for c in read_cases(path):
        last = c.item_rows[-1] if c.item_rows else c.row
        if upto_row is not None and last > upto_row:
            return n if c.row > upto_row else None
        n += 1
    return n if upto_row is None or upto_row <= last else None


__all__ = ["CASE_COLUMNS", "ITEM_COLUMNS", "SUFFIXES", "RawCase", "TabularError", "count_cases", "is_tabular",
           "need_pyarrow", "read_cases", "to_loaded"]
