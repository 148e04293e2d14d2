"""Positions of characters in rule conditions and messages: line and column in the rule file, also inside
the rule set's `applies_when` and inside scalars that span lines (YAML's folding replayed).
"""
from __future__ import annotations

import yaml

from ._ruleset import RuleSet
from ._yamlpos import has, node_at


def expr_position(rs: RuleSet, index: int, offset: int, key: str = "when") -> tuple[int | None, int | None]:
    """Line and column of a character of a rule's condition (or message), both 1-based. Exact for scalars on
    one line; for a scalar spanning lines, the character is found by replaying how YAML folds the lines."""
    if rs.node is None:
        return None, None
    o = rs.origin(index)
    if o.kind == "row" or o.path is None:            # a table row's condition is made from its cells
        return rs.at(index, key)
    if key == "when":
        if offset < o.prefix:                         # inside the rule set's applies_when
            n = node_at(rs.node, ["applies_when"])
            off = max(0, offset - 1)
            if n.start_mark.line == n.end_mark.line and getattr(n, "style", None) not in ("|", ">"):
                q = 1 if getattr(n, "style", None) in ('"', "'") else 0
                return n.start_mark.line + 1, n.start_mark.column + 1 + q + off
            return n.start_mark.line + 1, n.start_mark.column + 1
        offset -= o.prefix
    if not has(rs.node, [*o.path, key]):
        return rs.at(index, key)
    n = node_at(rs.node, [*o.path, key])
    line, col = n.start_mark.line + 1, n.start_mark.column + 1
    style = getattr(n, "style", None)
    if n.start_mark.line == n.end_mark.line and style not in ("|", ">"):
        return line, col + (1 if style in ('"', "'") else 0) + offset
    pos = _scalar_positions(n)
    if pos is not None and 0 <= offset < len(pos):
        return pos[offset]
    return (line + 1, None) if style in ("|", ">") else (line, col)


def _scalar_positions(n: yaml.Node) -> list[tuple[int, int]] | None:
    """(line, column) of every character of a multi-line scalar's value, or None when the replay of the
    folding does not reproduce the value (escapes, unusual indentation): then the caller gives the start."""
    buf = n.start_mark.buffer
    value = getattr(n, "value", None)
    if not buf or not isinstance(value, str):
        return None
    style = getattr(n, "style", None)
    src = buf[n.start_mark.index:n.end_mark.index]
    lines = src.split("\n")
    first_line = n.start_mark.line + 1
    out: list[tuple[int, int]] = []
    text = ""
    if style in ("|", ">"):
        body = [(first_line + 1 + k, ln) for k, ln in enumerate(lines[1:])]
        indent = min((len(ln) - len(ln.lstrip(" ")) for _, ln in body if ln.strip()), default=0)
        prev_blank = True
        for lno, ln in body:
            content = ln[indent:]
            if not ln.strip():
                text += "\n"
                out.append((lno, 1))
                prev_blank = True
                continue
            if text and not prev_blank:
                text += "\n" if style == "|" else " "
                out.append((lno, indent + 1))
            for c_i, ch in enumerate(content):
                text += ch
                out.append((lno, indent + 1 + c_i))
            prev_blank = False
    else:
        q = 1 if style in ('"', "'") else 0
        for k, ln in enumerate(lines):
            lno = first_line + k
            start_col = n.start_mark.column + 1 + q if k == 0 else len(ln) - len(ln.lstrip()) + 1
            content = ln[q:] if k == 0 else ln.lstrip()
            if k == len(lines) - 1 and q:
                content = content[:-1] if content.endswith(("'", '"')) else content
            if k:
                text += " "
                out.append((lno, start_col))
            for c_i, ch in enumerate(content.rstrip() if k < len(lines) - 1 else content):
                text += ch
                out.append((lno, start_col + c_i))
    if text.rstrip("\n") != value.rstrip("\n"):
        return None
    return out


