"""Bytes to text under limits: the size, encoding and problem codes every YAML and JSON read shares.

``decode(data, source, limits) -> str``
    Bytes to text: UTF-8 (a BOM is dropped), UTF-16/UTF-32 with a BOM; anything else is an error.

The readers built on it: engine/core/_yamlpos.py (YAML, and positions in YAML documents) and
engine/core/_safejson.py (JSON).

Problem codes (shared by cases and rule files):
  Y001 invalid YAML or JSON syntax      Y002 not text (invalid UTF-8, binary data)
  Y003 input larger than the limit      Y004 nesting deeper than the limit
  Y005 alias expansion too large, recursive alias, or too many nodes
  Y006 duplicate key                    Y007 tag not allowed
  Y008 key that is not a plain value    Y009 number not finite or beyond 64-bit integers
  Y010 impossible date                 Y011 number not written in plain decimal digits
  Y012 a tagged value that its tag cannot read (``!!bool maybe``, ``!!timestamp abc``)
  Y013 text that is not valid Unicode (a lone surrogate such as ``\\ud800``)

Numbers are read as JSON and YAML 1.2 write them: a whole number in decimal digits (``010`` is not octal
8, ``1:30`` is not sexagesimal 90, ``0x10``, ``0b1``, ``1_000`` are refused, Y011); an explicitly tagged
scalar must be written as its tag's type reads it (``!!int abc`` is Y012, never a guess).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ._errors import Problem, PtcheckError

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


@dataclass(frozen=True)
class Limits:
    """How much one input may hold. ``what`` names the input in messages ("case file", ...)."""

    what: str
    max_bytes: int
    max_depth: int = 64
    max_nodes: int = 200_000        # per document, every alias counted as a full copy


CASE_FILE = Limits("case file", 16 * 2 ** 20)
RULE_FILE = Limits("rule file", 4 * 2 ** 20)
JSONL_LINE = Limits("JSONL line", 2 ** 20, max_nodes=100_000)


class InputError(PtcheckError):
    """Input that cannot be read as YAML or JSON under the limits."""



SURROGATE = re.compile("[\ud800-\udfff]")       # a lone surrogate: text that is not valid Unicode


# ---------------------------------------------------------------------------------------------
# decoding and size

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def too_large(source: str, limits: Limits, line: int | None = None) -> Problem:
    return Problem(f"{limits.what} is larger than the limit of {_size(limits.max_bytes)} for a {limits.what}",
                   file=source, line=line, code="Y003")


def decode(data: str | bytes, source: str, limits: Limits, line: int | None = None) -> str:
    """Text of the input; raises InputError (Y002 not text, Y003 too large)."""
    if len(data) > limits.max_bytes:
        raise InputError("too large", [too_large(source, limits, line)])
    if isinstance(data, str):
        text = data[1:] if data.startswith("\ufeff") else data
    else:
        for bom, enc in _BOMS:
            if data.startswith(bom):
                try:
                    text = data.decode(enc)
                except UnicodeDecodeError as e:
                    raise InputError("not text", [Problem(
                        f"not valid {enc.upper().replace('-SIG', '')} text (byte {e.start})",
                        file=source, line=line, code="Y002")]) from None
                break
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as e:
                at = line if line is not None else data.count(b"\n", 0, e.start) + 1
                col = None if line is not None else e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
                raise InputError("not text", [Problem(
                    "not UTF-8 text (an invalid byte; save the file as UTF-8)",
                    file=source, line=at, column=col, code="Y002")]) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise InputError("binary", [Problem("binary data, not text (a NUL byte)", file=source,
                                            line=line if line is not None else text.count("\n", 0, nul) + 1,
                                            code="Y002")])
    return text


def _size(n: int) -> str:
    return f"{n // 2 ** 20} MiB" if n % 2 ** 20 == 0 else f"{n} bytes"
