"""The certain truth of a rule's condition on the facts that do not vary (engine/core/_analysis.py, Analysis.live):
a rule whose condition is certainly false for an item can never fire for any reading of it, so its
comparisons need not tell readings apart."""
from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

from . import _expr

Facts = dict[str, Any]
Truth = Callable[[Facts, frozenset[str]], bool | None]

_ABSENT = ("absent",)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - _expr.KEYWORDS - {"min", "max"}


def _is_unknown(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "unknown"


def truth_fn(node: ast.AST, types: dict[str, str]) -> Truth:
    """A condition's truth where it is certain from the facts that do not vary, as a function of (facts,
    varying facts); None where it depends on a varying fact or on anything this does not decide (then the
    rule is kept). Mirrors the compiled durable condition (engine/core/_expr.py ConditionCompiler) for the
    plain shapes only: a comparison on an absent fact is false (`== unknown` aside), yes/no facts compare as
    words, lists hold words. Anything else (derived facts, dates, arithmetic) is None."""
    if isinstance(node, ast.BoolOp):
        parts = [truth_fn(v, types) for v in node.values]
        if isinstance(node.op, ast.And):
            def all_of(v: Facts, varying: frozenset[str]) -> bool | None:
                out: bool | None = True
                for p in parts:
                    t = p(v, varying)
                    if t is False:
                        return False
                    if t is None:
                        out = None
                return out
            return all_of

        def any_of(v: Facts, varying: frozenset[str]) -> bool | None:
            out: bool | None = False
            for p in parts:
                t = p(v, varying)
                if t is True:
                    return True
                if t is None:
                    out = None
            return out
        return any_of
    if isinstance(node, ast.Compare):
        pairs: list[Truth] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            pairs.append(_leaf_truth_fn(left, _expr.OPS[type(op)], right, types))
            left = right

        def chain(v: Facts, varying: frozenset[str]) -> bool | None:
            out: bool | None = True
            for p in pairs:
                t = p(v, varying)
                if t is False:
                    return False
                if t is None:
                    out = None
            return out
        return chain
    return lambda v, varying: None


def _literal(node: ast.AST, ftype: str | None) -> Any:
    """A literal as the fact holds it, or _ABSENT when it is not a plain one (dates and such: unsure)."""
    if isinstance(node, ast.Name) and node.id in ("true", "false") and ftype == "tri":
        return node.id
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
        v = node.value
        if ftype in ("int", "num") and isinstance(v, (int, float)):
            return v
        if ftype in ("str", "tri") and isinstance(v, str):
            return v
    return _ABSENT


def _leaf_truth_fn(left: ast.expr, op: str, right: ast.expr, types: dict[str, str]) -> Truth:
    names = frozenset(_names(left) | _names(right))
    def unsure(v: Facts, varying: frozenset[str]) -> bool | None:
        return None
    if any(n not in types for n in names):
        return unsure                                     # a derived fact (a joined pattern)

    def guarded(f: Callable[[Facts], bool | None]) -> Truth:
        return lambda v, varying: f(v) if varying.isdisjoint(names) else None
    if isinstance(right, ast.List | ast.Tuple) and isinstance(left, ast.Name) and op in ("in", "not in"):
        name, ftype = left.id, types.get(left.id)
        lits = [_literal(e, ftype) for e in right.elts]
        if _ABSENT in lits:
            return unsure
        want = op == "in"
        # in: no alternative matches an absent fact; not in: its $ex guard fails
        return guarded(lambda v: False if name not in v else (v[name] in lits) == want)
    if op in ("in", "not in") and isinstance(right, ast.Name) and types.get(right.id) == "list":
        item, lname, want = _literal(left, "str"), right.id, op == "in"
        if item is _ABSENT:
            return unsure
        return guarded(lambda v: None if lname not in v else (item in v[lname]) == want)
    if not isinstance(left, ast.Name) or op not in _CMP:
        return unsure
    name, ftype, cmp = left.id, types.get(left.id), _CMP[op]
    if _is_unknown(right):
        eq = op == "=="
        if ftype == "tri":
            return guarded(lambda v: None if name not in v else (v[name] == "unknown") == eq)
        return guarded(lambda v: (name not in v) == eq)
    lit = _literal(right, ftype)
    if lit is _ABSENT or (ftype in ("str", "tri") and op not in ("==", "!=")):
        return unsure
    absent = None if ftype == "tri" else False
    return guarded(lambda v: absent if name not in v else bool(cmp(v[name], lit)))


_CMP: dict[str, Callable[[Any, Any], Any]] = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}


__all__ = ["truth_fn"]
