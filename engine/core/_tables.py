"""Decision tables and `applies_when`: how a rule file's tables become the rules the engine runs.

A table (docs/authoring.md, "Decision tables") has input columns, output columns, a hit policy and rows.
Every row becomes ONE rule, `<table id>.<row id>` (or `<table id>.row<k>`), whose condition is the
conjunction of its cells, and whose effect sets the row's outputs (derived facts, exported or not, or a
`limit`). The hit policy is compiled into the conditions, so that at most one row of a table fires for
an item and the policy is one mechanism for limits, derived and exported facts alike:

  unique        rows must not overlap (lint R132 proves it over the cells); no guard is added.
  first         a row fires only when no earlier row matches: its condition gets, for every earlier row
                that can match together with it, "that row does not match" (the negation of its cells).
  collect-max   the matching row with the largest `by` outputs counts (ties: the earlier row): rows are
  collect-min   ordered by their `by` outputs (largest / smallest first) and guarded as under `first`.

"Does not match" is exact with unknown facts: a cell `f == 5` does not match when f is unknown, so its
negation is `f != 5 or f == unknown`. Guards are pruned where the cells alone decide (two rows on
different values of one column never both match; a cell implied by the guarded row's own cell is dropped).
Input columns are case facts (or facts exported by other rule sets), so every guard lives in the first
durable pattern; joined patterns stay flat (engine/core/_durable.py).

Then every rule (table rows included) gets the rule set's `applies_when`: `(applies_when) and (when)`.
"""
from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from . import _documentation
from ._errors import Problem, did_you_mean
from ._rules import ROW_KEYS, Citation, Effect, Origin, RowInfo, Rule, RuleSet, Table

_OPS = ("<=", ">=", "==", "!=", "<", ">")
_INVERSE = {"<=": ">", ">=": "<", "<": ">=", ">": "<=", "==": "!=", "!=": "=="}


@dataclass(frozen=True)
class Cell:
    """One input cell, normalised: kind is in (any of values) | notin (none of values) | cmp (op, text) |
    label (named conditions of a Column)."""
    fact: str
    kind: str
    values: tuple = ()
    op: str = ""
    text: str = ""
    is_list: bool = False
    tri: bool = False


def _fact_type(name: str) -> str | None:
    from ._facts import FACT_TYPES
    return FACT_TYPES.get(name)


def parse_cell(fact: str, raw, table: Table) -> Cell | None:
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
    ftype = _fact_type(fact)
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


def _is_tri(ftype: str | None, vals) -> bool:
    return ftype == "tri" or (ftype is None and all(isinstance(v, bool) for v in vals))


def _scalar(v):
    if isinstance(v, (list, dict)) or v is None:
        raise ValueError("a cell value is a word, a number, true or false")
    return v


def lit(v) -> str:
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
        conds = [f"({col.values[v]})" for v in c.values]
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


def _set(c: Cell):
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
    sa, sb = _set(a), _set(b)
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
    sa, sb = _set(a), _set(b)
    if sa is not None and sb is not None:
        return sa <= sb
    if a.is_list and b.is_list and a.kind == b.kind == "notin":
        return set(map(str, b.values)) <= set(map(str, a.values))
    if a.is_list and b.is_list and a.kind == b.kind == "in":
        return set(map(str, a.values)) <= set(map(str, b.values))
    return False


def order(table: Table, rows: list[dict]) -> list[int]:
    """Row indexes in precedence order for the hit policy (first: as written)."""
    idx = list(range(len(rows)))
    if table.hit.startswith("collect-"):
        sign = -1 if table.hit == "collect-max" else 1

        def key(i):
            return tuple(sign * float(_by_value(rows[i].get(b))) for b in table.by)
        idx.sort(key=key)
    return idx


def _is_count(name: str) -> bool:
    """An output named as a count of visits or weeks (course_visits, ps_course_weeks, visits, ...)."""
    return name in ("visits", "weeks") or name.endswith(("_visits", "_weeks"))


def _yaml_word(v) -> str:
    """A cell's value as the rule file spells it (null, true, 'text'), not as Python does."""
    if v is None:
        return "null (or no value)"
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


def _output_problems(table: Table, row: dict) -> list[tuple[str, str]]:
    """(output, what is wrong) for a row's output cells that no row may hold: a `by` cell of a collect-min /
    collect-max table that is not a number, a count of visits or weeks that is negative or fractional."""
    out = []
    for name in table.outputs:
        v = row.get(name)
        if table.hit.startswith("collect-") and name in table.by:
            try:
                _by_value(v)
            except ValueError as e:
                out.append((name, f"{name} is {_yaml_word(v)}; {e}"))
                continue
        if _is_count(name) and isinstance(v, (int, float)) and not isinstance(v, bool) and (v < 0 or v != int(v)):
            out.append((name, f"{name} is {_yaml_word(v)}; a number of visits or weeks is a whole number, 0 or more"))
    return out


def _by_value(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError("a `by` output of a collect-min / collect-max table is a number in every row")
    return v


def row_id(table: Table, index: int, row: dict) -> str:
    return f"{table.id}.{row['id']}" if row.get("id") is not None else f"{table.id}.row{index + 1}"


def cells(table: Table, row: dict) -> dict[str, Cell | None]:
    return {name: parse_cell(name, row.get(name), table) for name in table.input_names}


def expand(rs: RuleSet, where: dict | None = None) -> list[Problem]:
    """Expand rs.spec (as written) into the rules the engine runs; set rs.spec, rs.origins, rs.rows.

    `where` maps ids (rule, table, `table.row`) to their node path in this file, or None when inherited
    unchanged (for a file that extends another edition); without it every id is defined in this file."""
    spec = rs.written or rs.spec
    src = str(rs.path)
    problems: list[Problem] = []
    rules: list[Rule] = []
    origins: list[Origin] = []
    rows_info = {}
    inherited = rs.edition.get("inherited_from", "")
    base = rs.base

    def row_path(t: Table, tpath: list | None, ri: int, rid: str) -> list | None:
        if where is not None and where.get(rid) is not None:
            return where[rid]
        if tpath and tpath[0] == "tables":
            return [*tpath, "rows", ri]
        return tpath

    def origin_for(kind: str, rid: str, natural: list | None, parent: str | None = None) -> Origin:
        if where is None:
            return Origin(kind, natural, source="defined here", file=src)
        path = natural if kind == "row" else where.get(rid)
        if path is None:
            o = _base_origin(base, rid)
            return Origin(kind, None, source=f"inherited from {inherited}", file=o[0], line=o[1])
        added = rs.edition.get("added", ())
        how = "added in this edition" if rid in added or (parent and parent in added) else \
            "changed here, from " + inherited
        return Origin(kind, path, source=how, file=src)

    def problem(msg: str, path: list | None, code: str, suggestion: str | None = None) -> None:
        line, col = (_mark(rs, path) if path is not None else _mark(rs, ["extends"]))
        problems.append(Problem(msg, file=src, line=line, column=col, code=code, suggestion=suggestion))

    seen_tables: set[str] = set()
    for ti, t in enumerate(spec.tables):
        tpath = where.get(t.id) if where is not None else ["tables", ti]
        if t.id in seen_tables:
            problem(f"duplicate table id '{t.id}'", (tpath or []) + ["id"] if tpath else None, "R202")
        seen_tables.add(t.id)
        parsed: list[dict] = []
        ok = True
        for ri, row in enumerate(t.rows):
            rpath = row_path(t, tpath, ri, row_id(t, ri, row))
            known = set(t.input_names) | set(t.outputs) | set(ROW_KEYS)
            for k in row:
                if k not in known:
                    problem(f"row {ri + 1} of table {t.id}: unknown column '{k}'", (rpath + [k]) if rpath else tpath,
                            "R101", did_you_mean(str(k), known))
                    ok = False
            for out, what in _output_problems(t, row):        # said at the row's own cell
                problem(f"row {ri + 1} of table {t.id}: {what}", (rpath + [out]) if rpath and out in row else rpath,
                        "R104")
                ok = False
            if row.get("id") is not None and not _ID.match(str(row["id"])):
                problem(f"row id '{row['id']}': lower case letters, digits, dots and dashes", rpath, "R104")
                ok = False
            try:
                cs = cells(t, row)
            except ValueError as e:
                problem(f"row {ri + 1} of table {t.id}: {e}", rpath, "R110")
                ok = False
                continue
            parsed.append(cs)
            for out in t.outputs:
                if out not in row and not (out == t.label and row.get("label") is not None):
                    problem(f"row {ri + 1} of table {t.id} gives no value for output '{out}'", rpath, "R102")
                    ok = False
            if row.get("message") is None and t.message is None and row.get("label") is None:
                problem(f"row {ri + 1} of table {t.id} needs a message (or a label, or the table a message)",
                        rpath, "R102")
                ok = False
        if not ok:
            continue
        prec = order(t, list(t.rows))           # every `by` cell is a number (_output_problems)
        rank = {i: k for k, i in enumerate(prec)}
        ids = [row_id(t, i, r) for i, r in enumerate(t.rows)]
        if len(set(ids)) != len(ids):
            problem(f"table {t.id}: two rows have the same id", tpath, "R202")
            continue
        names = t.input_names
        # rows that can match together (the others need no guard): a 3,000-row table is not 4.5 M pairs
        joint = _joint_pairs(parsed, names) if t.hit != "unique" else None
        partners: dict[int, list[int]] | None = None
        if joint is not None:
            partners = {}
            for a, b in joint:
                partners.setdefault(a, []).append(b)
                partners.setdefault(b, []).append(a)
        for ri, row in enumerate(t.rows):
            rid = ids[ri]
            rpath = row_path(t, tpath, ri, rid)
            o = origin_for("row", rid, rpath, parent=t.id)
            parts = [f"({t.when})"] if t.when else []
            own = parsed[ri]
            parts += [f"({positive(c, t)})" for c in own.values() if c is not None]
            guarded_by = []
            if t.hit != "unique":
                before = prec[:rank[ri]] if partners is None else \
                    sorted((j for j in partners.get(ri, ()) if rank[j] < rank[ri]), key=rank.__getitem__)
                for j in before:
                    other = parsed[j]
                    if any(disjoint(own[n], other[n]) for n in names):
                        continue                     # the two rows never match together
                    negs = []
                    for n in names:
                        c = other[n]
                        if c is None or (own[n] is not None and implies(own[n], c)):
                            continue
                        try:
                            negs.append(negative(c))
                        except ValueError as e:
                            problem(f"table {t.id}, row {ri + 1}: {e}", rpath, "R130")
                    if not negs:
                        problem(f"table {t.id}: row {ri + 1} ({rid}) can never count: row {j + 1} ({ids[j]}) "
                                f"matches whenever it does and takes precedence under hit {t.hit}", rpath, "R133")
                        continue
                    guarded_by.append(ids[j])
                    parts.append("(" + " or ".join(negs) + ")" if len(negs) > 1 else f"({negs[0]})")
            if not parts:
                problem(f"row {ri + 1} of table {t.id} has no condition: every cell is blank, the table has no "
                        "`when`, and no earlier row guards it (a blank row is the last row of a `first` table)",
                        rpath, "R110")
                continue
            when = " and ".join(parts)
            then = _row_effect(t, row)
            cit = _row_citation(t, row)
            try:
                rule = Rule(id=rid, when=when, then=Effect.model_validate(then), message=_row_message(t, row), citation=cit,
                            missing=list(row.get("missing") or t.missing), notes=row.get("notes") or t.notes)
            except Exception as e:                 # pydantic: a bad output value
                why = _short(e)
                problem(f"table {t.id}, row {ri + 1}: {why}", rpath, "R107" if _documentation.UNKNOWN in why else "R104")
                continue
            rules.append(rule)
            origins.append(o)
            rows_info[rid] = RowInfo(t, ri, row, row.get("label"), guarded_by)
    for i, r in enumerate(spec.rules):
        o = origin_for("rule", r.id, ["rules", i])
        if r.when is None and not spec.applies_when:
            problem(f"rule '{r.id}' has no `when` (only a rule set with `applies_when` may leave it out)",
                    o.path, "R102")
            continue
        origins.append(o)
        rules.append(r)
    if spec.applies_when:
        prefix = f"({spec.applies_when}) and ("
        rules = [r.model_copy(update={"when": f"{prefix}{r.when})" if r.when is not None else spec.applies_when})
                 for r in rules]
        for o, r in zip(origins, rules):
            o.prefix = len(prefix) if r.when != spec.applies_when else 0
    rs.spec = spec.model_copy(update={"rules": rules})
    rs.origins = origins
    rs.rows = rows_info
    return problems


import re  # noqa: E402

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _short(e: Exception) -> str:
    errs = getattr(e, "errors", None)
    if callable(errs):
        return "; ".join(str(x.get("msg")) for x in e.errors())      # type: ignore[attr-defined]
    return str(e)


def _mark(rs: RuleSet, path: list) -> tuple[int | None, int | None]:
    from ._rules import _has
    from ._yamlpos import mark
    if rs.node is None:
        return None, None
    while path and not _has(rs.node, path):
        path = path[:-1]
    return mark(rs.node, path) if path else (1, 1)


def _base_origin(base: RuleSet | None, rid: str) -> tuple[str | None, int | None]:
    if base is None:
        return None, None
    for i, r in enumerate(base.spec.rules):
        if r.id == rid:
            o = base.origin(i)
            if o.path is None:
                return o.file, o.line
            return str(base.path), base.at(i)[0]
    return str(base.path), None


def _row_effect(t: Table, row: dict) -> dict:
    if t.outputs == ["limit"]:
        return {"limit": _figure(row["limit"])}
    derive = {}
    for out in t.outputs:
        v = row.get(out)
        if v is None and out == t.label:
            v = row.get("label")
        derive[out] = _figure(v, word=True)
    return {"derive": derive, "export": t.export} if t.export else {"derive": derive}


def _figure(v, word: bool = False):
    """An output cell: a number, true/false, a word (quoted for the figure language), or {figure: "..."}."""
    if isinstance(v, dict) and set(v) == {"figure"}:
        return v["figure"]
    if isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, str) and word:
        return lit(v)
    return v


def _row_message(t: Table, row: dict) -> str:
    return row.get("message") or t.message or str(row.get("label"))


def _row_citation(t: Table, row: dict) -> Citation | None:
    c = row.get("citation")
    if c is None:
        return t.citation
    base = t.citation.model_dump(exclude_none=True) if t.citation else {}
    return Citation.model_validate({**base, **c})


# ---------------------------------------------------------------------------------------------
# the one conflict policy, across rule sets: exported facts combine under the exporting table's hit policy

FIRST: tuple[str, tuple[str, ...]] = ("first", ())


def stated_policy(row: RowInfo | None) -> tuple[str, tuple[str, ...]] | None:
    """The conflict policy a rule states for the facts it exports: a table row, its table's hit policy and
    `by`; a rule that is not a row, `first`. None for a row of a `unique` table: its rows never overlap,
    so the table states no precedence and follows the policy the other exporters of the fact state."""
    if row is None:
        return FIRST
    if row.table.hit == "unique":
        return None
    return row.table.hit, tuple(row.table.by)


def export_policies(sets: Iterable[RuleSet]) -> tuple[dict[str, tuple[str, tuple[str, ...]]],
                                                      list[tuple[str, RuleSet, int, str]]]:
    """(the policy of every exported fact, conflicts). An exported fact combines across rule sets under ONE
    policy: the one its exporters state (stated_policy; all that state one must agree), or `first` when
    none does. A conflict is (fact, rule set, rule index, reason) for each exporter that disagrees with the
    first policy found, and for a `unique` table that lacks a `by` column of that policy."""
    stated: dict[str, list[tuple[tuple | None, RuleSet, int]]] = {}
    for rs in sets:
        rows = getattr(rs, "rows", None) or {}
        for i, r in enumerate(rs.spec.rules):
            if r.then.derive and r.then.export:
                pol = stated_policy(rows.get(r.id))
                for name in r.then.derive:
                    stated.setdefault(name, []).append((pol, rs, i))
    policies: dict[str, tuple[str, tuple[str, ...]]] = {}
    conflicts: list[tuple[str, RuleSet, int, str]] = []
    for name, entries in stated.items():
        firsts = [(pol, rs, i) for pol, rs, i in entries if pol is not None]
        if not firsts:
            policies[name] = FIRST
            continue
        pol0, rs0, i0 = firsts[0]
        policies[name] = pol0
        for pol, rs, i in entries:
            if pol is not None and pol != pol0:
                conflicts.append((name, rs, i, f"{show_policy(pol)}, but {rs0.spec.rules[i0].id} ({rs0.key}) "
                                                f"exports it under {show_policy(pol0)}"))
            elif pol is None and not set(pol0[1]) <= set(rs.spec.rules[i].then.derive or {}):
                conflicts.append((name, rs, i, f"a unique table without the `by` columns of "
                                               f"{show_policy(pol0)} ({rs0.spec.rules[i0].id}, {rs0.key})"))
    return policies, conflicts


def show_policy(pol: tuple) -> str:
    hit, by = pol
    return f"hit {hit}" + (f" by [{', '.join(by)}]" if by else "")


def merge_exports(values: dict, new: dict, types: dict, policies: dict | None = None) -> dict:
    """The exported facts that a firing rule sets, given those already set for the item (`values`) by rule
    sets that ran before it, under the policy of those facts (export_policies; default `first`). The same
    policy as within a table: the row that counts sets ALL its outputs (visits, weeks and label always
    come from one row), and which row counts is the hit policy:

      collect-max / collect-min   the row with the largest / smallest `by` outputs (compared in order);
                                  ties keep the row set first
      first                       the row set first (by the rule set that ran first) keeps its facts

    A yes/no fact still "unknown" is not set. (Limits are findings, not exports: every applicable limit
    binds, engine/core/_decide.py:combine takes the smallest.)"""
    new = {k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in new.items()}

    def is_set(k: str) -> bool:
        v = values.get(k)
        return v is not None and not (types.get(k) == "tri" and v == "unknown")

    if not any(is_set(k) for k in new):
        return new
    hit, by = next((policies[k] for k in new if policies and k in policies), FIRST)
    if hit in ("collect-max", "collect-min") and by:
        mine = [new.get(b) for b in by]
        theirs = [values.get(b) if is_set(b) else None for b in by]
        if any(m is None for m in mine):
            return {}                                 # a row whose `by` figure is unknown never outranks
        if any(t is None for t in theirs):
            return new                                # nothing comparable set: this row counts
        better = tuple(mine) > tuple(theirs) if hit == "collect-max" else tuple(mine) < tuple(theirs)
        return new if better else {}
    return {}


# ---------------------------------------------------------------------------------------------
# analysis for lint: gaps (complete tables) and overlaps (unique tables)

_OTHER = "\0other"


def _domain(t: Table, name: str, parsed: list[dict]) -> list:
    """Representative values of a column: every value its cells name, one other value, unknown (None);
    for numbers, each bound and its neighbours; for lists, the empty list and each named value alone."""
    col = t.column(name)
    if col is not None:
        return [frozenset([v]) for v in col.values] + [frozenset()]
    cs = [p[name] for p in parsed if p[name] is not None]
    if any(c.is_list for c in cs) or _fact_type(name) == "list":
        words = sorted({str(v) for c in cs for v in c.values}) + [_OTHER]
        return [frozenset()] + [frozenset([w]) for w in words]
    if any(c.tri for c in cs) or _fact_type(name) == "tri":
        return [True, False, None]
    nums: set = set()
    word_set: set[str] = set()
    for c in cs:
        vals = list(c.values) + ([_num(c.text)] if c.kind == "cmp" else [])
        for v in vals:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                nums |= {v - 1, v - 0.5, v, v + 0.5, v + 1}
            elif v is not None and not (c.kind == "cmp" and c.text == "unknown"):
                word_set.add(str(v).strip("'\""))
    return sorted(nums) + sorted(word_set) + [_OTHER, None]


def _num(text: str):
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text.strip("'\"") if text != "unknown" else None


def holds(c: Cell | None, v) -> bool:
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
        try:
            return {"<": v < rhs, "<=": v <= rhs, ">": v > rhs, ">=": v >= rhs, "==": v == rhs,
                    "!=": v != rhs}[c.op]
        except TypeError:
            return c.op == "!="
    if v is None:
        return False
    vals = {str(x).lower() if isinstance(x, bool) else str(x) for x in c.values}
    sv = str(v).lower() if isinstance(v, bool) else str(v)
    return (sv in vals) if c.kind == "in" else (sv not in vals)


MAX_COMBINATIONS = 50_000


def analyse(t: Table) -> tuple[list[dict], list[tuple[int, int, dict]], bool]:
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
    gaps, overlaps, seen_pairs = [], [], set()
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


def _rows_holding(parsed: list[dict], name: str, v, index: tuple) -> int:
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


def _column_index(parsed: list[dict], name: str) -> tuple:
    """(rows by `==` value, rows by `in` member, rows to try one by one, rows with no cell, the `==` rows) of
    one column, as bit masks and row numbers."""
    eq: dict = {}
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


def _candidate_pairs(parsed: list[dict], names: list[str]) -> Iterable[tuple[int, int]]:
    """Pairs of rows (a < b), in order, less those _joint_pairs leaves out."""
    candidates = _joint_pairs(parsed, names)
    if candidates is None:
        return itertools.combinations(range(len(parsed)), 2)
    return sorted(candidates)


def _joint_pairs(parsed: list[dict], names: list[str]) -> set[tuple[int, int]] | None:
    """The pairs of rows (a < b) that can share a value in every column whose cells are all finite sets of
    values (rows with no value in common there are disjoint: disjoint() says so from the sets alone); None
    when no column is of that kind (every pair stays in)."""
    candidates: set | None = None
    for n in names:
        sets = [_set(p[n]) if p[n] is not None else None for p in parsed]
        if any(st is None for st in sets):
            continue
        buckets: dict = {}
        for i, st in enumerate(sets):
            for x in st or ():
                buckets.setdefault(x, []).append(i)
        pairs = {pair for rows in buckets.values() for pair in itertools.combinations(rows, 2)}
        candidates = pairs if candidates is None else candidates & pairs
    return candidates


def _joint(a: Cell | None, b: Cell | None) -> bool:
    if a is None or b is None or not (a.is_list and b.is_list):
        return a is None or b is None or (a.is_list == b.is_list and not disjoint(a, b) and
                                          (a.kind != "in" or b.kind != "in" or a.is_list or
                                           bool(set(map(str, a.values)) & set(map(str, b.values)))))
    return not disjoint(a, b)


def _joint_example(a: Cell | None, b: Cell | None):
    if a is None and b is None:
        return "any"
    if a is not None and b is not None and a.is_list and a.kind == "in" and b.kind == "in":
        return [str(a.values[0]), str(b.values[0])] if a.values[0] != b.values[0] else [str(a.values[0])]
    c = a or b
    assert c is not None
    return list(map(str, c.values))[:1] if c.values else c.text


def _show(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, frozenset):
        return sorted("(another value)" if x == _OTHER else x for x in v)
    if v is None:
        return "unknown"
    if v == _OTHER:
        return "(another value)"
    return v
