"""Figures: the arithmetic of rule files (`limit:`, `derive:` values, and the right side of a comparison).

A figure is a number, a quoted word ("'myalgia: 9-10 visits'"), true/false, or arithmetic over numeric
facts: + - * //, unary -, min(a, b, ...), max(...). Nothing else parses: no attribute, subscript, other
call, comprehension, lambda, string arithmetic. At run time a figure whose divisor is 0, or whose result
is not finite or does not fit in 64 bits, is None ("unknown"), like a figure over an unknown fact.

One evaluator: each figure is compiled once into a function of a lookup (`compile_figure`, `closure`);
`evaluate` and `fact_value` call it.
"""
from __future__ import annotations

import ast
import functools
import math
from collections.abc import Callable
from typing import Protocol, TypeGuard, cast

from ._errors import did_you_mean
from ._expr import KEYWORDS, MAX_INT, NUMERIC, TYPE_WORDS, ExprError, _parse, check_literals

# what a fact or a figure holds: a number, a word (yes/no facts hold 'true', 'false', 'unknown'), None: unknown
Value = int | float | str | None


class Lookup(Protocol):
    def get(self, key: str, /) -> Value: ...


_FIG_NODES = (ast.BinOp, ast.Name, ast.Constant, ast.Call, ast.Load, ast.Add, ast.Sub, ast.Mult,
              ast.FloorDiv, ast.UnaryOp, ast.USub)
_FIG_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//"}


def evaluate(expr: str | int | float, env: Lookup) -> Value:
    """Value of a figure expression over facts; None when a fact it needs is unknown, a divisor is 0,
    or the result is not a finite 64-bit number."""
    return compile_figure(expr)(env)


@functools.lru_cache(maxsize=4096)
def figure_tree(expr: str) -> ast.expr:
    """The checked syntax tree of a figure (ExprError when it is outside the language)."""
    node = _parse(expr, "figure")
    _check_figure_nodes(node)
    return node


@functools.lru_cache(maxsize=4096)
def _compiled(expr: str) -> Callable[[Lookup], Value]:
    try:
        return closure(figure_tree(expr))
    except ExprError:
        return _unknown


def compile_figure(expr: str | int | float) -> Callable[[Lookup], Value]:
    """A figure as a function of a lookup (anything with .get): built once per figure (the syntax tree is
    not walked per call)."""
    if isinstance(expr, (int, float)):
        return lambda e: expr
    return _compiled(str(expr))


def compile_value(expr: str | int | float | bool) -> Callable[[Lookup], Value]:
    """A derived value (an export) as a function of a lookup: the same as fact_value(expr, lookup)."""
    if isinstance(expr, bool):
        word = "true" if expr else "false"
        return lambda e: word
    if isinstance(expr, (int, float)):
        v = expr if _finite(expr) else None
        return lambda e: v
    return compile_figure(expr)


def _unknown(e: Lookup) -> None:
    return None


def closure(node: ast.AST) -> Callable[[Lookup], Value]:
    """A checked figure (or the arithmetic of a condition) as a function. Unknown operands, a zero
    divisor, a word in arithmetic, or a result that is not a finite 64-bit number give None: the figure is
    unknown."""
    if isinstance(node, ast.Constant):
        c = cast(Value, node.value) if _finite(node.value) else None      # check_literals: numbers and words
        return lambda e: c
    if isinstance(node, ast.Name):
        n = node.id
        return lambda e: e.get(n)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        f = closure(node.operand)

        def neg(e: Lookup) -> Value:
            v = f(e)
            return -v if _number(v) else None
        return neg
    if isinstance(node, ast.BinOp) and type(node.op) in _FIG_OPS:
        fa, fb, op = closure(node.left), closure(node.right), type(node.op)

        def binop(e: Lookup) -> Value:
            a, b = fa(e), fb(e)
            if not (_number(a) and _number(b)):
                return None
            if op is ast.Add:
                r = a + b
            elif op is ast.Sub:
                r = a - b
            elif op is ast.Mult:
                r = a * b
            else:
                if b == 0:
                    return None
                r = a // b
            return r if _finite(r) else None
        return binop
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max") \
            and node.args:
        fs, pick = [closure(x) for x in node.args], (min if node.func.id == "min" else max)

        def call(e: Lookup) -> Value:
            vals = [f(e) for f in fs]
            return pick(vals) if all(_number(v) for v in vals) else None   # type: ignore[type-var]  # numbers
        return call
    raise ExprError(f"cannot evaluate {ast.unparse(node)}")


def fact_value(expr: str | int | float | bool, env: Lookup) -> Value:
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


def _is_func(root: ast.AST, name: ast.Name) -> bool:
    return any(isinstance(c, ast.Call) and c.func is name for c in ast.walk(root))


def _const(node: ast.AST) -> Value:
    """The value of a sub-expression without facts (constant folding), else None."""
    if any(isinstance(n, (ast.Name, ast.Call)) for n in ast.walk(node)):
        return None
    return closure(node)({})


def figure_names(expr: str | int | float | bool | None) -> set[str]:
    """Fact names a figure reads; raises ExprError for anything outside the figure language."""
    if isinstance(expr, (int, float, bool)) or expr is None:
        if isinstance(expr, float) and not math.isfinite(expr):
            raise ExprError("a number must be finite", 0)
        return set()
    node = _parse(str(expr), "figure")
    _check_figure_nodes(node)
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - {"min", "max"} - KEYWORDS


def figure_type(expr: str | int | float | bool, types: dict[str, str]) -> str:
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


def _ftype(node: ast.expr, types: dict[str, str]) -> str:
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
            raise ExprError(f"{node.id} is {TYPE_WORDS.get(t, t)}, not a number: it cannot be used in a figure",
                            node.col_offset)
        return t
    if isinstance(node, ast.UnaryOp):
        return _ftype(node.operand, types)
    kids = [node.left, node.right] if isinstance(node, ast.BinOp) else cast(ast.Call, node).args   # min / max
    kinds = [_ftype(k, types) for k in kids]
    for k, t in zip(kids, kinds):
        if t not in NUMERIC:
            raise ExprError(f"arithmetic takes numbers, not {ast.unparse(k)}", k.col_offset)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.FloorDiv):
        return "int" if kinds == ["int", "int"] else "num"
    return "num" if "num" in kinds else "int"


def is_finite(v: object) -> bool:
    """A value a figure may hold: not a number, or a finite one within 64 bits."""
    if isinstance(v, bool):
        return True
    if isinstance(v, float):
        return math.isfinite(v) and abs(v) <= MAX_INT
    if isinstance(v, int):
        return abs(v) <= MAX_INT
    return True


def is_number(v: object) -> TypeGuard[int | float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and is_finite(v)


_finite, _number = is_finite, is_number
