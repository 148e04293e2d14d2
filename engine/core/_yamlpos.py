"""Reading YAML and JSON input safely, and positions in YAML documents.

Every YAML read in the package goes through this module (cases, rule files, rules/diagnoses.yaml).

Public within the package:

``iter_yaml(text_or_bytes, source, limits=CASE_FILE) -> Iterator[Document]``
    Every non-empty document of a (multi-document) YAML stream, one at a time. A document that cannot
    be read is yielded with ``problem`` set (file, line, column, code) and the stream goes on with the
    next document: one bad document never ends the batch. Empty documents (a trailing ``---``) are
    skipped. Input that cannot be read at all (too large, not text) is one Document with a problem.

``load_yaml(text_or_bytes, source, limits=RULE_FILE) -> list[tuple[yaml.Node, Any]]``
    All documents as (node, data); raises InputError (a PtcheckError carrying the Problems) on the
    first document that cannot be read. For rule files and other single-owner files.

``load_json(text_or_bytes, source, limits=CASE_FILE, line=None) -> Any``
    One JSON value, with the same guards; raises InputError.

``decode(data, source, limits) -> str``
    Bytes to text: UTF-8 (a BOM is dropped), UTF-16/UTF-32 with a BOM; anything else is an error.

The guards hold with pyyaml's C parser (used when available) and with the pure-Python one: events
are composed here, without recursion, so nesting deeper than ``max_depth`` is refused before anything
recursive runs; aliases are counted as full copies (``max_nodes``) and recursive aliases refused, so
an alias bomb is refused in milliseconds; duplicate keys, non-scalar keys, unknown tags (``!!python/``
and every other tag outside the YAML core schema), numbers that are not finite or beyond 64-bit
integers, and impossible dates are errors with file:line:column. Messages never echo document content.

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

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from ._errors import Problem, PtcheckError

try:                                            # the C parser when pyyaml was built with libyaml
    from yaml import CSafeLoader as _Loader
except ImportError:                             # pragma: no cover - depends on the build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

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


@dataclass
class Document:
    """One document of a stream: (node, data), or the problem that stops it from being read."""

    index: int                      # 0-based position in the stream (empty documents count)
    line: int | None                # 1-based line where the document starts
    node: yaml.Node | None = None
    data: Any = None
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


# ---------------------------------------------------------------------------------------------
# positions


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


# ---------------------------------------------------------------------------------------------
# YAML

# A line that starts a document. Inside a scalar such a line is not allowed (YAML 1.1, c-forbidden),
# so a stream can be cut there and each document read on its own.
_DOC_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.M)
_CONTENT_LINE = re.compile(r"^[ \t]*[^ \t\r\n#%]", re.M)

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("null", "bool", "int", "float", "str", "timestamp")}
_SEQ, _MAP, _MERGE = _CORE + "seq", _CORE + "map", _CORE + "merge"
_FLOAT12 = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_SAFE_TAG = re.compile(r"^[!A-Za-z0-9:/._-]{1,60}$")
_DECIMAL_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_DECIMAL_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$")
_SURROGATE = re.compile("[\ud800-\udfff]")
# how the resolver recognises each plain type: an explicitly tagged scalar must read as its tag's type
_IMPLICIT: dict[str, list[re.Pattern]] = {}
for _first in yaml.resolver.Resolver.yaml_implicit_resolvers.values():
    for _tag, _rx in _first:
        if _rx not in _IMPLICIT.setdefault(_tag, []):
            _IMPLICIT[_tag].append(_rx)


class _Refused(Exception):
    def __init__(self, code: str, message: str, mk: Any):
        super().__init__(message)
        self.code, self.message, self.mark = code, message, mk


def iter_yaml(data: str | bytes, source: str, limits: Limits = CASE_FILE) -> Iterator[Document]:
    """Every non-empty document of a YAML stream; see the module docstring."""
    try:
        text = decode(data, source, limits)
    except InputError as e:
        yield Document(0, e.problems[0].line, problem=e.problems[0])
        return
    index = 0
    for offset, chunk in _chunks(text):
        for doc in _read_chunk(chunk, offset, index, source, limits):
            index = doc.index + 1
            if doc.problem is not None or doc.node is not None:     # empty documents are skipped
                yield doc


def load_yaml(data: str | bytes, source: str, limits: Limits = RULE_FILE) -> list[tuple[yaml.Node, Any]]:
    """All documents as (node, data); raises InputError on the first one that cannot be read."""
    out = []
    for doc in iter_yaml(data, source, limits):
        if doc.problem is not None:
            raise InputError(str(doc.problem), [doc.problem])
        out.append((doc.node, doc.data))
    return out


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """(line offset, text) of each piece of the stream that starts a document."""
    starts = [m.start() for m in _DOC_START.finditer(text)]
    if not starts or starts[0] != 0:
        # text before the first '---': a document of its own, unless it is only comments/directives
        if not starts or _CONTENT_LINE.search(text, 0, starts[0]):
            starts.insert(0, 0)
        else:
            starts[0] = 0
    line = 0
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else len(text)
        yield line, text[s:e]
        line += text.count("\n", s, e)


def _read_chunk(chunk: str, offset: int, index: int, source: str, limits: Limits) -> list[Document]:
    docs: list[Document] = []
    loader = None
    try:
        loader = _Loader(chunk)
        while loader.check_event():
            ev = loader.get_event()
            if isinstance(ev, yaml.DocumentStartEvent):
                line = ev.start_mark.line + offset + 1
                docs.append(Document(index, line))
                node, data = _compose(loader, source, offset, limits, chunk)
                docs[-1].node, docs[-1].data = node, data
                if node is not None:                      # the document's first line of content
                    docs[-1].line = node.start_mark.line + 1
                index += 1
    except _Refused as r:
        line, col = (r.mark.line + offset + 1, r.mark.column + 1) if r.mark is not None else (None, None)
        docs = _failed(docs, index, offset, Problem(r.message, file=source, line=line, column=col, code=r.code))
    except yaml.MarkedYAMLError as e:
        pm = e.problem_mark or e.context_mark
        what = e.problem or e.context or "unreadable"
        deep = "nesting depth" in what                    # libyaml's own limit (1000) can come first
        docs = _failed(docs, index, offset, Problem(
            f"nesting deeper than {limits.max_depth} levels" if deep else f"invalid YAML: {what}",
            file=source, line=pm.line + offset + 1 if pm else None,
            column=pm.column + 1 if pm else None, code="Y004" if deep else "Y001"))
    except yaml.reader.ReaderError as e:
        line = chunk.count("\n", 0, e.position) + offset + 1
        docs = _failed(docs, index, offset, Problem(
            f"not text: character #x{e.character:04x} is not allowed in YAML" if isinstance(e.character, int)
            else f"not text: {e.reason}", file=source, line=line, code="Y002"))
    except yaml.YAMLError as e:
        docs = _failed(docs, index, offset, Problem(f"invalid YAML: {type(e).__name__}", file=source,
                                                    line=offset + 1, code="Y001"))
    finally:
        if loader is not None:
            loader.dispose()
    return docs


def _failed(docs: list[Document], index: int, offset: int, problem: Problem) -> list[Document]:
    """The chunk's documents with the one being read replaced by its problem."""
    if docs and docs[-1].node is None:
        docs[-1].problem = problem
        return docs
    return docs + [Document(index, problem.line or offset + 1, problem=problem)]


class _Frame:
    __slots__ = ("node", "data", "size", "key", "anchor", "merges", "keys")

    def __init__(self, node, data, anchor):
        self.node, self.data, self.anchor = node, data, anchor
        self.size, self.key, self.merges, self.keys = 1, None, None, None


def _compose(loader, source: str, offset: int, limits: Limits, text: str = "") -> tuple[yaml.Node | None, Any]:
    """Compose and construct one document from the event stream, iteratively, with every guard.

    Returns (None, None) for an empty document."""
    anchors: dict[str, tuple[yaml.Node, Any, int]] = {}
    open_anchors: set[str] = set()
    stack: list[_Frame] = []
    result: list = []

    def mk(m):
        return yaml.Mark(source, m.index, m.line + offset, m.column, text or None, None)   # buffer: positions in scalars

    def attach(node, value, size, ev):
        if not stack:
            result.append((node, value, size))
            return
        f = stack[-1]
        f.size += size
        if f.size > limits.max_nodes:
            raise _Refused("Y005", f"document too large: more than {limits.max_nodes:,} values "
                                   f"(aliases counted as copies) in a {limits.what}", ev.start_mark)
        if isinstance(f.node, yaml.SequenceNode):
            f.node.value.append(node)
            f.data.append(value)
            return
        if f.key is None:
            if not isinstance(node, yaml.ScalarNode):
                raise _Refused("Y008", "a mapping key must be a plain value, not a list or mapping",
                               ev.start_mark)
            f.key = (node, value)
            return
        knode, kval = f.key
        f.key = None
        f.node.value.append((knode, node))
        if knode.tag == _MERGE:
            if not (isinstance(value, dict) or (isinstance(value, list) and all(isinstance(v, dict) for v in value))):
                raise _Refused("Y001", "invalid YAML: a merge key '<<' needs a mapping or a list of mappings",
                               knode.start_mark)
            f.merges = (f.merges or []) + ([value] if isinstance(value, dict) else list(value))
            return
        if kval in f.data:
            k = kval if isinstance(kval, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", kval) else None
            first = next((kn for kn, _ in f.node.value[:-1] if kn.tag != _MERGE and _same_key(kn, knode)), None)
            where = f" (first at line {first.start_mark.line + 1})" if first is not None else ""
            raise _Refused("Y006", (f"duplicate key '{k}'" if k else "duplicate key") + where, knode.start_mark)
        f.data[kval] = value

    while True:
        ev = loader.get_event()
        if isinstance(ev, yaml.DocumentEndEvent):
            break
        if isinstance(ev, yaml.AliasEvent):
            if ev.anchor in open_anchors:
                raise _Refused("Y005", "recursive alias (an anchor used inside itself)", ev.start_mark)
            if ev.anchor not in anchors:
                raise _Refused("Y001", "invalid YAML: alias to an undefined anchor", ev.start_mark)
            node, value, size = anchors[ev.anchor]
            attach(node, value, size, ev)
        elif isinstance(ev, yaml.ScalarEvent):
            tag = ev.tag
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.ScalarNode, ev.value, ev.implicit)
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
                raise _Refused("Y004", f"nesting deeper than {limits.max_depth} levels", ev.start_mark)
            seq = isinstance(ev, yaml.SequenceStartEvent)
            tag = ev.tag
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.SequenceNode if seq else yaml.MappingNode, None, ev.implicit)
            if tag != (_SEQ if seq else _MAP):
                raise _Refused("Y007", _tag_message(tag), ev.start_mark)
            node = (yaml.SequenceNode if seq else yaml.MappingNode)(
                tag, [], mk(ev.start_mark), None, flow_style=ev.flow_style)
            if ev.anchor is not None:
                open_anchors.add(ev.anchor)
            stack.append(_Frame(node, [] if seq else {}, ev.anchor))
        elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            f = stack.pop()
            f.node.end_mark = mk(ev.end_mark)
            if f.merges:
                merged: dict = {}
                for m in reversed(f.merges):
                    merged.update(m)
                merged.update(f.data)
                f.data = merged
            if f.anchor is not None:
                open_anchors.discard(f.anchor)
                anchors[f.anchor] = (f.node, f.data, f.size)
            attach(f.node, f.data, f.size, ev)
        else:                                                        # pragma: no cover - parser guarantees
            raise _Refused("Y001", f"invalid YAML: unexpected {type(ev).__name__}", ev.start_mark)
    node, value, _ = result[0]
    return node, value


def _same_key(a: yaml.Node, b: yaml.Node) -> bool:
    return isinstance(a, yaml.ScalarNode) and a.tag == b.tag and a.value == b.value


def _tag_message(tag: str) -> str:
    shown = tag.replace("tag:yaml.org,2002:", "!!")
    return (f"tag '{shown}' is not allowed" if _SAFE_TAG.match(shown) else "this tag is not allowed") + \
        " (only plain YAML values: text, numbers, true/false, null, dates, lists and mappings)"


def _scalar(loader, node: yaml.ScalarNode, ev, is_key: bool) -> Any:
    tag = node.tag
    if tag == _MERGE:
        if is_key:
            return "<<"
        raise _Refused("Y007", _tag_message(tag), ev.start_mark)
    if tag not in _SCALAR_TAGS:
        raise _Refused("Y007", _tag_message(tag), ev.start_mark)
    explicit = ev.tag is not None and ev.tag != "!"
    if explicit and tag != _CORE + "str" and not any(rx.match(node.value) for rx in _IMPLICIT.get(tag, ())):
        shown = tag.replace(_CORE, "!!")
        raise _Refused("Y012", f"the value tagged {shown} is not written as a {_TYPE_WORDS.get(shown, shown)}; "
                               "remove the tag or write the value as that type", ev.start_mark)
    if tag == _CORE + "str" and not ev.style and _FLOAT12.match(node.value) \
            and not math.isfinite(float(node.value.replace("_", ""))):
        # '1e400' is text in YAML 1.1 but a number in YAML 1.2 and to every reader; refuse it as one
        raise _Refused("Y009", "numbers must be finite (.inf, .nan and values beyond the float range "
                               "are not allowed)", ev.start_mark)
    if tag == _CORE + "int" and not _DECIMAL_INT.match(node.value):
        raise _Refused("Y011", "write a whole number in plain decimal digits (a leading 0 is not octal, "
                               "1:30 is not 90, no 0x/0o/0b prefixes or _ separators); quote it if it is text",
                       ev.start_mark)
    if tag == _CORE + "float" and not _DECIMAL_FLOAT.match(node.value):
        raise _Refused("Y011", "write a number in plain decimal digits (no 1:30 sexagesimal form or _ "
                               "separators); quote it if it is text", ev.start_mark)
    try:
        value = loader.yaml_constructors[tag](loader, node)
    except (ValueError, OverflowError, yaml.constructor.ConstructorError, KeyError, AttributeError, TypeError):
        if tag == _CORE + "timestamp":
            raise _Refused("Y010", "not a valid date (no such day or month); quote it if it is text",
                           ev.start_mark) from None
        if tag in (_CORE + "int", _CORE + "float"):
            raise _Refused("Y009", "a number that cannot be read (too many digits)", ev.start_mark) from None
        raise _Refused("Y012", "a value that cannot be read as its type; quote it if it is text",
                       ev.start_mark) from None
    if isinstance(value, str) and _SURROGATE.search(value):
        raise _Refused("Y013", "text that is not valid Unicode (a lone surrogate escape such as \\ud800); "
                               "write the character itself or a valid pair of escapes", ev.start_mark)
    if isinstance(value, float) and not math.isfinite(value):
        raise _Refused("Y009", "numbers must be finite (.inf, .nan and values beyond the float range "
                               "are not allowed)", ev.start_mark)
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        raise _Refused("Y009", "integer beyond the 64-bit range", ev.start_mark)
    return value


_TYPE_WORDS = {"!!bool": "true/false", "!!int": "whole number", "!!float": "number", "!!null": "null",
               "!!timestamp": "date (YYYY-MM-DD)"}


# ---------------------------------------------------------------------------------------------
# JSON

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


def _json_constant(s: str):
    raise _JsonRefused("Y009", "numbers must be finite (1e400, NaN and Infinity are not allowed)")


def _json_pairs(pairs: list) -> dict:
    out: dict = {}
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
            if _SURROGATE.search(v):
                return True
        elif isinstance(v, dict):
            todo.extend(v.keys())
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
    return False
