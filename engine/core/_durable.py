"""The only module that imports durable_rules. Registers compiled rule sets and runs one session per check.

Measured traps (../shared/durable-rules.md) and what this module does about each:
  * background timer threads run actions out of turn (§5, trap 13)      -> _Host without timers (_run)
  * the C code is not thread-safe; first use races (§5)                  -> one process-wide lock
  * > 1024 live sessions per ruleset -> MemoryError, leaked slot (trap 3) -> every session deleted
  * delete_state where no action ran -> segfault (trap 2)                -> end marker + END_RULE always fires
  * exceptions in actions are swallowed into state['exception'] (trap 7) -> no Python actions run: the
    agenda is drained directly (Registered.run), so an error propagates after the session is deleted
  * a 2-parameter callback is treated as async (trap 8)                  -> no callbacks are ever called
  * set_rulesets pops 'run' and names cannot be re-registered (trap 9)   -> fresh dicts, unique names
  * $or with two true branches fires twice (trap 6)                      -> firings deduplicated
  * post() fires one rule only (trap 4)                                  -> assert_fact only
  * "not handled" means nothing matched (trap 5)                         -> not an error; session still deleted
  * a failed assert leaves a session in which no action ran (trap 2)     -> _finish: the end marker still runs
    before the delete, and a cleanup error never replaces the real one
Found here (not in durable-rules.md), the root cause of the crash on derived facts:
  * durable's reduceExpressionSequence (events.c), when the LAST comparison of a join's `$and` is false,
    skips forward to the sequence's OP_END starting from the expression it just evaluated, so it steps
    over the OP_END and reads past the end of the expression array until it meets a byte that happens to
    be OP_END: a segfault or a wrong match whenever memory there is unlucky (valgrind: "Conditional jump
    or move depends on uninitialised value(s)" in reduceExpressionSequence <- isBetaMatch). -> every
    joined pattern's `$and` ends with JOIN_SENTINEL, a comparison that is always true, so the last
    comparison never short-circuits and a false one before it stops at the real OP_END. The same skip
    stops at the first OP_END it meets, so a nested `$and`/`$or` in a joined pattern would end the outer
    sequence early: such patterns are refused (the compiler never makes them).
The wrapper uses durable internals (Ruleset._handle, start_action_for_state, complete_and_start_action,
the action message format): SUPPORTED is the one version it was written and tested against.
"""
from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from json.decoder import scanstring as _scanstring  # type: ignore[attr-defined]  # not in typeshed's json.decoder
from typing import Any, Protocol

import durable_rules_engine
import orjson
from durable.engine import Host

from . import _expr, _figures
from ._compile import END_RULE, CompiledRuleSet
from ._conditions import Cond
from ._errors import EngineError
from ._figures import Value

SUPPORTED = "2.0.28"


class _Engine(Protocol):
    """The functions of durable_rules' C module used here, typed as SUPPORTED behaves (it ships no types): a
    fact is JSON text; an assert or retract gives (code, state offset); an action is (state, message) JSON."""
    def assert_fact(self, handle: int, fact: str, /) -> tuple[int, int]: ...
    def retract_fact(self, handle: int, fact: str, /) -> tuple[int, int]: ...
    def start_action_for_state(self, handle: int, offset: int, /) -> tuple[str, str] | None: ...
    def complete_and_start_action(self, handle: int, offset: int, /) -> str | None: ...
    def abandon_action(self, handle: int, offset: int, /) -> None: ...
    def delete_state(self, handle: int, sid: str, /) -> None: ...


E: _Engine = durable_rules_engine


def _check_version() -> None:
    try:
        found = metadata.version("durable-rules")
    except metadata.PackageNotFoundError:       # pragma: no cover - the import above would have failed
        found = "unknown"
    missing = [f for f in ("assert_fact", "start_action_for_state", "complete_and_start_action",
                           "abandon_action", "delete_state") if not hasattr(E, f)]
    if found != SUPPORTED or missing:
        raise ImportError(f"ptcheck's durable_rules wrapper (engine/core/_durable.py) supports durable-rules {SUPPORTED} "
                          f"only, and durable-rules {found} is installed"
                          + (f" (missing: {', '.join(missing)})" if missing else "")
                          + f": install it with `pip install durable-rules=={SUPPORTED}`")


_check_version()

# Always true in a joined pattern: its fact is a derived fact, the joined case fact `k` is not.
JOIN_SENTINEL = {"$neq": {"__kind": {"k": "__kind"}}}


def durable_patterns(patterns: list[Cond]) -> list[Cond]:
    """The patterns as registered: a fresh copy (set_rulesets keeps what it is given) in which every
    joined pattern's `$and` ends with JOIN_SENTINEL (see the module docstring for the durable bug)."""
    out: list[Cond] = json.loads(json.dumps(patterns))
    for pattern in out[1:]:
        (alias, cond), = pattern.items()
        terms = cond.get("$and") if isinstance(cond, dict) and len(cond) == 1 else None
        if terms is None:
            terms = [cond]
            pattern[alias] = {"$and": terms}
        if any(isinstance(t, dict) and ("$and" in t or "$or" in t) for t in terms):
            raise EngineError(f"joined pattern {alias} nests $and/$or, which durable_rules evaluates wrongly")
        terms.append(JOIN_SENTINEL)
    return out


class _Host(Host):  # type: ignore[misc]  # durable_rules has no type information: Host is Any to mypy
    def _run(self) -> None:          # no timer threads: every action runs inside our assert_fact call
        pass

    def register(self, name: str, definition: dict[str, Any]) -> int:
        """Register one durable ruleset; its handle."""
        self.set_rulesets({name: definition})
        handle: int = self.get_ruleset(name)._handle
        return handle


_HOST: _Host | None = None
_LOCK = threading.RLock()
_SEQ = itertools.count()
_NAMES = itertools.count()


def _host() -> _Host:
    global _HOST
    with _LOCK:                  # first use from several threads must still make one host
        if _HOST is None:
            _HOST = _Host()
        return _HOST


@dataclass
class Firing:
    """One rule that fired: which, and the facts it matched (case facts and derived values)."""
    rule_index: int
    facts: dict[str, object]  # case facts (read only for rules that join a derived fact or derive one; else {})
    derived: dict[str, object]  # derived name -> value bound in this firing


@dataclass
class _Session:
    """A shard's live session: its id and the evaluations run in it so far."""
    sid: str
    runs: int = 1


def _noop(c: object) -> None:     # set_rulesets wants a callable; the agenda is drained below, never through it
    return None


class Registered:
    """A compiled rule set registered with the host: one durable ruleset per shard.

    Actions do not run through durable's Python machinery (Closure, state JSON round trips, 13.7 us per
    firing, durable-rules.md §6): `run` drains each session's agenda directly with the C functions
    start_action_for_state / complete_and_start_action, reading the fired rule and its matched facts from
    the action message. A `derive` rule's fact is asserted into the same session while its action is open,
    so the rules that join on it come next on the agenda (forward chaining). Nothing can be swallowed:
    an error in our own handling propagates, after the session is cleaned up.

    Sessions live long (`reuse`, the default): each shard keeps one session, and an evaluation asserts the
    item's fact, drains the agenda, then retracts the fact and every derived fact it asserted, leaving the
    session as it found it (about half the cost of a fresh session; durable-rules.md §3, pattern P2). A
    session is ended and a fresh one started after RECYCLE evaluations, and whenever anything goes wrong in
    it (an engine error, a fact durable reports as already seen), so an error never carries into the next
    evaluation. tests/test_durable.py compares both ways on every bundled and many generated items."""

    RECYCLE = 5000

    def __init__(self, compiled: CompiledRuleSet, *, reuse: bool = True):
        self.compiled = compiled
        self.reuse = reuse
        self.names: list[str] = []
        self.handles: list[int] = []
        self._live: list[_Session | None] = []         # per shard: its live session, if any
        self.index: dict[str, int] = {cr.rule.id: cr.index for cr in compiled.rules}
        self.used = {n for cr in compiled.rules for n in cr.derived_used}
        # rules whose firing needs nothing but their name: no joined derived fact, no derive action
        self.plain: dict[str, int] = {cr.rule.id: cr.index for cr in compiled.rules
                                      if not cr.derived_used and not (cr.rule.then.derive and not cr.rule.then.export)}
        rs = compiled.ruleset
        with _LOCK:
            for s, idxs in enumerate(compiled.shards):
                name = f"{rs.id}@{rs.version}#{rs.sha256[:12]}/{s}.{next(_NAMES)}"
                definition: dict[str, Any] = {}
                for i in idxs:
                    cr = compiled.rules[i]
                    definition[cr.rule.id] = {"all": durable_patterns(cr.patterns),
                                              "pri": cr.rule.priority, "run": _noop}
                definition[END_RULE] = {"pri": 65535, "all": [{"m": {"__kind": "end"}}], "run": _noop}
                self.handles.append(_host().register(name, definition))
                self.names.append(name)
                self._live.append(None)

    def run(self, facts: Mapping[str, object], encoded: str | None = None) -> tuple[list[Firing], dict[str, Value]]:
        """Evaluate one item's facts in each shard's session; raise on any error (after cleaning up).

        `encoded` is encode(facts), when the caller already has it. Returns the firings and every derived
        fact the session asserted (first value of each name)."""
        body = encoded if encoded is not None else encode(facts)
        out: list[Firing] = []
        derived: dict[str, Value] = {}
        with _LOCK:
            for shard, handle in enumerate(self.handles):
                live = self._live[shard] if self.reuse else None
                sid = live.sid if live else f"s{next(_SEQ)}"
                fact = f'{body}, "sid": "{sid}"}}'
                asserted: list[str] = []
                try:
                    code, off = E.assert_fact(handle, fact)
                    if code == 2:
                        raise EngineError(f"rule set {self.compiled.ruleset.key}: the case fact was asserted twice")
                    self._drain(handle, code, off, sid, out, derived, set(), asserted)
                    if self.reuse:
                        for f in (*asserted, fact):
                            E.retract_fact(handle, f)
                except BaseException as e:
                    err = e if isinstance(e, (EngineError, KeyboardInterrupt, SystemExit)) or \
                        not isinstance(e, Exception) else \
                        EngineError(f"rule set {self.compiled.ruleset.key}: {type(e).__name__}: {e}")
                    self._live[shard] = None
                    _finish(handle, sid, err)
                    if err is e:
                        raise
                    raise err from e
                if not self.reuse:
                    _finish(handle, sid, None)
                elif not live:
                    self._live[shard] = _Session(sid)
                else:
                    live.runs += 1
                    if live.runs >= self.RECYCLE:
                        self._live[shard] = None
                        _finish(handle, sid, None)
        return out, derived

    def close(self) -> None:
        """End the live sessions (a later run starts fresh ones)."""
        with _LOCK:
            for shard, handle in enumerate(self.handles):
                live, self._live[shard] = self._live[shard], None
                if live:
                    _finish(handle, live.sid, None)

    def _drain(self, handle: int, code: int, off: int, sid: str, out: list[Firing], derived: dict[str, Value],
               seen: set[tuple[int, tuple[tuple[str, Any], ...]]], asserted: list[str]) -> None:
        if code != 0:                                  # 1: nothing matched (not an error); 3: queued
            return
        res = E.start_action_for_state(handle, off)
        msg = res[1] if res else None
        plain = self.plain
        try:
            while msg:
                # the message is {"<rule id>": {<pattern>: <fact>, ...}}: the id alone says which rule fired,
                # and a plain rule needs nothing else (its matched facts are not parsed)
                index = plain.get(_scanstring(msg, 2)[0]) if msg.startswith('{"') else None
                if index is not None:
                    if (index, ()) not in seen:            # $or fired the rule twice (trap 6)
                        seen.add((index, ()))
                        out.append(Firing(index, {}, {}))
                else:
                    name, bound = next(iter(orjson.loads(msg).items()))
                    if name != END_RULE:
                        self._fired(handle, sid, self.index[name], bound, out, derived, seen, asserted)
                msg = E.complete_and_start_action(handle, off)
        except BaseException:
            E.abandon_action(handle, off)
            raise

    def _fired(self, handle: int, sid: str, index: int, bound: dict[str, Any], out: list[Firing],
               derived: dict[str, Value], seen: set[tuple[int, tuple[tuple[str, Any], ...]]], asserted: list[str]
               ) -> None:
        case = bound["k"]
        values = {k[2:]: v["value"] for k, v in bound.items() if k.startswith("d_")}
        key = (index, tuple(sorted(values.items())))
        if key in seen:                                # $or fired the rule twice (trap 6)
            return
        seen.add(key)
        out.append(Firing(index, case, values))
        rule = self.compiled.rules[index].rule
        if rule.then.derive and not rule.then.export:
            env = {**case, **values}
            for dname, expr in rule.then.derive.items():
                value = _figures.fact_value(expr, env)
                if value is None:
                    continue
                derived.setdefault(dname, value)
                if dname in self.used:                 # a fact no rule reads would only be "not handled"
                    fact = orjson.dumps({"__kind": "derived", "name": dname, "value": value, "by": rule.id,
                                         "sid": sid}).decode()
                    asserted.append(fact)
                    E.assert_fact(handle, fact)


def _finish(handle: int, sid: str, error: BaseException | None) -> None:
    """End a session the safe way, whatever happened in it: assert the end marker so that at least one
    action runs (delete_state after a session with no action frees uninitialised pointers, trap 2; after
    a failed assert the session may exist with no action run), drain what is left without recording it,
    then delete. With `error` set (the session already failed), a cleanup failure is added to that error
    as a note and never replaces it; without, it is raised as an EngineError."""
    problems: list[str] = []
    try:
        code, off = E.assert_fact(handle, f'{{"__kind": "end", "sid": "{sid}"}}')
        if code == 0:
            res = E.start_action_for_state(handle, off)
            msg = res[1] if res else None
            while msg:
                msg = E.complete_and_start_action(handle, off)
    except Exception as e:                                 # pragma: no cover - needs a broken engine
        problems.append(f"ending the session: {type(e).__name__}: {e}")
    try:
        E.delete_state(handle, sid)                                                             # trap 3
    except Exception as e:                                 # pragma: no cover - needs a broken engine
        problems.append(f"deleting the session: {type(e).__name__}: {e}")
    if not problems:
        return
    if error is not None:
        for p in problems:
            error.add_note(f"cleanup after the error also failed: {p}")
        return
    raise EngineError("durable_rules session cleanup failed: " + "; ".join(problems))


def encode(facts: Mapping[str, object], names: frozenset[str] | None = None) -> str:
    """The case fact as durable JSON, without its closing brace (the session id is appended); with `names`,
    only those facts (the ones a rule set's session reads)."""
    try:
        return orjson.dumps(_normalise(facts, names)).decode()[:-1]
    except orjson.JSONEncodeError as e:        # an integer beyond 64 bits, a string that is not UTF-8
        raise EngineError(f"a fact cannot be given to durable_rules: {e}") from e


def _normalise(facts: Mapping[str, object], names: frozenset[str] | None = None) -> dict[str, object]:
    """Types durable handles safely: lists get the sentinel; no None, bool, date (durable-rules.md §7)."""
    out: dict[str, object] = {}
    for k, v in facts.items():
        if v is None or (names is not None and k not in names):
            continue
        t = type(v)
        if t is str or t is int or t is float:
            pass
        elif t is bool:
            v = "true" if v else "false"
        elif isinstance(v, (list, tuple)):
            v = [str(x) for x in v] + [_expr.LIST_SENTINEL]
        elif not isinstance(v, (int, float, str)):
            raise EngineError(f"fact {k} has an unsupported type {type(v).__name__}")
        out[k] = v
    if len(out) > 250:
        raise EngineError(f"{len(out)} facts for one item: durable_rules takes at most 255 properties")
    out["__kind"] = "case"
    return out
