"""The cells of a decision table's input columns: parsed, written as condition text (and its negation),
and compared with each other (disjoint, implied) from the cells alone (engine/core/_tables.py expands
tables with them; engine/core/_tablecheck.py finds their gaps and overlaps).
"""
from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._rules import Table

_OPS = ("<=", ">=", "==", "!=", "<", ">")
_INVERSE = {"<=": ">", ">=": "<", "<": ">=", ">": "<=", "==": "!=", "!=": "=="}


@dataclass(frozen=True)
class Cell:
    """One input cell, normalised: kind is in (any of values) | notin (none of values) | cmp (op, text) |
    label (named conditions of a Column)."""
    fact: str
    kind: str
    values: tuple[object, ...] = ()      # the cell's words, numbers, true/false or dates, as written
    op: str = ""
    text: str = ""
    is_list: bool = False
    tri: bool = False


def fact_type(name: str) -> str | None:
    from ._facts import FACT_TYPES
    return FACT_TYPES.get(name)


def parse_cell(fact: str, raw: object, table: Table) -> Cell | None:
    """A cell as written -> Cell; None for blank (any). Raises ValueError with the reason."""
    if raw is None or (isinstance(raw, str) and raw.strip() in ("", "-")):
        return None
    col = table.column(fact)
    if col is not None:
        labels = raw if isinstance(raw, list) else [raw]
        bad = [str(x) for x in labels if str(x) not in col.values]
        if bad:
            raise ValueError(f"'{bad[0]}' is not a value of column {fact} ({', '.join(col.values)})")
        return Cell(fact, "label", tuple(str(x) for x in labels))
    ftype = fact_type(fact)
    is_list = ftype == "list"
    if isinstance(raw, dict):
        if set(raw) != {"not"}:
            raise ValueError("a mapping cell is {not: value} or {not: [values]}")
        vals = raw["not"] if isinstance(raw["not"], list) else [raw["not"]]
        return Cell(fact, "notin", tuple(_scalar(v) for v in vals), is_list=is_list, tri=_is_tri(ftype, vals))
    if isinstance(raw, list):
        if not raw:
            raise ValueError("an empty list matches nothing; leave the cell blank for any value")
        return Cell(fact, "in", tuple(_scalar(v) for v in raw), is_list=is_list, tri=_is_tri(ftype, raw))
    if isinstance(raw, str):
        t = raw.strip()
        for op in _OPS:
            if t.startswith(op):
                if is_list:
                    raise ValueError(f"{fact} is a list: a cell names its values (a word, [words] or {{not: ...}})")
                return Cell(fact, "cmp", op=op, text=t[len(op):].strip(), tri=ftype == "tri")
    return Cell(fact, "in", (_scalar(raw),), is_list=is_list, tri=_is_tri(ftype, [raw]))


def _is_tri(ftype: str | None, vals: Iterable[object]) -> bool:
    return ftype == "tri" or (ftype is None and all(isinstance(v, bool) for v in vals))


def _scalar(v: object) -> object:
    if isinstance(v, (list, dict)) or v is None:
        raise ValueError("a cell value is a word, a number, true or false")
    return v


def lit(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (dt.date, dt.datetime)):
        return f"'{v.isoformat()[:10]}'"
    s = str(v)
    if "'" in s or "\\" in s:
        raise ValueError(f"a word in a cell cannot hold a quote or backslash: {s!r}")
    return f"'{s}'"


def positive(c: Cell, table: Table) -> str:
    """The condition text of a cell."""
    f = c.fact
    if c.kind == "label":
        col = table.column(f)
        assert col is not None                      # a label cell is parsed only for a named-condition column
        conds = [f"({col.values[str(v)]})" for v in c.values]        # a label cell's values are words
        return conds[0] if len(conds) == 1 else "(" + " or ".join(conds) + ")"
    if c.kind == "cmp":
        return f"{f} {c.op} {c.text}"
    vals = [lit(v) for v in c.values]
    if c.is_list:
        if c.kind == "in":
            parts = [f"{v} in {f}" for v in vals]
            return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"
        return " and ".join(f"{v} not in {f}" for v in vals)
    if c.kind == "in":
        return f"{f} == {vals[0]}" if len(vals) == 1 else f"{f} in [{', '.join(vals)}]"
    return f"{f} != {vals[0]}" if len(vals) == 1 else f"{f} not in [{', '.join(vals)}]"


def negative(c: Cell) -> str:
    """The condition 'this cell does not hold', unknown facts included (a cell on an unknown fact does not
    hold, so its negation does). Named-condition columns cannot be negated."""
    f = c.fact
    if c.kind == "label":
        raise ValueError(f"column {f} names conditions, which a guard cannot negate: use hit `unique`, or "
                         "order the table so that no earlier row shares this row's other cells")
    unk = "" if c.tri else f" or {f} == unknown"
    if c.kind == "cmp":
        if c.text == "unknown":
            return f"{f} {'!=' if c.op == '==' else '=='} unknown"
        return f"({f} {_INVERSE[c.op]} {c.text}{unk})"
    vals = [lit(v) for v in c.values]
    if c.is_list:
        if c.kind == "in":
            return " and ".join(f"{v} not in {f}" for v in vals)
        parts = [f"{v} in {f}" for v in vals]
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"
    if c.kind == "in":
        core = f"{f} != {vals[0]}" if len(vals) == 1 else f"{f} not in [{', '.join(vals)}]"
    else:
        core = f"{f} == {vals[0]}" if len(vals) == 1 else f"{f} in [{', '.join(vals)}]"
    return f"({core}{unk})" if unk else core


def value_set(c: Cell) -> frozenset[str] | None:
    """The values a cell allows, when it is a finite set on a scalar column (or labels); else None."""
    if c.kind in ("in", "label") and not c.is_list:
        return frozenset(map(str, c.values))
    if c.kind == "cmp" and c.op == "==" and c.text != "unknown":
        return frozenset([c.text.strip("'\"")])
    return None


def disjoint(a: Cell | None, b: Cell | None) -> bool:
    """Can no value satisfy both cells (decided from the cells alone)?"""
    if a is None or b is None:
        return False
    sa, sb = value_set(a), value_set(b)
    if sa is not None and sb is not None:
        return not (sa & sb)
    if a.is_list and b.is_list:
        for x, y in ((a, b), (b, a)):
            if x.kind == "in" and y.kind == "notin" and set(map(str, x.values)) <= set(map(str, y.values)):
                return True
    if not a.is_list and not b.is_list and {a.kind, b.kind} == {"in", "notin"}:
        x, y = (a, b) if a.kind == "in" else (b, a)
        return set(map(str, x.values)) <= set(map(str, y.values))
    return False


def implies(a: Cell, b: Cell) -> bool:
    """Does cell a (of the guarded row) imply cell b (of an earlier row)? Then b's negation is false there."""
    if a == b:
        return True
    sa, sb = value_set(a), value_set(b)
    if sa is not None and sb is not None:
        return sa <= sb
    if a.is_list and b.is_list and a.kind == b.kind == "notin":
        return set(map(str, b.values)) <= set(map(str, a.values))
    if a.is_list and b.is_list and a.kind == b.kind == "in":
        return set(map(str, a.values)) <= set(map(str, b.values))
    return False



def cells(table: Table, row: dict[str, Any]) -> dict[str, Cell | None]:
    return {name: parse_cell(name, row.get(name), table) for name in table.input_names}



def joint_pairs(parsed: list[dict[str, Cell | None]], names: list[str]) -> set[tuple[int, int]] | None:
    """The pairs of rows (a < b) that can share a value in every column whose cells are all finite sets of
    values (rows with no value in common there are disjoint: disjoint() says so from the sets alone); None
    when no column is of that kind (every pair stays in)."""
    candidates: set[tuple[int, int]] | None = None
    for n in names:
        sets = [value_set(c) if (c := p[n]) is not None else None for p in parsed]
        if any(st is None for st in sets):
            continue
        buckets: dict[str, list[int]] = {}
        for i, st in enumerate(sets):
            for x in st or ():
                buckets.setdefault(x, []).append(i)
        pairs = {pair for rows in buckets.values() for pair in itertools.combinations(rows, 2)}
        candidates = pairs if candidates is None else candidates & pairs
    return candidates


