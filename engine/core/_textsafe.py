"""Text hygiene for everything ptcheck prints: case-derived strings are made inert (no terminal escape
sequences, no line breaks inside a one-line message) and free text from a case is kept out of errors.

    printable("case\x1b[2J")      -> 'case\\x1b[2J'   (the escape shown, not executed)
    redact("request text 'PT for J. Doe 2x4' gives ...") -> "request text '…' gives ..."

ptcheck's own messages quote the offending input value in places (an unknown key, an invalid code, the
text of a request that contradicts itself). `redact` keeps a quoted value only when it is one word of
letters, digits and underscores (a key name or an enumerated value such as 'neck' or 'vists'); any
other quoted value (free text, dates, numbers, codes) becomes '…'. The field path next to the message
says where to look.
"""
from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidirectional overrides that can
# reorder or hide what a terminal shows
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_QUOTED = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
REDACTED = "…"


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    if m.group() in _NAMED:
        return _NAMED[m.group()]
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def printable(s: object) -> str:
    """str(s) with every control character shown as an escape (\\x1b, \\n, \\u202e): one inert line."""
    return _CONTROL.sub(_escape, str(s))


def _keep_or_hide(m: re.Match[str]) -> str:
    q = m.group()
    return q if _WORD.fullmatch(q[1:-1]) else q[0] + REDACTED + q[-1]


def redact(message: str) -> str:
    """The message with quoted input values hidden unless they are a single word (see the module doc)."""
    return _QUOTED.sub(_keep_or_hide, message)


__all__ = ["REDACTED", "printable", "redact"]
