"""The condition and figure language of rule files.

Conditions are Python-like expressions, parsed with `ast` (never evaluated as Python):

    total_visits > course_visits and functional_improvement != true
    'radicular' in dx_groups and service in ['physical_therapy', 'occupational_therapy']

Allowed: `and`, `or`, comparisons (== != < <= > >=, chained), `in` / `not in` (a value in a list
fact, or a fact in a literal list), `+ - *` on the right of a comparison, fact names, numbers, strings,
and the keywords `true`, `false`, `unknown`. `not` is refused: with "unknown" in play its meaning is
ambiguous; write the comparison the other way (`!=`, `not in`, `<=`).

Figures (`limit:`, `derive:` values) are arithmetic over facts: + - * //, min(), max(), numbers.
"""
from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field

from ._errors import did_you_mean

KEYWORDS = {"true", "false", "unknown"}
LIST_SENTINEL = "~"          # appended to every list fact so `not in` is true for an empty list
_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
        ast.In: "in", ast.NotIn: "not in"}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_DURABLE_OP = {"==": None, "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_ARITH = {ast.Add: "$add", ast.Sub: "$sub", ast.Mult: "$mul"}


class ExprError(ValueError):
    def __init__(self, message: str, offset: int | None = None, suggestion: str | None = None):
        super().__init__(message)
        self.offset = offset            # 0-based character offset in the expression text
        self.suggestion = suggestion


@dataclass
class Parsed:
    text: str
    tree: ast.AST
    names: set[str] = field(default_factory=set)


def parse(text: str) -> Parsed:
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise ExprError(f"cannot parse condition: {e.msg}", (e.offset or 1) - 1) from None
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - KEYWORDS - {"min", "max"}
    return Parsed(text, tree, names)


def check_names(p: Parsed, known: dict[str, str]) -> list[ExprError]:
    """Every fact name in the expression must be known; one error per unknown name, with its offset."""
    errors = []
    for n in ast.walk(p.tree):
        if isinstance(n, ast.Name) and n.id not in KEYWORDS | {"min", "max"} and n.id not in known:
            errors.append(ExprError(f"unknown fact '{n.id}'", n.col_offset,
                                    did_you_mean(n.id, known)))
    return errors


# ---------------------------------------------------------------------------------------------
# conditions -> durable_rules JSON


class ConditionCompiler:
    """Compile one condition against fact types; derived facts become join patterns.

    `types` maps every fact name to its type (int num str tri list date); names in `derived` are facts
    that other rules of the same rule set assert, matched as separate facts {__kind: derived, name, value}.
    """

    def __init__(self, types: dict[str, str], derived: set[str], to_literal):
        self.types, self.derived, self.to_literal = types, derived, to_literal

    def compile(self, p: Parsed) -> list[dict]:
        """-> durable 'all' list: [{'k': case condition}, {'d_<name>': derived condition}, ...]"""
        conjuncts = _split_and(p.tree)
        case_parts, derived_parts = [], {}
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
        out = [{"k": {"$and": [{"__kind": "case"}, *case_parts]}}]
        for name, parts in derived_parts.items():
            out.append({f"d_{name}": {"$and": [{"__kind": "derived"}, {"name": name}, *parts]}})
        return out

    # -- one boolean node
    def _cond(self, node: ast.AST, pattern: str | None) -> dict:
        if isinstance(node, ast.BoolOp):
            key = "$and" if isinstance(node.op, ast.And) else "$or"
            return {key: [self._cond(v, pattern) for v in node.values]}
        if isinstance(node, ast.Compare):
            parts, left = [], node.left
            for op, right in zip(node.ops, node.comparators):
                if type(op) not in _OPS:
                    raise ExprError(f"operator {type(op).__name__} is not allowed", node.col_offset)
                parts.append(self._compare(left, _OPS[type(op)], right, pattern, node))
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

    def _compare(self, left, op, right, pattern, whole) -> dict:
        if op in ("in", "not in"):
            return self._membership(left, op, right, pattern, whole)
        lf = self._local(left, pattern)
        if lf is None:
            rf = self._local(right, pattern)
            if rf is None:
                raise ExprError(f"compare a fact with a value: {ast.unparse(whole)}", whole.col_offset)
            left, right, op, lf = right, left, _FLIP[op], rf
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
        rv = self._rvalue(right, pattern, ftype, whole)
        cond = _cmp(lf, op, rv)
        # durable compares with an absent fact on the right as if it were there (measured: `x <= y` with y
        # absent can fire), and a missing fact is not "different": every fact on either side must exist
        guards = [{"$ex": {f: 1}} for f in sorted(_same_fact_refs(rv))]
        if op == "!=" and ftype != "tri":
            guards.insert(0, {"$ex": {lf: 1}})
        return {"$and": [*guards, cond]} if guards else cond

    def _rvalue(self, node, pattern, ftype, whole):
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
            return {_ARITH[type(node.op)]: {"$l": self._rvalue(node.left, pattern, ftype, whole),
                                           "$r": self._rvalue(node.right, pattern, ftype, whole)}}
        raise ExprError(f"not a value: {ast.unparse(node)}", getattr(node, "col_offset", 0))

    def _membership(self, left, op, right, pattern, whole) -> dict:
        if isinstance(right, (ast.List, ast.Tuple)):          # fact in ['a', 'b']
            lf = self._local(left, pattern)
            if lf is None:
                raise ExprError("the left of 'in [...]' must be a fact", whole.col_offset)
            ftype = self.types.get(left.id, "str")
            alts = [_cmp(lf, "==" if op == "in" else "!=", self.to_literal(e, ftype)) for e in right.elts]
            if op == "in":
                return {"$or": alts} if len(alts) > 1 else alts[0]
            return {"$and": [{"$ex": {lf: 1}}, *alts]}
        rf = self._local(right, pattern)
        if rf is None or self.types.get(right.id) != "list":
            raise ExprError(f"'in' needs a list fact or a literal list on its right: {ast.unparse(whole)}",
                            whole.col_offset)
        item = self.to_literal(left, "str")
        if op == "in":
            return {"$iany": {rf: {"$i": item}}}
        return {"$iall": {rf: {"$neq": {"$i": item}}}}


def _same_fact_refs(rv) -> set[str]:
    """Fields of the same fact ({'$m': name}) that a right-hand value reads."""
    if isinstance(rv, dict):
        if "$m" in rv and len(rv) == 1:
            return {rv["$m"]}
        return set().union(*(_same_fact_refs(v) for v in rv.values())) if rv else set()
    return set()


def _cmp(field_name: str, op: str, rv) -> dict:
    dop = _DURABLE_OP[op]
    return {field_name: rv} if dop is None else {dop: {field_name: rv}}


def _split_and(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        out = []
        for v in node.values:
            out.extend(_split_and(v))
        return out
    return [node]


# ---------------------------------------------------------------------------------------------
# static analysis for lint: numeric bounds of a conjunction


def impossible(p: Parsed) -> str | None:
    """A reason when the top-level conjunction can never be true (`x > 10 and x < 5`), else None."""
    bounds: dict[str, list] = {}
    equals: dict[str, set] = {}
    for c in _split_and(p.tree):
        if not (isinstance(c, ast.Compare) and len(c.ops) == 1):
            continue
        left, op, right = c.left, _OPS.get(type(c.ops[0])), c.comparators[0]
        if isinstance(right, ast.Name) and isinstance(left, ast.Constant):
            left, right, op = right, left, _FLIP.get(op, op)
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
    for name, ((lo, lo_inc), (hi, hi_inc)) in bounds.items():
        if lo > hi or (lo == hi and not (lo_inc and hi_inc)):
            return f"no value of {name} is both {'>=' if lo_inc else '>'} {lo} and {'<=' if hi_inc else '<'} {hi}"
    return None


def required_facts(p: Parsed, types: dict[str, str], derived: set[str]) -> tuple[frozenset, frozenset]:
    """(case facts that must be present, derived facts that must exist) for the condition to be true.

    Only top-level conjuncts count; a comparison with a fact that is absent is false, except
    `== unknown` and three-valued facts (always present)."""
    need, deps = set(), set()
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


# ---------------------------------------------------------------------------------------------
# figures


def evaluate(expr: str | int | float, env: dict):
    """Value of a figure expression over facts; None when a fact it needs is unknown."""
    if isinstance(expr, (int, float)):
        return expr
    return _eval(_figure_tree(str(expr)), env)


@functools.lru_cache(maxsize=4096)
def _figure_tree(expr: str) -> ast.AST:
    return ast.parse(expr.strip(), mode="eval").body


def fact_value(expr, env: dict):
    """The value a `derive` gives a fact: true/false become 'true'/'false', numbers stay, figures are
    evaluated over env (None when a fact they need is unknown)."""
    if isinstance(expr, bool):
        return "true" if expr else "false"
    if isinstance(expr, (int, float)):
        return expr
    return evaluate(expr, env)


def figure_names(expr) -> set[str]:
    if isinstance(expr, (int, float, bool)) or expr is None:
        return set()
    try:
        node = ast.parse(str(expr).strip(), mode="eval").body
    except SyntaxError as e:
        raise ExprError(f"cannot parse figure: {e.msg}", (e.offset or 1) - 1) from None
    bad = [n for n in ast.walk(node) if not isinstance(n, (
        ast.Expression, ast.BinOp, ast.Name, ast.Constant, ast.Call, ast.Load, ast.Add, ast.Sub,
        ast.Mult, ast.FloorDiv, ast.UnaryOp, ast.USub))]
    if bad:
        raise ExprError(f"not allowed in a figure: {ast.unparse(bad[0]) if hasattr(bad[0], 'lineno') else type(bad[0]).__name__}",
                        getattr(bad[0], "col_offset", 0))
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and not (isinstance(n.func, ast.Name) and n.func.id in ("min", "max")):
            raise ExprError("only min() and max() may be called in a figure", n.col_offset)
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - {"min", "max"} - KEYWORDS


def _eval(node, env):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env.get(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _eval(node.operand, env)
        return None if v is None else -v
    if isinstance(node, ast.BinOp):
        a, b = _eval(node.left, env), _eval(node.right, env)
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        if isinstance(node.op, ast.FloorDiv):
            return a // b
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
        vals = [_eval(a, env) for a in node.args]
        if any(v is None for v in vals):
            return None
        return min(vals) if node.func.id == "min" else max(vals)
    raise ExprError(f"cannot evaluate {ast.unparse(node)}")
