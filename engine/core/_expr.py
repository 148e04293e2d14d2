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
import math
import re
from dataclasses import dataclass, field

from ._errors import did_you_mean

KEYWORDS = {"true", "false", "unknown"}
MAX_INT = 2**63 - 1          # durable_rules saturates integers beyond int64 (durable-rules.md §7)
MAX_EXPR_CHARS = 20_000      # a condition or figure longer than this is refused (no real rule comes close)
NUMERIC = ("int", "num")
LIST_SENTINEL = "~"          # appended to every list fact so `not in` is true for an empty list
_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
        ast.In: "in", ast.NotIn: "not in"}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_DURABLE_OP = {"==": None, "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_ARITH = {ast.Add: "$add", ast.Sub: "$sub", ast.Mult: "$mul"}


class ExprError(ValueError):
    def __init__(self, message: str, offset: int | None = None, suggestion: str | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.offset = offset            # 0-based character offset in the expression text
        self.suggestion = suggestion
        self.code = code                # a lint code of its own (R115, R116); else the caller's (R110, R111)


@dataclass
class Parsed:
    text: str
    tree: ast.expr
    names: set[str] = field(default_factory=set)


def parse(text: str) -> Parsed:
    tree = _parse(text, "condition")
    check_literals(tree)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - KEYWORDS - {"min", "max"}
    return Parsed(text, tree, names)


def _parse(text: str, what: str) -> ast.expr:
    """ast.parse with the limits of the language: length, nesting; never raises anything but ExprError."""
    text = str(text)
    if len(text) > MAX_EXPR_CHARS:
        raise ExprError(f"{what} is {len(text)} characters long; at most {MAX_EXPR_CHARS}", 0)
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise ExprError(f"cannot parse {what}: {e.msg}", (e.offset or 1) - 1) from None
    except (RecursionError, MemoryError, ValueError) as e:
        raise ExprError(f"cannot parse {what}: {type(e).__name__} (nested too deeply?)", 0) from None


FACT_BOUND = 2**40           # no numeric fact of a valid case comes near (docs/case-format-extensions.md, Maxima)


def check_literals(tree: ast.AST) -> None:
    """Numbers must be finite and fit in 64 bits (durable_rules saturates ints, fails on Infinity), decimals
    must be written so durable_rules can read them (no exponent once compiled), and no arithmetic may pass
    64 bits for any value of its facts (each at most FACT_BOUND): durable_rules wraps such a sum round in C
    and a figure beyond 64 bits is unknown, so `x < 9223372036854775807 + 9223372036854775807` or
    `limit: 0 - 9223372036854775807 - 1` would be silently wrong; lint refuses them at their column."""
    for n in ast.walk(tree):
        if isinstance(n, (ast.BinOp, ast.UnaryOp, ast.Call)):
            b = _bound(n)
            if b is not None and b > MAX_INT:
                raise ExprError("this arithmetic can give a value beyond 64 bits (a fact counts as up to 2**40 "
                                f"here; at most {MAX_INT}): durable_rules would wrap it round", n.col_offset, code="R115")
        if isinstance(n, ast.Constant):
            v = n.value
            if isinstance(v, float) and not math.isfinite(v):
                raise ExprError("a number must be finite (this one overflows to infinity)", n.col_offset)
            if isinstance(v, float) and v != 0 and "e" in repr(v):
                raise ExprError(f"durable_rules cannot read {v!r} (an exponent): write a decimal between 0.0001 "
                                "and 9999999999999999 in plain digits, or a whole number", n.col_offset, code="R115")
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_INT:
                raise ExprError(f"the number {v} does not fit in 64 bits (at most {MAX_INT})", n.col_offset)
            if isinstance(v, complex) or isinstance(v, bytes):
                raise ExprError(f"not a value: {ast.unparse(n)}", n.col_offset)


def _bound(node: ast.AST) -> int | float | None:
    """An upper bound of the absolute value of an arithmetic node (exact for numbers alone), or None where
    it is not arithmetic on numbers (words, keywords: other checks refuse those)."""
    if isinstance(node, ast.Constant):
        v = node.value
        return abs(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    if isinstance(node, ast.Name):
        return None if node.id in KEYWORDS else FACT_BOUND
    if isinstance(node, ast.UnaryOp):
        return _bound(node.operand)
    if isinstance(node, ast.BinOp):
        a, b = _bound(node.left), _bound(node.right)
        if a is None or b is None:
            return None
        if not any(isinstance(x, ast.Name) for x in ast.walk(node)):     # numbers alone: the exact value
            v = _exact(node)
            return abs(v) if v is not None else None
        if isinstance(node.op, (ast.Add, ast.Sub)):
            return a + b
        if isinstance(node.op, ast.Mult):
            return a * b
        return a                                                       # // never grows a value
    if isinstance(node, ast.Call):
        bounds = [_bound(a) for a in node.args]
        return None if not bounds or any(x is None for x in bounds) else max(b for b in bounds if b is not None)
    return None


def _exact(node: ast.AST) -> int | float | None:
    """The value of arithmetic on numbers alone, in Python's unbounded integers (no 64-bit cut-off)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _exact(node.operand)
        return -v if v is not None else None
    if isinstance(node, ast.BinOp):
        a, b = _exact(node.left), _exact(node.right)
        if a is None or b is None or abs(a) > 2**200 or abs(b) > 2**200:
            return None
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        if isinstance(node.op, ast.FloorDiv) and b != 0:
            return a // b
    return None


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
        case_parts: list[dict] = []
        derived_parts: dict[str, list[dict]] = {}
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
            # a joined pattern must be one flat $and (durable_rules evaluates a nested $and/$or in a join
            # wrongly, engine/core/_durable.py): `d != 3` is ($ex value and $neq), flattened here; an `or`
            # or `in [...]` over a derived fact cannot be flattened and is refused at its column
            flat: list[dict] = []
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
        rtype = self._type_of(right, whole)
        if rtype is not None and not _compatible(ftype, rtype):
            raise ExprError(f"{fact} is {_TYPE_WORDS.get(ftype, ftype)} but {ast.unparse(right)} is "
                            f"{_TYPE_WORDS.get(rtype, rtype)}: they cannot be compared", whole.col_offset)
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
            def side(n):             # numbers inside arithmetic are numbers, whatever the fact compared
                is_num = isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) \
                    and not isinstance(n.value, bool)
                return self._rvalue(n, pattern, "num" if is_num else ftype, whole)
            return {_ARITH[type(node.op)]: {"$l": side(node.left), "$r": side(node.right)}}
        raise ExprError(f"not a value: {ast.unparse(node)}", getattr(node, "col_offset", 0))

    def _type_of(self, node, whole) -> str | None:
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
                                    f"({_TYPE_WORDS.get(t, t)})", node.col_offset)
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


_TYPE_WORDS = {"int": "a whole number", "num": "a number", "str": "a word", "tri": "true/false/unknown",
               "list": "a list", "date": "a date"}


def _compatible(a: str, b: str) -> bool:
    return (a in NUMERIC and b in NUMERIC) or (a == b and a != "list")


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
    bounds: dict[str, list] = {}
    equals: dict[str, set] = {}
    for c in _split_and(p.tree):
        if not (isinstance(c, ast.Compare) and len(c.ops) == 1):
            continue
        left, op, right = c.left, _OPS.get(type(c.ops[0])), c.comparators[0]
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
#
# A figure is a number, a quoted word ("'myalgia: 9-10 visits'"), true/false, or arithmetic over numeric
# facts: + - * //, unary -, min(a, b, ...), max(...). Nothing else parses: no attribute, subscript, other
# call, comprehension, lambda, string arithmetic. At run time a figure whose divisor is 0, or whose result
# is not finite or does not fit in 64 bits, is None ("unknown"), like a figure over an unknown fact.

_FIG_NODES = (ast.BinOp, ast.Name, ast.Constant, ast.Call, ast.Load, ast.Add, ast.Sub, ast.Mult,
              ast.FloorDiv, ast.UnaryOp, ast.USub)
_FIG_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//"}


def evaluate(expr: str | int | float, env: dict):
    """Value of a figure expression over facts; None when a fact it needs is unknown, a divisor is 0,
    or the result is not a finite 64-bit number."""
    if isinstance(expr, (int, float)):
        return expr
    try:
        tree = _figure_tree(str(expr))
    except ExprError:
        return None
    return _eval(tree, env)


@functools.lru_cache(maxsize=4096)
def _figure_tree(expr: str) -> ast.AST:
    node = _parse(expr, "figure")
    _check_figure_nodes(node)
    return node


def fact_value(expr, env: dict):
    """The value a `derive` gives a fact: true/false become 'true'/'false', numbers stay, figures are
    evaluated over env (None when a fact they need is unknown)."""
    if isinstance(expr, bool):
        return "true" if expr else "false"
    if isinstance(expr, (int, float)):
        return expr if _finite(expr) else None
    return evaluate(expr, env)


def _check_figure_nodes(node: ast.AST) -> None:
    check_literals(node)
    for n in ast.walk(node):
        if not isinstance(n, _FIG_NODES):
            what = ast.unparse(n) if hasattr(n, "lineno") else type(n).__name__
            raise ExprError(f"not allowed in a figure: {what} (only numbers, facts, + - * //, min(), max())",
                            getattr(n, "col_offset", 0))
        if isinstance(n, ast.Call) and not (isinstance(n.func, ast.Name) and n.func.id in ("min", "max")
                                            and n.args and not n.keywords):
            raise ExprError("only min(a, b, ...) and max(a, b, ...) may be called in a figure", n.col_offset)
        if isinstance(n, ast.Name) and n.id in ("min", "max") and not _is_func(node, n):
            raise ExprError(f"'{n.id}' is a function: write {n.id}(a, b)", n.col_offset)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n is not node:
            raise ExprError("a word cannot take part in arithmetic", n.col_offset)
        if isinstance(n, ast.Name) and n.id in KEYWORDS and n is not node:
            raise ExprError(f"{n.id} cannot take part in arithmetic", n.col_offset)
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.FloorDiv):
            d = _const(n.right)
            if d is not None and d == 0:
                raise ExprError("division by zero", n.right.col_offset)


def _is_func(root, name) -> bool:
    return any(isinstance(c, ast.Call) and c.func is name for c in ast.walk(root))


def _const(node):
    """The value of a sub-expression without facts (constant folding), else None."""
    if any(isinstance(n, (ast.Name, ast.Call)) for n in ast.walk(node)):
        return None
    return _eval(node, {})


def figure_names(expr) -> set[str]:
    """Fact names a figure reads; raises ExprError for anything outside the figure language."""
    if isinstance(expr, (int, float, bool)) or expr is None:
        if isinstance(expr, float) and not math.isfinite(expr):
            raise ExprError("a number must be finite", 0)
        return set()
    node = _parse(str(expr), "figure")
    _check_figure_nodes(node)
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - {"min", "max"} - KEYWORDS


def figure_type(expr, types: dict[str, str]) -> str:
    """The type of a figure: tri (true/false), str (a quoted word), int or num (arithmetic), from the
    types of the facts it reads (the fact table, not its text). Raises ExprError on a type mismatch."""
    if isinstance(expr, bool):
        return "tri"
    if isinstance(expr, int):
        return "int"
    if isinstance(expr, float):
        return "num"
    node = _parse(str(expr), "figure")
    _check_figure_nodes(node)
    return _ftype(node, types)


def _ftype(node, types) -> str:
    if isinstance(node, ast.Constant):
        v = node.value
        return "str" if isinstance(v, str) else "num" if isinstance(v, float) else "int"
    if isinstance(node, ast.Name):
        if node.id in ("true", "false"):
            return "tri"
        if node.id == "unknown":
            raise ExprError("a figure cannot be unknown", node.col_offset)
        t = types.get(node.id)
        if t is None:
            raise ExprError(f"unknown fact '{node.id}'", node.col_offset, did_you_mean(node.id, types))
        if t not in NUMERIC:
            raise ExprError(f"{node.id} is {_TYPE_WORDS.get(t, t)}, not a number: it cannot be used in a figure",
                            node.col_offset)
        return t
    if isinstance(node, ast.UnaryOp):
        return _ftype(node.operand, types)
    kids = [node.left, node.right] if isinstance(node, ast.BinOp) else node.args
    kinds = [_ftype(k, types) for k in kids]
    for k, t in zip(kids, kinds):
        if t not in NUMERIC:
            raise ExprError(f"arithmetic takes numbers, not {ast.unparse(k)}", k.col_offset)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.FloorDiv):
        return "int" if kinds == ["int", "int"] else "num"
    return "num" if "num" in kinds else "int"


def _finite(v) -> bool:
    if isinstance(v, bool):
        return True
    if isinstance(v, float):
        return math.isfinite(v) and abs(v) <= MAX_INT
    if isinstance(v, int):
        return abs(v) <= MAX_INT
    return True


def _eval(node, env):
    """Evaluate a checked figure. Unknown operands, a zero divisor, a word in arithmetic, or a result that
    is not a finite 64-bit number give None: the figure is unknown."""
    if isinstance(node, ast.Constant):
        return node.value if _finite(node.value) else None
    if isinstance(node, ast.Name):
        return env.get(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _eval(node.operand, env)
        return -v if _number(v) else None
    if isinstance(node, ast.BinOp) and type(node.op) in _FIG_OPS:
        a, b = _eval(node.left, env), _eval(node.right, env)
        if not (_number(a) and _number(b)):
            return None
        if isinstance(node.op, ast.Add):
            r = a + b
        elif isinstance(node.op, ast.Sub):
            r = a - b
        elif isinstance(node.op, ast.Mult):
            r = a * b
        else:
            if b == 0:
                return None
            r = a // b
        return r if _finite(r) else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max") \
            and node.args:
        vals = [_eval(a, env) for a in node.args]
        if not all(_number(v) for v in vals):
            return None
        return min(vals) if node.func.id == "min" else max(vals)
    raise ExprError(f"cannot evaluate {ast.unparse(node)}")


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and _finite(v)


# ---------------------------------------------------------------------------------------------
# message templates: a closed format language
#
#   {fact}            the fact as shown in a rationale (unknown facts show as "unknown")
#   {fact:>N} {fact:<N} {fact:^N} {fact:N}     padded to width N, N at most MAX_WIDTH
#   {{ and }}         literal braces
# Nothing else: no attribute or index ({a.b}, {a[0]}), no conversion ({a!r}), no positional {} or {0},
# no nested or other format specs. The renderer shows an unknown number as the word "unknown", so a
# numeric spec (:d, :.1f) could fail on it at run time: those are refused, not risked.

MAX_WIDTH = 999
_FIELD = re.compile(r"[a-z_][a-z0-9_]*\Z")
_SPEC = re.compile(r"[<>^]?([0-9]{1,3})\Z")


@dataclass
class TemplateField:
    name: str
    spec: str
    offset: int                      # 0-based offset of the '{'


def parse_template(text: str) -> tuple[list[TemplateField], list[ExprError]]:
    """The fields of a message template and every error in it (with its offset); never raises."""
    fields, errors = [], []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "{":
            if text.startswith("{{", i):
                i += 2
                continue
            j = text.find("}", i + 1)
            k = text.find("{", i + 1)
            if j < 0 or (0 <= k < j):
                errors.append(ExprError("'{' is not closed: write {{ for a literal brace", i))
                i = (k if 0 <= k else n)
                continue
            body = text[i + 1:j]
            name, _, spec = body.partition(":")
            if "!" in name:
                errors.append(ExprError(f"conversions are not allowed in a message: {{{body}}}", i))
            elif not _FIELD.match(name):
                errors.append(ExprError(f"{{{body}}}: a message field is a fact name in lower case "
                                        "(no attribute, index or position)", i))
            elif spec and not _SPEC.match(spec):
                errors.append(ExprError(f"{{{body}}}: format '{spec}' is not allowed; the only format is a "
                                        f"width up to {MAX_WIDTH}, optionally aligned (<, >, ^)", i))
            else:
                fields.append(TemplateField(name, spec, i))
            i = j + 1
        elif c == "}":
            if text.startswith("}}", i):
                i += 2
                continue
            errors.append(ExprError("'}' without '{': write }} for a literal brace", i))
            i += 1
        else:
            i += 1
    return fields, errors


# the names engine/core/_analysis.py reads the language with (one parser, one evaluator)
OPS = _OPS
figure_tree = _figure_tree
eval_figure = _eval
is_number = _number
is_finite = _finite
