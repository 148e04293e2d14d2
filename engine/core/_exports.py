"""The one conflict policy across rule sets: exported facts combine under the exporting table's hit policy.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from ._figures import Value
from ._ruleset import RowInfo, RuleSet

Policy = tuple[str, tuple[str, ...]]        # (hit policy, `by` columns)
FIRST: Policy = ("first", ())


def stated_policy(row: RowInfo | None) -> Policy | None:
    """The conflict policy a rule states for the facts it exports: a table row, its table's hit policy and
    `by`; a rule that is not a row, `first`. None for a row of a `unique` table: its rows never overlap,
    so the table states no precedence and follows the policy the other exporters of the fact state."""
    if row is None:
        return FIRST
    if row.table.hit == "unique":
        return None
    return row.table.hit, tuple(row.table.by)


def export_policies(sets: Iterable[RuleSet]) -> tuple[dict[str, Policy], list[tuple[str, RuleSet, int, str]]]:
    """(the policy of every exported fact, conflicts). An exported fact combines across rule sets under ONE
    policy: the one its exporters state (stated_policy; all that state one must agree), or `first` when
    none does. A conflict is (fact, rule set, rule index, reason) for each exporter that disagrees with the
    first policy found, and for a `unique` table that lacks a `by` column of that policy."""
    stated: dict[str, list[tuple[Policy | None, RuleSet, int]]] = {}
    for rs in sets:
        rows = getattr(rs, "rows", None) or {}
        for i, r in enumerate(rs.spec.rules):
            if r.then.derive and r.then.export:
                pol = stated_policy(rows.get(r.id))
                for name in r.then.derive:
                    stated.setdefault(name, []).append((pol, rs, i))
    policies: dict[str, Policy] = {}
    conflicts: list[tuple[str, RuleSet, int, str]] = []
    for name, entries in stated.items():
        firsts = [(pol, rs, i) for pol, rs, i in entries if pol is not None]
        if not firsts:
            policies[name] = FIRST
            continue
        pol0, rs0, i0 = firsts[0]
        policies[name] = pol0
        for pol, rs, i in entries:
            if pol is not None and pol != pol0:
                conflicts.append((name, rs, i, f"{show_policy(pol)}, but {rs0.spec.rules[i0].id} ({rs0.key}) "
                                                f"exports it under {show_policy(pol0)}"))
            elif pol is None and not set(pol0[1]) <= set(rs.spec.rules[i].then.derive or {}):
                conflicts.append((name, rs, i, f"a unique table without the `by` columns of "
                                               f"{show_policy(pol0)} ({rs0.spec.rules[i0].id}, {rs0.key})"))
    return policies, conflicts


def show_policy(pol: Policy) -> str:
    hit, by = pol
    return f"hit {hit}" + (f" by [{', '.join(by)}]" if by else "")


def merge_exports(values: Mapping[str, Value], new: Mapping[str, Value | bool], types: Mapping[str, str],
                  policies: Mapping[str, Policy] | None = None) -> dict[str, Value]:
    """The exported facts that a firing rule sets, given those already set for the item (`values`) by rule
    sets that ran before it, under the policy of those facts (export_policies; default `first`). The same
    policy as within a table: the row that counts sets ALL its outputs (visits, weeks and label always
    come from one row), and which row counts is the hit policy:

      collect-max / collect-min   the row with the largest / smallest `by` outputs (compared in order);
                                  ties keep the row set first
      first                       the row set first (by the rule set that ran first) keeps its facts

    A yes/no fact still "unknown" is not set. (Limits are findings, not exports: every applicable limit
    binds, engine/core/_decide.py:combine takes the smallest.)"""
    new = {k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in new.items()}

    def is_set(k: str) -> bool:
        v = values.get(k)
        return v is not None and not (types.get(k) == "tri" and v == "unknown")

    if not any(is_set(k) for k in new):
        return new
    hit, by = next((policies[k] for k in new if policies and k in policies), FIRST)
    if hit in ("collect-max", "collect-min") and by:
        mine = [new.get(b) for b in by]
        theirs = [values.get(b) if is_set(b) else None for b in by]
        if any(m is None for m in mine):
            return {}                                 # a row whose `by` figure is unknown never outranks
        if any(t is None for t in theirs):
            return new                                # nothing comparable set: this row counts
        better = tuple(mine) > tuple(theirs) if hit == "collect-max" else tuple(mine) < tuple(theirs)
        return new if better else {}
    return {}


