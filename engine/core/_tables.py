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

import re

from . import _documentation
from ._cells import cells, disjoint, implies, joint_pairs, lit, negative, positive
from ._errors import Problem, did_you_mean
from ._rules import ROW_KEYS, Citation, Effect, Rule, Table
from ._ruleset import Origin, RowInfo, RuleSet
from ._yamlpos import has, mark


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
        joint = joint_pairs(parsed, names) if t.hit != "unique" else None
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


_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _short(e: Exception) -> str:
    errs = getattr(e, "errors", None)
    if callable(errs):
        return "; ".join(str(x.get("msg")) for x in e.errors())      # type: ignore[attr-defined]
    return str(e)


def _mark(rs: RuleSet, path: list) -> tuple[int | None, int | None]:
    if rs.node is None:
        return None, None
    while path and not has(rs.node, path):
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


