"""Reading JSON safely: one JSON value under the limits of engine/core/_safeinput.py.

``load_json(text_or_bytes, source, limits=CASE_FILE, line=None) -> Any``
    One JSON value, with the guards YAML has (engine/core/_yamlpos.py): depth, duplicate keys, numbers
    that are not finite or beyond 64-bit integers, lone surrogates; raises InputError (Y001-Y009, Y013).
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

from ._errors import Problem
from ._safeinput import CASE_FILE, INT64_MAX, INT64_MIN, SURROGATE, InputError, Limits, decode

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+"|[\[\]{}]')


class _JsonRefused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _json_float(s: str) -> float:
    v = float(s)
    if not math.isfinite(v):
        raise _JsonRefused("Y009", "numbers must be finite (1e400, NaN and Infinity are not allowed)")
    return v


def _json_int(s: str) -> int:
    if len(s.lstrip("-")) > 19 or not INT64_MIN <= int(s) <= INT64_MAX:
        raise _JsonRefused("Y009", "integer beyond the 64-bit range")
    return int(s)


def _json_constant(s: str) -> NoReturn:
    raise _JsonRefused("Y009", "numbers must be finite (1e400, NaN and Infinity are not allowed)")


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            shown = k if re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", k) else None
            raise _JsonRefused("Y006", f"duplicate key '{shown}'" if shown else "duplicate key")
        out[k] = v
    return out


def json_depth_exceeds(text: str, max_depth: int) -> int | None:
    """The offset where brackets nest deeper than max_depth (outside strings), or None."""
    if text.count("[") + text.count("{") <= max_depth:
        return None
    depth = 0
    for m in _JSON_TOKEN.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > max_depth:
                return m.start()
        elif c in "]}":
            depth -= 1
    return None


# the json module's messages, in words that survive redaction (a quoted ',' would print as '…') and that
# say what to fix; the position is the Problem's line and column, never "at" with nothing after it
_JSON_WORDS = {
    "Expecting ',' delimiter": "a comma is missing between two values, or a closing bracket or brace",
    "Expecting ':' delimiter": "a colon is missing after a key",
    "Expecting property name enclosed in double quotes": "expected a key in double quotes",
    "Expecting value": "expected a value (a number, text in double quotes, true, false, null, a list or an object)",
    "Extra data": "more text after the end of the value (a .jsonl file has one case per line)",
    "Unterminated string starting at": "text in double quotes is not closed",
    "Invalid control character at": "a control character (a tab or line break) inside text in double quotes; "
                                     "write it as an escape (\\t, \\n)",
    "Invalid \\escape": "an invalid backslash escape inside text in double quotes",
}


_TRAILING_COMMA = {"Illegal trailing comma before end of object": "Expecting property name enclosed in double quotes",
                   "Illegal trailing comma before end of array": "Expecting value"}


def same_json_error(msg: str, text: str, pos: int) -> tuple[str, int]:
    """json's message and position as Python 3.11 and 3.12 give them, on every Python: 3.13 says "Illegal
    trailing comma before end of object/array" at the comma, where the earlier ones say what they expected at
    the closing brace or bracket after it (the same words and column from every Python ptcheck runs on)."""
    older = _TRAILING_COMMA.get(msg)
    if older is None or text[pos:pos + 1] != ",":
        return msg, pos
    after = pos + 1
    while after < len(text) and text[after] in " \t\r\n":
        after += 1
    return older, after


def json_error_words(msg: str, text: str, pos: int) -> str:
    """The words for a json.JSONDecodeError's msg (see _JSON_WORDS), with a hint when the text shows a comma
    just before a closing bracket or brace; an unlisted message without a dangling 'at'."""
    words = _JSON_WORDS.get(msg)
    if words is None:
        return msg[:-3] if msg.endswith(" at") else msg
    if msg in ("Expecting property name enclosed in double quotes", "Expecting value"):
        before, here = text[:pos].rstrip(), text[pos:pos + 1]
        if before.endswith(",") and here in ("}", "]"):
            words += f" (a comma before a closing {'brace' if here == '}' else 'bracket'} is not allowed)"
    return words


def load_json(data: str | bytes, source: str, limits: Limits = CASE_FILE, line: int | None = None) -> Any:
    """One JSON value; raises InputError (Y001-Y009). ``line``: the JSONL line, for messages."""
    text = decode(data, source, limits, line)

    def where(offset: int) -> tuple[int | None, int | None]:
        if line is not None:
            return line, offset + 1
        return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1

    deep = json_depth_exceeds(text, limits.max_depth)
    if deep is not None:
        ln, col = where(deep)
        raise InputError("too deep", [Problem(f"nesting deeper than {limits.max_depth} levels",
                                              file=source, line=ln, column=col, code="Y004")])
    try:
        data = json.loads(text, parse_float=_json_float, parse_int=_json_int, parse_constant=_json_constant,
                          object_pairs_hook=_json_pairs)
    except json.JSONDecodeError as e:
        msg, pos = same_json_error(e.msg, e.doc, e.pos)
        col = pos - (e.doc.rfind("\n", 0, pos) + 1) + 1
        ln = line if line is not None else e.doc.count("\n", 0, pos) + 1
        raise InputError("invalid JSON", [Problem(f"invalid JSON: {json_error_words(msg, e.doc, pos)}", file=source, line=ln,
                                                  column=col, code="Y001")]) from None
    except _JsonRefused as r:
        raise InputError(r.message, [Problem(r.message, file=source, line=line, code=r.code)]) from None
    except (RecursionError, ValueError) as e:          # belt and braces: the depth scan should stop these
        raise InputError("invalid JSON", [Problem(f"invalid JSON: {type(e).__name__}", file=source, line=line,
                                                  code="Y001")]) from None
    if "\\u" in text:                                   # only an escape can give a lone surrogate
        for m in _JSON_SURROGATE.finditer(text):
            if _has_surrogate(data):
                ln, col = where(m.start())
                raise InputError("not Unicode", [Problem(
                    "text that is not valid Unicode (a lone surrogate escape such as \\ud800); write the "
                    "character itself or a valid pair of escapes", file=source, line=ln, column=col, code="Y013")])
            break
    return data


_JSON_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _has_surrogate(data: Any) -> bool:
    """Whether any text (key or value) in the parsed JSON holds a lone surrogate; iterative."""
    todo = [data]
    while todo:
        v = todo.pop()
        if isinstance(v, str):
            if SURROGATE.search(v):
                return True
        elif isinstance(v, dict):
            todo.extend(v.keys())
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
    return False
