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
"""
from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass

import durable_rules_engine as E
from durable.engine import Host

from . import _expr
from ._compile import END_RULE, CompiledRuleSet
from ._errors import EngineError


class _Host(Host):
    def _run(self):          # no timer threads: every action runs inside our assert_fact call
        pass


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
    facts: dict               # case facts
    derived: dict             # derived name -> value bound in this firing


def _noop(c):                 # set_rulesets wants a callable; the agenda is drained below, never through it
    return None


class Registered:
    """A compiled rule set registered with the host: one durable ruleset per shard.

    Actions do not run through durable's Python machinery (Closure, state JSON round trips, 13.7 us per
    firing, durable-rules.md §6): `run` drains each session's agenda directly with the C functions
    start_action_for_state / complete_and_start_action, reading the fired rule and its matched facts from
    the action message. A `derive` rule's fact is asserted into the same session while its action is open,
    so the rules that join on it come next on the agenda (forward chaining). Nothing can be swallowed:
    an error in our own handling propagates, after the session is cleaned up."""

    def __init__(self, compiled: CompiledRuleSet):
        self.compiled = compiled
        self.names: list[str] = []
        self.handles: list[int] = []
        self.index: dict[str, int] = {cr.rule.id: cr.index for cr in compiled.rules}
        self.used = {n for cr in compiled.rules for n in cr.derived_used}
        rs = compiled.ruleset
        with _LOCK:
            for s, idxs in enumerate(compiled.shards):
                name = f"{rs.id}@{rs.version}#{rs.sha256[:12]}/{s}.{next(_NAMES)}"
                definition = {}
                for i in idxs:
                    cr = compiled.rules[i]
                    definition[cr.rule.id] = {"all": json.loads(json.dumps(cr.patterns)),
                                              "pri": cr.rule.priority, "run": _noop}
                definition[END_RULE] = {"pri": 65535, "all": [{"m": {"__kind": "end"}}], "run": _noop}
                _host().set_rulesets({name: definition})
                self.names.append(name)
                self.handles.append(_host().get_ruleset(name)._handle)

    def run(self, facts: dict, encoded: str | None = None) -> tuple[list[Firing], dict]:
        """Evaluate one item's facts in a fresh session per shard; always clean up; raise on any error.

        `encoded` is encode(facts), when the caller already has it (it runs several rule sets per item).
        Returns the firings and every derived fact the session asserted (first value of each name)."""
        body = encoded if encoded is not None else encode(facts)
        out: list[Firing] = []
        derived: dict = {}
        with _LOCK:
            for handle in self.handles:
                sid = f"s{next(_SEQ)}"
                seen: set = set()
                try:
                    code, off = E.assert_fact(handle, f'{body}, "sid": "{sid}"}}')
                    if code == 2:
                        raise EngineError(f"rule set {self.compiled.ruleset.key}: the case fact was asserted twice")
                    self._drain(handle, code, off, sid, out, derived, seen)
                    code, off = E.assert_fact(handle, f'{{"__kind": "end", "sid": "{sid}"}}')   # trap 2
                    self._drain(handle, code, off, sid, out, derived, seen)
                except EngineError:
                    raise
                except Exception as e:                     # engine error (e.g. 302/303) or ours
                    raise EngineError(f"rule set {self.compiled.ruleset.key}: {type(e).__name__}: {e}") from e
                finally:
                    E.delete_state(handle, sid)                                                 # trap 3
        return out, derived

    def _drain(self, handle, code, off, sid, out, derived, seen) -> None:
        if code != 0:                                  # 1: nothing matched (not an error); 3: queued
            return
        res = E.start_action_for_state(handle, off)
        msg = res[1] if res else None
        try:
            while msg:
                name, bound = next(iter(json.loads(msg).items()))
                if name != END_RULE:
                    self._fired(handle, sid, self.index[name], bound, out, derived, seen)
                msg = E.complete_and_start_action(handle, off)
        except BaseException:
            E.abandon_action(handle, off)
            raise

    def _fired(self, handle, sid, index, bound, out, derived, seen) -> None:
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
                value = _expr.fact_value(expr, env)
                if value is None:
                    continue
                derived.setdefault(dname, value)
                if dname in self.used:                 # a fact no rule reads would only be "not handled"
                    fact = {"__kind": "derived", "name": dname, "value": value, "by": rule.id, "sid": sid}
                    E.assert_fact(handle, json.dumps(fact, ensure_ascii=False))


def encode(facts: dict) -> str:
    """The case fact as durable JSON, without its closing brace (the session id is appended)."""
    return json.dumps(dict(_normalise(facts), __kind="case"), ensure_ascii=False)[:-1]


def _normalise(facts: dict) -> dict:
    """Types durable handles safely: lists get the sentinel; no None, bool, date (durable-rules.md §7)."""
    out = {}
    for k, v in facts.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, (list, tuple)):
            v = [str(x) for x in v] + [_expr.LIST_SENTINEL]
        elif not isinstance(v, (int, float, str)):
            raise EngineError(f"fact {k} has an unsupported type {type(v).__name__}")
        out[k] = v
    if len(out) > 250:
        raise EngineError(f"{len(out)} facts for one item: durable_rules takes at most 255 properties")
    return out
