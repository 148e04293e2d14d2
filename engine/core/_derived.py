"""Derived facts of a rule set: the type of each (from the fact table and the facts it reads), and the cycles
among them (a derived fact that depends on itself would make forward chaining loop).
"""
from __future__ import annotations

from . import _expr, _figures
from ._errors import Problem
from ._facts import FACT_TYPES
from ._ruleset import RuleSet


def derive_type(value: str | int | float | bool, types: dict[str, str] | None = None) -> str:
    """The type of a derived value, from the fact table (never from the text); 'int' if it cannot be
    typed (the rule then fails to compile with the reason)."""
    try:
        return _figures.figure_type(value, {**FACT_TYPES, **(types or {})})
    except _expr.ExprError:
        return "int"


def derived_types(rs: RuleSet, base: dict[str, str] | None = None
                  ) -> tuple[dict[str, str], dict[str, str], list[Problem]]:
    """(internal derived name -> type, exported name -> type, problems) of one rule set.

    A derived value's type comes from the fact table and the types of the facts it reads; every rule that
    derives one name must give it the same type, and a derived name must not be a fact of the table."""
    base = {**FACT_TYPES, **(base or {})}
    internal: dict[str, str] = {}
    exports: dict[str, str] = {}
    problems: list[Problem] = []
    pending = [(i, r, k, v) for i, r in enumerate(rs.spec.rules) if r.then.derive for k, v in r.then.derive.items()]
    # derived values may read other derived values: type them in rounds until nothing changes
    for _ in range(len(pending) + 1):
        changed = False
        for i, r, k, v in pending:
            target = exports if r.then.export else internal
            try:
                t = _figures.figure_type(v, {**base, **internal})
            except _expr.ExprError:
                continue
            if k not in target:
                target[k] = t
                changed = True
            elif target[k] != t and {target[k], t} <= {"int", "num"}:
                if target[k] != "num":
                    target[k] = "num"
                    changed = True
        if not changed:
            break
    for i, r, k, v in pending:
        target = exports if r.then.export else internal
        if k in FACT_TYPES:
            line, col = rs.at(i, "then")
            problems.append(Problem(f"derive: '{k}' is a fact of the fact table; a derived fact needs its own name",
                                    file=str(rs.path), line=line, column=col, path=f"rules[{i}].then", code="R113"))
            continue
        try:
            t = _figures.figure_type(v, {**base, **internal})
        except _expr.ExprError as e:
            line, col = rs.at(i, "then")
            problems.append(Problem(f"derive {k}: {e}", file=str(rs.path), line=line, column=col,
                                    path=f"rules[{i}].then", code=e.code or "R111", suggestion=e.suggestion))
            continue
        if not _same_kind(t, target.get(k, t)):
            line, col = rs.at(i, "then")
            problems.append(Problem(f"derive {k}: rules give it different types ({target[k]} and {t})",
                                    file=str(rs.path), line=line, column=col, path=f"rules[{i}].then", code="R113"))
    return internal, exports, problems


def _same_kind(a: str, b: str) -> bool:
    return a == b or {a, b} <= {"int", "num"}


def cycles(rs: RuleSet, derived: set[str]) -> list[Problem]:
    """Derived facts that depend on themselves through any chain of rules (forward chaining would loop)."""
    edges: dict[str, set[str]] = {}
    by: dict[tuple[str, str], list[str]] = {}
    for r in rs.spec.rules:
        if not r.then.derive or r.then.export:
            continue
        try:
            reads = _expr.parse(r.when or "").names
        except _expr.ExprError:
            reads = set()
        for v in r.then.derive.values():
            try:
                reads = reads | _figures.figure_names(v)
            except _expr.ExprError:
                pass
        for u in reads & derived:
            for d in r.then.derive:
                edges.setdefault(u, set()).add(d)
                by.setdefault((u, d), []).append(r.id)
    problems, reported = [], set()
    for start in sorted(edges):
        path = _find_cycle(start, edges)
        if path and frozenset(path) not in reported:
            reported.add(frozenset(path))
            rules = sorted({rid for a, b in zip(path, path[1:]) for rid in by[(a, b)]})
            first = next(i for i, r in enumerate(rs.spec.rules) if r.id == rules[0])
            line, col = rs.at(first)
            problems.append(Problem(
                f"derived facts depend on themselves: {' -> '.join(path)} (rules {', '.join(rules)})",
                file=str(rs.path), line=line, column=col, path=f"rules[{first}]", code="R114",
                suggestion="a derived fact must not be read, directly or through other derived facts, by a "
                           "rule that derives it"))
    return problems


def _find_cycle(start: str, edges: dict[str, set[str]]) -> list[str] | None:
    stack = [(start, [start])]
    seen = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


