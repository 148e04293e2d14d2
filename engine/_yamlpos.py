"""Positions in YAML documents: the line and column of a field path, from the composed node tree."""
from __future__ import annotations

from collections.abc import Iterable

import yaml


def dotted(loc: Iterable) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def node_at(node: yaml.Node, loc: list, *, key: bool = False) -> yaml.Node:
    """The deepest node on loc; with key=True, the key node of the last mapping entry (for 'unknown key')."""
    cur = node
    for i, part in enumerate(loc):
        nxt = None
        if isinstance(cur, yaml.MappingNode):
            for k, v in cur.value:
                if k.value == str(part):
                    nxt = k if (key and i == len(loc) - 1) else v
                    break
        elif isinstance(cur, yaml.SequenceNode) and isinstance(part, int) and part < len(cur.value):
            nxt = cur.value[part]
        if nxt is None:
            break
        cur = nxt
    return cur


def mark(node: yaml.Node, loc: list, *, key: bool = False) -> tuple[int, int]:
    """(line, column), both 1-based."""
    n = node_at(node, loc, key=key)
    return n.start_mark.line + 1, n.start_mark.column + 1
