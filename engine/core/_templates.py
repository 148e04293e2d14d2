"""Message templates of rule files: a closed format language.

    {fact}            the fact as shown in a rationale (unknown facts show as "unknown")
    {fact:>N} {fact:<N} {fact:^N} {fact:N}     padded to width N, N at most MAX_WIDTH
    {{ and }}         literal braces

Nothing else: no attribute or index ({a.b}, {a[0]}), no conversion ({a!r}), no positional {} or {0},
no nested or other format specs. The renderer shows an unknown number as the word "unknown", so a
numeric spec (:d, :.1f) could fail on it at run time: those are refused, not risked.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ._expr import ExprError

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


@functools.lru_cache(maxsize=4096)
def template_names(template: str) -> frozenset[str]:
    """The fact names a message template renders: '{total_visits} of {course_visits}' -> both."""
    return frozenset(f.name for f in parse_template(template)[0])
