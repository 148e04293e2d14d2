"""Analysis of decision tables for lint: gaps (input combinations no row covers, for `complete` tables) and
overlaps (two rows that match one input, for `unique` tables), found from the cells alone (R131, R132).
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from ._cells import Cell, cells, disjoint, fact_type, joint_pairs
from ._rules import Table

_OTHER = "\0other"
# a representative value of a column: a set of words (a list fact or named conditions), a number, a word,
# true/false, or None (unknown)
Rep = frozenset[str] | int | float | str | None
Shown = str | int | float | list[str]          # a representative value as an example shows it
Parsed = list[dict[str, Cell | None]]          # the cells of each row
# (rows by `==` value, rows by `in` member, rows to try one by one, rows with no cell, the `==` rows)
_Index = tuple[dict[object, int], dict[str, int], list[int], int, list[int]]


def _domain(t: Table, name: str, parsed: Parsed) -> Sequence[Rep]:
    """Representative values of a column: every value its cells name, one other value, unknown (None);
    for numbers, each bound and its neighbours; for lists, the empty list and each named value alone."""
    col = t.column(name)
    if col is not None:
        return [frozenset([v]) for v in col.values] + [frozenset()]
    cs = [c for p in parsed if (c := p[name]) is not None]
    if any(c.is_list for c in cs) or fact_type(name) == "list":
        words = sorted({str(v) for c in cs for v in c.values}) + [_OTHER]
        return [frozenset()] + [frozenset([w]) for w in words]
    if any(c.tri for c in cs) or fact_type(name) == "tri":
        return [True, False, None]
    nums: set[int | float] = set()
    word_set: set[str] = set()
    for c in cs:
        vals = list(c.values) + ([_num(c.text)] if c.kind == "cmp" else [])
        for v in vals:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                nums |= {v - 1, v - 0.5, v, v + 0.5, v + 1}
            elif v is not None and not (c.kind == "cmp" and c.text == "unknown"):
                word_set.add(str(v).strip("'\""))
    return [*sorted(nums), *sorted(word_set), _OTHER, None]


def _num(text: str) -> int | float | str | None:
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text.strip("'\"") if text != "unknown" else None


def holds(c: Cell | None, v: Rep) -> bool:
    """Does a representative value satisfy a cell (None is unknown)?"""
    if c is None:
        return True
    if c.kind == "label":
        return bool(v & set(c.values)) if isinstance(v, frozenset) else False
    if c.is_list:
        if not isinstance(v, frozenset):
            return False
        vals = {str(x) for x in c.values}
        return bool(v & vals) if c.kind == "in" else not (v & vals)
    if c.kind == "cmp":
        if c.text == "unknown":
            return (v is None) == (c.op == "==")
        if v is None:
            return False
        rhs = _num(c.text)
        if c.tri:
            rhs = {"true": True, "false": False}.get(c.text, rhs)
        try:        # a number against a word (or a set) raises TypeError: caught below, hence the ignore
            return {"<": v < rhs, "<=": v <= rhs, ">": v > rhs, ">=": v >= rhs,  # type: ignore[operator]  # see above
                    "==": v == rhs, "!=": v != rhs}[c.op]
        except TypeError:
            return c.op == "!="
    if v is None:
        return False
    vals = {str(x).lower() if isinstance(x, bool) else str(x) for x in c.values}
    sv = str(v).lower() if isinstance(v, bool) else str(v)
    return (sv in vals) if c.kind == "in" else (sv not in vals)


MAX_COMBINATIONS = 50_000


def analyse(t: Table) -> tuple[list[dict[str, Shown]], list[tuple[int, int, dict[str, Shown]]], bool]:
    """(gaps, overlaps, exhaustive): input combinations no row covers (each as {column: value}), pairs of
    rows (i, j, example) that match one input together, and whether every combination was tried."""
    try:
        parsed = [cells(t, r) for r in t.rows]
    except ValueError:
        return [], [], False
    names = t.input_names
    domains = [_domain(t, n, parsed) for n in names]
    total = 1
    for d in domains:
        total *= len(d)
    gaps: list[dict[str, Shown]] = []
    overlaps: list[tuple[int, int, dict[str, Shown]]] = []
    seen_pairs: set[tuple[int, int]] = set()
    exhaustive = total <= MAX_COMBINATIONS
    if exhaustive:
        # the rows each value of each column lets through, as bit masks: a combination's rows are the AND of
        # its columns' masks (linear in rows per value, not rows x columns per combination: a 3,000-row table)
        masks = [[_rows_holding(parsed, n, v, index) for v in dom]
                 for n, dom, index in ((n, d, _column_index(parsed, n)) for n, d in zip(names, domains))]
        for picks in itertools.product(*(range(len(d)) for d in domains)):
            hit_mask = -1
            for col, k in enumerate(picks):
                hit_mask &= masks[col][k]
            hit = _bits(hit_mask)
            example = {n: _show(domains[col][k]) for col, (n, k) in enumerate(zip(names, picks))}
            if not hit:
                gaps.append(example)
            for a, b in itertools.combinations(hit, 2):
                if (a, b) not in seen_pairs:
                    seen_pairs.add((a, b))
                    overlaps.append((a, b, example))
    # list columns: two rows naming different values of a list both match a list holding both
    for a, b in _candidate_pairs(parsed, names):
        if (a, b) in seen_pairs:
            continue
        if all(_joint(parsed[a][n], parsed[b][n]) for n in names) and \
                all(not disjoint(parsed[a][n], parsed[b][n]) for n in names):
            example = {n: _joint_example(parsed[a][n], parsed[b][n]) for n in names}
            seen_pairs.add((a, b))
            overlaps.append((a, b, example))
    overlaps.sort()
    return gaps, overlaps, exhaustive


def _rows_holding(parsed: Parsed, name: str, v: Rep, index: _Index) -> int:
    """Bit mask of the rows whose cell for column `name` holds for the representative value v (holds()),
    with `==` and `in` cells looked up by value (in `index`, _column_index) instead of tried one by one."""
    eq, members, others, blank, _ = index
    mask = blank
    if v is not None:
        try:
            mask |= eq.get(v, 0)
        except TypeError:                                   # an unhashable value: try those cells one by one
            others = others + index[4]
        sv = str(v).lower() if isinstance(v, bool) else str(v)
        mask |= members.get(sv, 0)
    for i in others:
        if holds(parsed[i][name], v):
            mask |= 1 << i
    return mask


def _column_index(parsed: Parsed, name: str) -> _Index:
    """(rows by `==` value, rows by `in` member, rows to try one by one, rows with no cell, the `==` rows) of
    one column, as bit masks and row numbers."""
    eq: dict[object, int] = {}
    members: dict[str, int] = {}
    others: list[int] = []
    eq_rows: list[int] = []
    blank = 0
    for i, p in enumerate(parsed):
        c = p[name]
        if c is None:
            blank |= 1 << i
        elif c.kind == "cmp" and c.op == "==" and c.text != "unknown" and not c.is_list:
            rhs = _num(c.text)
            if c.tri:
                rhs = {"true": True, "false": False}.get(c.text, rhs)
            try:
                eq[rhs] = eq.get(rhs, 0) | 1 << i
                eq_rows.append(i)
            except TypeError:
                others.append(i)
        elif c.kind == "in" and not c.is_list:
            for x in {str(x).lower() if isinstance(x, bool) else str(x) for x in c.values}:
                members[x] = members.get(x, 0) | 1 << i
        else:
            others.append(i)
    return eq, members, others, blank, eq_rows


def _bits(mask: int) -> list[int]:
    """The set bits of a mask, lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _candidate_pairs(parsed: Parsed, names: list[str]) -> Iterable[tuple[int, int]]:
    """Pairs of rows (a < b), in order, less those joint_pairs leaves out."""
    candidates = joint_pairs(parsed, names)
    if candidates is None:
        return itertools.combinations(range(len(parsed)), 2)
    return sorted(candidates)


def _joint(a: Cell | None, b: Cell | None) -> bool:
    if a is None or b is None or not (a.is_list and b.is_list):
        return a is None or b is None or (a.is_list == b.is_list and not disjoint(a, b) and
                                          (a.kind != "in" or b.kind != "in" or a.is_list or
                                           bool(set(map(str, a.values)) & set(map(str, b.values)))))
    return not disjoint(a, b)


def _joint_example(a: Cell | None, b: Cell | None) -> Shown:
    if a is None and b is None:
        return "any"
    if a is not None and b is not None and a.is_list and a.kind == "in" and b.kind == "in":
        return [str(a.values[0]), str(b.values[0])] if a.values[0] != b.values[0] else [str(a.values[0])]
    c = a or b
    assert c is not None
    return list(map(str, c.values))[:1] if c.values else c.text


def _show(v: Rep) -> Shown:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, frozenset):
        return sorted("(another value)" if x == _OTHER else x for x in v)
    if v is None:
        return "unknown"
    if v == _OTHER:
        return "(another value)"
    return v
