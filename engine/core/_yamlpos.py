"""Reading YAML safely, and positions in YAML documents.

Every YAML read in the package goes through this module (cases, rule files, rules/diagnoses.yaml); the
size, encoding and problem codes are engine/core/_safeinput.py's, JSON is read by engine/core/_safejson.py.

Public within the package:

``iter_yaml(text_or_bytes, source, limits=CASE_FILE) -> Iterator[Document]``
    Every non-empty document of a (multi-document) YAML stream, one at a time. A document that cannot
    be read is yielded with ``problem`` set (file, line, column, code) and the stream goes on with the
    next document: one bad document never ends the batch. Empty documents (a trailing ``---``) are
    skipped. Input that cannot be read at all (too large, not text) is one Document with a problem.

``load_yaml(text_or_bytes, source, limits=RULE_FILE) -> list[tuple[yaml.Node, Any]]``
    All documents as (node, data); raises InputError (a PtcheckError carrying the Problems) on the
    first document that cannot be read. For rule files and other single-owner files.

``dotted``, ``node_at``, ``mark``, ``has``: a field path as text, and the node, line and column it names.

The guards hold with pyyaml's C parser (used when available) and with the pure-Python one: events
are composed by engine/core/_yamlcompose.py, without recursion, so nesting deeper than ``max_depth`` is
refused before anything recursive runs; aliases are counted as full copies (``max_nodes``) and recursive
aliases refused, so an alias bomb is refused in milliseconds; duplicate keys, non-scalar keys, unknown
tags (``!!python/`` and every other tag outside the YAML core schema), numbers that are not finite or
beyond 64-bit integers, and impossible dates are errors with file:line:column. Messages never echo
document content.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ._errors import Problem
from ._safeinput import CASE_FILE, RULE_FILE, InputError, Limits, decode
from ._yamlcompose import Loader as _Loader, Refused, compose, marked


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


def dotted(loc: Iterable[str | int]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def node_at(node: yaml.Node, loc: Sequence[str | int], *, key: bool = False) -> yaml.Node:
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


def mark(node: yaml.Node, loc: Sequence[str | int], *, key: bool = False) -> tuple[int, int]:
    """(line, column), both 1-based."""
    n = node_at(node, loc, key=key)
    return n.start_mark.line + 1, n.start_mark.column + 1


def has(node: yaml.Node | None, loc: Sequence[str | int]) -> bool:
    """Does the node tree hold exactly this path?"""
    cur = node
    for part in loc:
        if isinstance(cur, yaml.MappingNode):
            cur = next((v for k, v in cur.value if k.value == str(part)), None)
        elif isinstance(cur, yaml.SequenceNode) and isinstance(part, int) and part < len(cur.value):
            cur = cur.value[part]
        else:
            return False
        if cur is None:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# YAML

# A line that starts a document. Inside a scalar such a line is not allowed (YAML 1.1, c-forbidden),
# so a stream can be cut there and each document read on its own.
_DOC_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.M)
_CONTENT_LINE = re.compile(r"^[ \t]*[^ \t\r\n#%]", re.M)

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
        assert doc.node is not None                     # iter_yaml yields a problem or a node
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
    """The documents of one chunk; the parser is _Loader (a test swaps in the pure-Python one here)."""
    docs: list[Document] = []
    loader = None
    try:
        loader = _Loader(chunk)
        while loader.check_event():
            ev = loader.get_event()
            if isinstance(ev, yaml.DocumentStartEvent):
                docs.append(Document(index, marked(ev.start_mark).line + offset + 1))
                node, data = compose(loader, source, offset, limits, chunk)
                docs[-1].node, docs[-1].data = node, data
                if node is not None:                      # the document's first line of content
                    docs[-1].line = node.start_mark.line + 1
                index += 1
    except Refused as r:
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
