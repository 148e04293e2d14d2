"""Composing one YAML document from pyyaml's events, iteratively and under every guard of
engine/core/_yamlpos.py (its module docstring lists them): the nodes with their positions and the values,
or `Refused` with a problem code and the mark where reading stopped.

``compose(loader, source, offset, limits, text) -> (node, data)``: (None, None) for an empty document.
"""
from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import yaml

from ._safeinput import INT64_MAX, INT64_MIN, SURROGATE, Limits

try:                                            # the C parser when pyyaml was built with libyaml
    from yaml import CSafeLoader as Loader
except ImportError:                             # pragma: no cover - depends on the build
    from yaml import SafeLoader as Loader  # type: ignore[assignment]  # mypy takes the C one as the type
if TYPE_CHECKING:                               # _Mark: the stub's name for a parser's mark (Python or libyaml)
    from yaml.events import _Mark

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("null", "bool", "int", "float", "str", "timestamp")}
_SEQ, _MAP, _MERGE = _CORE + "seq", _CORE + "map", _CORE + "merge"
_FLOAT12 = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_SAFE_TAG = re.compile(r"^[!A-Za-z0-9:/._-]{1,60}$")
_DECIMAL_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_DECIMAL_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$")
# how the resolver recognises each plain type: an explicitly tagged scalar must read as its tag's type
_IMPLICIT: dict[str, list[re.Pattern[str]]] = {}
for _first in yaml.resolver.Resolver.yaml_implicit_resolvers.values():
    for _tag, _rx in _first:
        if _rx not in _IMPLICIT.setdefault(_tag, []):
            _IMPLICIT[_tag].append(_rx)


class Refused(Exception):
    def __init__(self, code: str, message: str, mk: _Mark | None):
        super().__init__(message)
        self.code, self.message, self.mark = code, message, mk


def marked(m: _Mark | None) -> _Mark:
    assert m is not None                        # the parser marks every event; the stub allows None
    return m


class _Frame:
    __slots__ = ("node", "data", "size", "key", "anchor", "merges", "keys")

    def __init__(self, node: yaml.CollectionNode, data: list[Any] | dict[Any, Any], anchor: str | None):
        self.node, self.data, self.anchor = node, data, anchor
        self.size, self.keys = 1, None
        self.key: tuple[yaml.Node, Any] | None = None          # a mapping's key whose value comes next
        self.merges: list[dict[Any, Any]] | None = None        # the mappings merged in with '<<'


def compose(loader: Loader, source: str, offset: int, limits: Limits, text: str = "") -> tuple[yaml.Node | None, Any]:
    """Compose and construct one document from the event stream, iteratively, with every guard.

    Returns (None, None) for an empty document."""
    anchors: dict[str, tuple[yaml.Node, Any, int]] = {}
    open_anchors: set[str] = set()
    stack: list[_Frame] = []
    result: list[tuple[yaml.Node, Any, int]] = []

    def mk(m: _Mark | None) -> yaml.Mark:
        m = marked(m)                           # buffer: positions in scalars; pointer None (the stub says int):
        return yaml.Mark(source, m.index, m.line + offset, m.column,          # no snippet is ever made of it
                         text or None, None)  # type: ignore[arg-type]  # pointer None: see above

    def attach(node: yaml.Node, value: Any, size: int, ev: yaml.Event) -> None:
        if not stack:
            result.append((node, value, size))
            return
        f = stack[-1]
        f.size += size
        if f.size > limits.max_nodes:
            raise Refused("Y005", f"document too large: more than {limits.max_nodes:,} values "
                                  f"(aliases counted as copies) in a {limits.what}", ev.start_mark)
        if isinstance(f.data, list):                      # the frame of a sequence node
            f.node.value.append(node)
            f.data.append(value)
            return
        if f.key is None:
            if not isinstance(node, yaml.ScalarNode):
                raise Refused("Y008", "a mapping key must be a plain value, not a list or mapping",
                              ev.start_mark)
            f.key = (node, value)
            return
        knode, kval = f.key
        f.key = None
        f.node.value.append((knode, node))
        if knode.tag == _MERGE:
            if not (isinstance(value, dict) or (isinstance(value, list) and all(isinstance(v, dict) for v in value))):
                raise Refused("Y001", "invalid YAML: a merge key '<<' needs a mapping or a list of mappings",
                              knode.start_mark)
            f.merges = (f.merges or []) + ([value] if isinstance(value, dict) else list(value))
            return
        if kval in f.data:
            k = kval if isinstance(kval, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", kval) else None
            first = next((kn for kn, _ in f.node.value[:-1] if kn.tag != _MERGE and _same_key(kn, knode)), None)
            where = f" (first at line {first.start_mark.line + 1})" if first is not None else ""
            raise Refused("Y006", (f"duplicate key '{k}'" if k else "duplicate key") + where, knode.start_mark)
        f.data[kval] = value

    while True:
        ev = loader.get_event()
        if isinstance(ev, yaml.DocumentEndEvent):
            break
        if isinstance(ev, yaml.AliasEvent):
            if ev.anchor in open_anchors:
                raise Refused("Y005", "recursive alias (an anchor used inside itself)", ev.start_mark)
            if ev.anchor not in anchors:
                raise Refused("Y001", "invalid YAML: alias to an undefined anchor", ev.start_mark)
            node, value, size = anchors[ev.anchor]
            attach(node, value, size, ev)
        elif isinstance(ev, yaml.ScalarEvent):
            tag = ev.tag
            if tag is None or tag == "!":
                # the stub leaves Resolver.resolve unannotated: hence the ignore here and below
                tag = loader.resolve(yaml.ScalarNode, ev.value, ev.implicit)  # type: ignore[no-untyped-call]
            node = yaml.ScalarNode(tag, ev.value, mk(ev.start_mark), mk(ev.end_mark), style=ev.style)
            if not stack and not result and ev.value == "" and ev.tag is None and ev.anchor is None \
                    and not ev.style and loader.check_event(yaml.DocumentEndEvent):
                loader.get_event()
                return None, None                                   # an empty document
            is_key = bool(stack) and isinstance(stack[-1].node, yaml.MappingNode) and stack[-1].key is None
            value = _scalar(loader, node, ev, is_key)
            if ev.anchor is not None:
                anchors[ev.anchor] = (node, value, 1)
            attach(node, value, 1, ev)
        elif isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(stack) >= limits.max_depth:
                raise Refused("Y004", f"nesting deeper than {limits.max_depth} levels", ev.start_mark)
            seq = isinstance(ev, yaml.SequenceStartEvent)
            tag = ev.tag
            if tag is None or tag == "!":
                kind = yaml.SequenceNode if seq else yaml.MappingNode
                tag = loader.resolve(kind, None, ev.implicit)  # type: ignore[no-untyped-call]  # as above
            if tag != (_SEQ if seq else _MAP):
                raise Refused("Y007", _tag_message(tag), ev.start_mark)
            node = (yaml.SequenceNode if seq else yaml.MappingNode)(
                tag, [], mk(ev.start_mark), None, flow_style=ev.flow_style)
            if ev.anchor is not None:
                open_anchors.add(ev.anchor)
            stack.append(_Frame(node, [] if seq else {}, ev.anchor))
        elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            f = stack.pop()
            f.node.end_mark = mk(ev.end_mark)
            if f.merges:
                merged: dict[Any, Any] = {}
                for m in reversed(f.merges):
                    merged.update(m)
                merged.update(f.data)
                f.data = merged
            if f.anchor is not None:
                open_anchors.discard(f.anchor)
                anchors[f.anchor] = (f.node, f.data, f.size)
            attach(f.node, f.data, f.size, ev)
        else:                                                        # pragma: no cover - parser guarantees
            raise Refused("Y001", f"invalid YAML: unexpected {type(ev).__name__}",
                          ev.start_mark if ev is not None else None)
    node, value, _ = result[0]
    return node, value


def _same_key(a: yaml.Node, b: yaml.Node) -> bool:
    return isinstance(a, yaml.ScalarNode) and a.tag == b.tag and a.value == b.value


def _tag_message(tag: str) -> str:
    shown = tag.replace("tag:yaml.org,2002:", "!!")
    return (f"tag '{shown}' is not allowed" if _SAFE_TAG.match(shown) else "this tag is not allowed") + \
        " (only plain YAML values: text, numbers, true/false, null, dates, lists and mappings)"


def _scalar(loader: Loader, node: yaml.ScalarNode, ev: yaml.ScalarEvent, is_key: bool) -> Any:
    tag = node.tag
    if tag == _MERGE:
        if is_key:
            return "<<"
        raise Refused("Y007", _tag_message(tag), ev.start_mark)
    if tag not in _SCALAR_TAGS:
        raise Refused("Y007", _tag_message(tag), ev.start_mark)
    explicit = ev.tag is not None and ev.tag != "!"
    if explicit and tag != _CORE + "str" and not any(rx.match(node.value) for rx in _IMPLICIT.get(tag, ())):
        shown = tag.replace(_CORE, "!!")
        raise Refused("Y012", f"the value tagged {shown} is not written as a {_TYPE_WORDS.get(shown, shown)}; "
                              "remove the tag or write the value as that type", ev.start_mark)
    if tag == _CORE + "str" and not ev.style and _FLOAT12.match(node.value) \
            and not math.isfinite(float(node.value.replace("_", ""))):
        # '1e400' is text in YAML 1.1 but a number in YAML 1.2 and to every reader; refuse it as one
        raise Refused("Y009", "numbers must be finite (.inf, .nan and values beyond the float range "
                              "are not allowed)", ev.start_mark)
    if tag == _CORE + "int" and not _DECIMAL_INT.match(node.value):
        raise Refused("Y011", "write a whole number in plain decimal digits (a leading 0 is not octal, "
                              "1:30 is not 90, no 0x/0o/0b prefixes or _ separators); quote it if it is text",
                      ev.start_mark)
    if tag == _CORE + "float" and not _DECIMAL_FLOAT.match(node.value):
        raise Refused("Y011", "write a number in plain decimal digits (no 1:30 sexagesimal form or _ "
                              "separators); quote it if it is text", ev.start_mark)
    try:
        value = loader.yaml_constructors[tag](loader, node)
    except (ValueError, OverflowError, yaml.constructor.ConstructorError, KeyError, AttributeError, TypeError):
        if tag == _CORE + "timestamp":
            raise Refused("Y010", "not a valid date (no such day or month); quote it if it is text",
                          ev.start_mark) from None
        if tag in (_CORE + "int", _CORE + "float"):
            raise Refused("Y009", "a number that cannot be read (too many digits)", ev.start_mark) from None
        raise Refused("Y012", "a value that cannot be read as its type; quote it if it is text",
                      ev.start_mark) from None
    if isinstance(value, str) and SURROGATE.search(value):
        raise Refused("Y013", "text that is not valid Unicode (a lone surrogate escape such as \\ud800); "
                              "write the character itself or a valid pair of escapes", ev.start_mark)
    if isinstance(value, float) and not math.isfinite(value):
        raise Refused("Y009", "numbers must be finite (.inf, .nan and values beyond the float range "
                              "are not allowed)", ev.start_mark)
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        raise Refused("Y009", "integer beyond the 64-bit range", ev.start_mark)
    return value


_TYPE_WORDS = {"!!bool": "true/false", "!!int": "whole number", "!!float": "number", "!!null": "null",
               "!!timestamp": "date (YYYY-MM-DD)"}


__all__ = ["Loader", "Refused", "compose", "marked"]
