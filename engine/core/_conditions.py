"""What is done with a parsed condition (engine/core/_expr.py): compiled to durable_rules JSON, and read for
lint and for the engine's skips (the facts it requires, a conjunction that can never hold, a canonical form).
"""
from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from ._expr import KEYWORDS, NUMERIC, OPS, TYPE_WORDS, ExprError, Parsed

# a durable_rules condition or pattern: JSON, as durable_rules takes it (it has no types of its own)
Cond = dict[str, Any]
LiteralValue = str | int | float                    # a literal of a condition, as the compared fact holds it
RValue = LiteralValue | Cond                        # the right side of a comparison: a literal, a fact, arithmetic
ToLiteral = Callable[[ast.AST, str], LiteralValue]  # engine/core/_compile.py's to_literal

_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_DURABLE_OP = {"==": None, "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_ARITH = {ast.Add: "$add", ast.Sub: "$sub", ast.Mult: "$mul"}


# ---------------------------------------------------------------------------------------------
# conditions -> durable_rules JSON


class ConditionCompiler:
    """Compile one condition against fact types; derived facts become join patterns.

    `types` maps every fact name to its type (int num str tri list date); names in `derived` are facts
    that other rules of the same rule set assert, matched as separate facts {__kind: derived, name, value}.
    """

    def __init__(self, types: dict[str, str], derived: set[str], to_literal: ToLiteral):
        self.types, self.derived, self.to_literal = types, derived, to_literal

    def compile(self, p: Parsed) -> list[Cond]:
        """-> durable 'all' list: [{'k': case condition}, {'d_<name>': derived condition}, ...]"""
        conjuncts = _split_and(p.tree)
        case_parts: list[Cond] = []
        derived_parts: dict[str, list[Cond]] = {}
        for c in conjuncts:
            used = {n.id for n in ast.walk(c) if isinstance(n, ast.Name)} & self.derived
            if not used:
                case_parts.append(self._cond(c, pattern=None))
            elif len(used) == 1:
                name = used.pop()
                derived_parts.setdefault(name, []).append(self._cond(c, pattern=name))
            else:
                raise ExprError("one comparison may use at most one derived fact "
                                f"({', '.join(sorted(used))}); split it", c.col_offset)
        # a derived pattern that reads a case fact needs that fact present (no comparison with nothing)
        refs = sorted({n.id for c in conjuncts for n in ast.walk(c) if isinstance(n, ast.Name)
                       and n.id not in self.derived and n.id not in KEYWORDS
                       and any(isinstance(m, ast.Name) and m.id in self.derived for m in ast.walk(c))})
        case_parts += [{"$ex": {r: 1}} for r in refs if self.types.get(r) != "tri"]
        out: list[Cond] = [{"k": {"$and": [{"__kind": "case"}, *case_parts]}}]
        for name, parts in derived_parts.items():
            # a joined pattern must be one flat $and (durable_rules evaluates a nested $and/$or in a join
            # wrongly, engine/core/_durable.py): `d != 3` is ($ex value and $neq), flattened here; an `or`
            # or `in [...]` over a derived fact cannot be flattened and is refused at its column
            flat: list[Cond] = []
            for part in parts:
                flat += part["$and"] if set(part) == {"$and"} else [part]
            nested = next((c for c in conjuncts if name in {n.id for n in ast.walk(c) if isinstance(n, ast.Name)}
                           and any(isinstance(t, dict) and ("$and" in t or "$or" in t) for t in flat)), None)
            if nested is not None:
                raise ExprError(f"`or`, `in [...]` or a chained comparison over the derived fact {name} cannot be "
                                "matched by durable_rules: split it into one rule per alternative",
                                nested.col_offset, code="R116")
            out.append({f"d_{name}": {"$and": [{"__kind": "derived"}, {"name": name}, *flat]}})
        return out

    # -- one boolean node
    def _cond(self, node: ast.AST, pattern: str | None) -> Cond:
        if isinstance(node, ast.BoolOp):
            key = "$and" if isinstance(node.op, ast.And) else "$or"
            return {key: [self._cond(v, pattern) for v in node.values]}
        if isinstance(node, ast.Compare):
            parts, left = [], node.left
            for op, right in zip(node.ops, node.comparators):
                if type(op) not in OPS:
                    raise ExprError(f"operator {type(op).__name__} is not allowed", node.col_offset)
                parts.append(self._compare(left, OPS[type(op)], right, pattern, node))
                left = right
            return parts[0] if len(parts) == 1 else {"$and": parts}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            raise ExprError("'not' is not allowed: write the comparison the other way (!=, not in, <=)",
                            node.col_offset)
        if isinstance(node, ast.Name):
            raise ExprError(f"'{node.id}' alone is not a condition: compare it, e.g. {node.id} == true",
                            node.col_offset)
        raise ExprError(f"not a condition: {ast.unparse(node)}", getattr(node, "col_offset", 0))

    def _local(self, node: ast.AST, pattern: str | None) -> str | None:
        if not isinstance(node, ast.Name) or node.id in KEYWORDS:
            return None
        if pattern is None:
            return node.id if node.id not in self.derived else None
        return "value" if node.id == pattern else None

    def _compare(self, left: ast.expr, op: str, right: ast.expr, pattern: str | None, whole: ast.expr) -> Cond:
        if op in ("in", "not in"):
            return self._membership(left, op, right, pattern, whole)
        lf = self._local(left, pattern)
        if lf is None:
            rf = self._local(right, pattern)
            if rf is None:
                raise ExprError(f"compare a fact with a value: {ast.unparse(whole)}", whole.col_offset)
            left, right, op, lf = right, left, _FLIP[op], rf
        assert isinstance(left, ast.Name)                  # _local names a fact only for a Name
        fact = left.id
        ftype = self.types.get(fact, "int")
        if isinstance(right, ast.Name) and right.id == "unknown":
            if ftype in ("tri",):
                return _cmp(lf, op, "unknown")
            if pattern is not None:
                raise ExprError(f"a derived fact ({fact}) cannot be compared with unknown", whole.col_offset)
            if op == "==":
                return {"$nex": {lf: 1}}
            if op == "!=":
                return {"$ex": {lf: 1}}
            raise ExprError("unknown compares only with == or !=", whole.col_offset)
        rtype = self._type_of(right, whole)
        if rtype is not None and not _compatible(ftype, rtype):
            raise ExprError(f"{fact} is {TYPE_WORDS.get(ftype, ftype)} but {ast.unparse(right)} is "
                            f"{TYPE_WORDS.get(rtype, rtype)}: they cannot be compared", whole.col_offset)
        rv = self._rvalue(right, pattern, ftype, whole)
        cond = _cmp(lf, op, rv)
        # durable compares with an absent fact on the right as if it were there (measured: `x <= y` with y
        # absent can fire), and a missing fact is not "different": every fact on either side must exist
        guards = [{"$ex": {f: 1}} for f in sorted(_same_fact_refs(rv))]
        if op == "!=" and ftype != "tri":
            guards.insert(0, {"$ex": {lf: 1}})
        return {"$and": [*guards, cond]} if guards else cond

    def _rvalue(self, node: ast.expr, pattern: str | None, ftype: str, whole: ast.expr) -> RValue:
        if isinstance(node, ast.Constant) or (isinstance(node, ast.Name) and node.id in KEYWORDS) \
                or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)):
            return self.to_literal(node, ftype)
        if isinstance(node, ast.Name):
            other = node.id
            if pattern is None:
                if other in self.derived:
                    raise ExprError("internal: derived on the right", whole.col_offset)
                return {"$m": other}
            if other in self.derived:
                raise ExprError("one comparison may use at most one derived fact", whole.col_offset)
            return {"k": other}
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            def side(n: ast.expr) -> RValue:             # numbers inside arithmetic are numbers, whatever the fact compared
                is_num = isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) \
                    and not isinstance(n.value, bool)
                return self._rvalue(n, pattern, "num" if is_num else ftype, whole)
            return {_ARITH[type(node.op)]: {"$l": side(node.left), "$r": side(node.right)}}
        raise ExprError(f"not a value: {ast.unparse(node)}", getattr(node, "col_offset", 0))

    def _type_of(self, node: ast.expr, whole: ast.expr) -> str | None:
        """Type of a right-hand value made of facts and arithmetic; None for a plain literal (to_literal
        checks those against the fact compared). Arithmetic takes numbers (and dates +/- days) only."""
        if isinstance(node, ast.Name):
            return None if node.id in KEYWORDS else self.types.get(node.id, "int")
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _ARITH:
                raise ExprError(f"operator {type(node.op).__name__} is not allowed in a condition "
                                "(only + - *)", node.col_offset)
            kinds = []
            for n in (node.left, node.right):
                t = self._type_of(n, whole)
                if t is None:
                    v = getattr(n, "value", None) if isinstance(n, ast.Constant) else \
                        (0 if isinstance(n, ast.UnaryOp) else None)
                    if not isinstance(v, (int, float)) or isinstance(v, bool):
                        raise ExprError(f"arithmetic takes numbers, not {ast.unparse(n)}", node.col_offset)
                    t = "num" if isinstance(v, float) else "int"
                if t not in (*NUMERIC, "date"):
                    raise ExprError(f"arithmetic takes numbers, not {ast.unparse(n)} "
                                    f"({TYPE_WORDS.get(t, t)})", node.col_offset)
                kinds.append(t)
            dates = kinds.count("date")
            if dates == 2:
                if not isinstance(node.op, ast.Sub):
                    raise ExprError("two dates can only be subtracted", node.col_offset)
                return "int"
            if dates == 1:
                if isinstance(node.op, ast.Mult):
                    raise ExprError("a date cannot be multiplied", node.col_offset)
                return "date"
            return "num" if "num" in kinds else "int"
        return None

    def _membership(self, left: ast.expr, op: str, right: ast.expr, pattern: str | None, whole: ast.expr) -> Cond:
        if isinstance(right, (ast.List, ast.Tuple)):          # fact in ['a', 'b']
            lf = self._local(left, pattern)
            if lf is None:
                raise ExprError("the left of 'in [...]' must be a fact", whole.col_offset)
            assert isinstance(left, ast.Name)                  # _local names a fact only for a Name
            ftype = self.types.get(left.id, "str")
            alts = [_cmp(lf, "==" if op == "in" else "!=", self.to_literal(e, ftype)) for e in right.elts]
            if op == "in":
                return {"$or": alts} if len(alts) > 1 else alts[0]
            return {"$and": [{"$ex": {lf: 1}}, *alts]}
        rf = self._local(right, pattern)
        if rf is None or not isinstance(right, ast.Name) or self.types.get(right.id) != "list":
            raise ExprError(f"'in' needs a list fact or a literal list on its right: {ast.unparse(whole)}",
                            whole.col_offset)
        item = self.to_literal(left, "str")
        if op == "in":
            return {"$iany": {rf: {"$i": item}}}
        return {"$iall": {rf: {"$neq": {"$i": item}}}}


def _compatible(a: str, b: str) -> bool:
    return (a in NUMERIC and b in NUMERIC) or (a == b and a != "list")


def _same_fact_refs(rv: object) -> set[str]:
    """Fields of the same fact ({'$m': name}) that a right-hand value reads."""
    if isinstance(rv, dict):
        if "$m" in rv and len(rv) == 1:
            return {rv["$m"]}
        return set().union(*(_same_fact_refs(v) for v in rv.values())) if rv else set()
    return set()


def _cmp(field_name: str, op: str, rv: RValue) -> Cond:
    dop = _DURABLE_OP[op]
    return {field_name: rv} if dop is None else {dop: {field_name: rv}}


def _split_and(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        out: list[ast.expr] = []
        for v in node.values:
            out.extend(_split_and(v))
        return out
    return [node]


# ---------------------------------------------------------------------------------------------
# static analysis for lint: numeric bounds of a conjunction


def impossible(p: Parsed) -> str | None:
    """A reason when the top-level conjunction can never be true (`x > 10 and x < 5`), else None."""
    bounds: dict[str, list[tuple[float, bool]]] = {}
    equals: dict[str, set[object]] = {}
    for c in _split_and(p.tree):
        if not (isinstance(c, ast.Compare) and len(c.ops) == 1):
            continue
        left, op, right = c.left, OPS.get(type(c.ops[0])), c.comparators[0]
        if isinstance(right, ast.Name) and isinstance(left, ast.Constant):
            left, right, op = right, left, _FLIP.get(op, op) if op is not None else op
        if not (isinstance(left, ast.Name) and isinstance(right, ast.Constant)):
            continue
        name, v = left.id, right.value
        if op == "==":
            equals.setdefault(name, set()).add(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            lo, hi = bounds.setdefault(name, [(-float("inf"), True), (float("inf"), True)])
            if op in (">", ">="):
                if (v, op == ">=") > (lo[0], lo[1]) or v > lo[0]:
                    bounds[name][0] = (v, op == ">=")
            elif op in ("<", "<="):
                if v < hi[0] or (v == hi[0] and op == "<"):
                    bounds[name][1] = (v, op == "<=")
            elif op == "==":
                bounds[name] = [(max(lo[0], v), True), (min(hi[0], v), True)] if lo[0] <= v <= hi[0] \
                    else [(1, True), (0, True)]
    for name, vals in equals.items():
        if len(vals) > 1:
            return f"{name} cannot equal both {' and '.join(map(repr, sorted(vals, key=str)))}"
    for name, ((low, lo_inc), (high, hi_inc)) in bounds.items():
        if low > high or (low == high and not (lo_inc and hi_inc)):
            return f"no value of {name} is both {'>=' if lo_inc else '>'} {low} and {'<=' if hi_inc else '<'} {high}"
    return None


def required_facts(p: Parsed, types: dict[str, str], derived: set[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(case facts that must be present, derived facts that must exist) for the condition to be true.

    Only top-level conjuncts count; a comparison with a fact that is absent is false, except
    `== unknown` and three-valued facts (always present)."""
    need: set[str] = set()
    deps: set[str] = set()
    for c in _split_and(p.tree):
        if not isinstance(c, ast.Compare):
            continue
        if any(isinstance(n, ast.Name) and n.id == "unknown" for n in ast.walk(c)):
            continue
        for n in [c.left, *c.comparators]:
            if isinstance(n, ast.Name) and n.id not in KEYWORDS:
                if n.id in derived:
                    deps.add(n.id)
                elif types.get(n.id) not in ("tri", "list", None):
                    need.add(n.id)
    return frozenset(need), frozenset(deps)


def canonical(p: Parsed) -> str:
    """A normal form of a condition, to compare two rules' conditions."""
    parts = sorted(ast.unparse(c) for c in _split_and(p.tree))
    return " and ".join(parts)


