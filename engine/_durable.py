"""The only module that imports durable_rules. Registers compiled rule sets and runs one session per check.

Measured traps (../shared/durable-rules.md) and what this module does about each:
  * background timer threads run actions out of turn (§5, trap 13)      -> _Host without timers (_run)
  * the C code is not thread-safe; first use races (§5)                  -> one process-wide lock
  * > 1024 live sessions per ruleset -> MemoryError, leaked slot (trap 3) -> every session deleted
  * delete_state where no action ran -> segfault (trap 2)                -> end marker + END_RULE always fires
  * exceptions in actions are swallowed into state['exception'] (trap 7) -> collected and re-raised
  * a 2-parameter callback is treated as async (trap 8)                  -> one-parameter closures
  * set_rulesets pops 'run' and names cannot be re-registered (trap 9)   -> fresh dicts, unique names
  * $or with two true branches fires twice (trap 6)                      -> firings deduplicated
  * post() fires one rule only (trap 4)                                  -> assert_fact only
  * MessageNotHandledException means nothing matched (trap 5)            -> caught; session still deleted
"""
from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass

from durable.engine import Host, MessageNotHandledException, MessageObservedException

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
    if _HOST is None:
        _HOST = _Host()
    return _HOST


@dataclass
class Firing:
    """One rule that fired: which, and the facts it matched (case facts and derived values)."""
    rule_index: int
    facts: dict               # case facts
    derived: dict             # derived name -> value bound in this firing


class _Collector:
    """Receives the actions of one shard during one session."""

    def __init__(self, compiled: CompiledRuleSet):
        self.compiled = compiled
        self.firings: list[Firing] = []
        self.seen: set = set()
        self.errors: list[str] = []
        self.derived: dict = {}               # every derived fact asserted in the session (first value)
        self.used = {n for cr in compiled.rules for n in cr.derived_used}

    def reset(self):
        self.firings, self.seen, self.errors, self.derived = [], set(), [], {}

    def fire(self, index: int, c) -> None:
        try:
            m = c._m
            case = dict(m["k"])
            derived = {k[2:]: v["value"] for k, v in m.items() if k.startswith("d_")}
            key = (index, tuple(sorted(derived.items())))
            if key in self.seen:                     # $or fired the rule twice
                return
            self.seen.add(key)
            self.firings.append(Firing(index, case, derived))
            rule = self.compiled.rules[index].rule
            if rule.then.derive and not rule.then.export:
                env = {**case, **derived}
                for name, expr in rule.then.derive.items():
                    value = _derive_value(expr, env)
                    if value is None:
                        continue
                    self.derived.setdefault(name, value)
                    if name in self.used:             # a fact no rule reads would raise NotHandled
                        try:
                            c.assert_fact({"__kind": "derived", "name": name, "value": value, "by": rule.id})
                        except MessageNotHandledException:
                            pass
        except Exception as e:                       # durable would swallow it; we re-raise after
            self.errors.append(f"{type(e).__name__}: {e}")


def _derive_value(expr, env):
    if isinstance(expr, bool):
        return "true" if expr else "false"
    if isinstance(expr, (int, float)):
        return expr
    return _expr.evaluate(expr, env)


def _action(collector: _Collector, index: int):
    return lambda c: collector.fire(index, c)        # exactly one parameter (trap 8)


def _end(c):
    return None


class Registered:
    """A compiled rule set registered with the host: one durable ruleset per shard."""

    def __init__(self, compiled: CompiledRuleSet):
        self.compiled = compiled
        self.names: list[str] = []
        self.collectors: list[_Collector] = []
        rs = compiled.ruleset
        with _LOCK:
            for s, idxs in enumerate(compiled.shards):
                name = f"{rs.id}@{rs.version}#{rs.sha256[:12]}/{s}.{next(_NAMES)}"
                coll = _Collector(compiled)
                definition = {}
                for i in idxs:
                    cr = compiled.rules[i]
                    definition[cr.rule.id] = {"all": json.loads(json.dumps(cr.patterns)),
                                              "pri": cr.rule.priority, "run": _action(coll, i)}
                definition[END_RULE] = {"pri": 65535, "all": [{"m": {"__kind": "end"}}], "run": _end}
                _host().set_rulesets({name: definition})
                self.names.append(name)
                self.collectors.append(coll)

    def run(self, facts: dict) -> tuple[list[Firing], dict]:
        """Evaluate one item's facts in a fresh session per shard; always clean up; raise on any error.

        Returns the firings and every derived fact the session asserted."""
        fact = _normalise(facts)
        out: list[Firing] = []
        derived: dict = {}
        with _LOCK:
            for name, coll in zip(self.names, self.collectors):
                coll.reset()
                sid = f"s{next(_SEQ)}"
                err = None
                try:
                    state = _host().assert_fact(name, dict(fact, __kind="case", sid=sid))
                    err = (state or {}).get("exception")
                except MessageNotHandledException:
                    pass                              # nothing matched: not an error
                except MessageObservedException as e:
                    err = f"fact asserted twice: {e}"
                except Exception as e:                # engine error (e.g. 302/303): still clean up
                    err = f"{type(e).__name__}: {e}"
                try:
                    _host().assert_fact(name, {"__kind": "end", "sid": sid})   # >= 1 action ran (trap 2)
                finally:
                    _host().delete_state(name, sid)                             # <= 1024 live (trap 3)
                if err or coll.errors:
                    raise EngineError(f"rule set {self.compiled.ruleset.key}: {err or '; '.join(coll.errors)}")
                out.extend(coll.firings)
                derived.update(coll.derived)
        return out, derived


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
