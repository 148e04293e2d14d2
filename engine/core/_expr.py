"""The condition and figure language of rule files.

Conditions are Python-like expressions, parsed with `ast` (never evaluated as Python):

    total_visits > course_visits and functional_improvement != true
    'radicular' in dx_groups and service in ['physical_therapy', 'occupational_therapy']

Allowed: `and`, `or`, comparisons (== != < <= > >=, chained), `in` / `not in` (a value in a list
fact, or a fact in a literal list), `+ - *` on the right of a comparison, fact names, numbers, strings,
and the keywords `true`, `false`, `unknown`. `not` is refused: with "unknown" in play its meaning is
ambiguous; write the comparison the other way (`!=`, `not in`, `<=`).

Figures (`limit:`, `derive:` values) are arithmetic over facts: + - * //, min(), max(), numbers.

This module parses and checks both (the names, numbers and arithmetic they may hold) and evaluates
figures. What is done with a parsed condition (compiled to durable_rules JSON, read for lint) is in
engine/core/_conditions.py; message templates are in engine/core/_templates.py.
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field

from ._errors import did_you_mean

KEYWORDS = {"true", "false", "unknown"}
MAX_INT = 2**63 - 1          # durable_rules saturates integers beyond int64 (durable-rules.md §7)
MAX_EXPR_CHARS = 20_000      # a condition or figure longer than this is refused (no real rule comes close)
NUMERIC = ("int", "num")
LIST_SENTINEL = "~"          # appended to every list fact so `not in` is true for an empty list
OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
       ast.In: "in", ast.NotIn: "not in"}


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


TYPE_WORDS = {"int": "a whole number", "num": "a number", "str": "a word", "tri": "true/false/unknown",
              "list": "a list", "date": "a date"}
