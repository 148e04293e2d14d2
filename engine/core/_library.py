"""The Library: every rule set under a folder (loaded once, cached), its versions, and those in force for a case.
"""
from __future__ import annotations

import bisect
import datetime as dt
from pathlib import Path

from . import _dx, _editions, _jurisdictions, _rulecache
from ._errors import Problem, RuleError, did_you_mean
from ._paths import rules_dir
from ._rulefiles import NOT_RULE_FILES
from ._ruleparse import parse_ruleset
from ._ruleset import RuleSet
from ._yamlpos import mark


class Library:
    """Every rule set under a folder, and the choice of those in force for a case."""

    def __init__(self, rulesets: list[RuleSet], root: Path | None = None, *, diagnoses: "_dx.DxTable | None" = None,
                 policy: "_jurisdictions.Policy | None" = None):
        """rulesets: the library's rule sets; diagnoses: its diagnosis category table (default: the
        diagnoses.yaml of `root`, else of the default rules folder); policy: its jurisdictions.yaml and
        presumptions.yaml (default: those of `root`, else none). Raises RuleError on duplicate ids,
        overlapping versions, or a policy naming rule sets or facts the library does not have."""
        self.rulesets = rulesets
        self.root = root
        if diagnoses is None:
            dx = root / "diagnoses.yaml" if root is not None else None
            diagnoses = _dx.DxTable.load(dx) if dx is not None and dx.is_file() else _dx.default_table()
        self.diagnoses = diagnoses
        check_policy = policy is None and root is not None
        if policy is None:
            policy, problems = _jurisdictions.load_policy(root) if root is not None else (_jurisdictions.Policy(), [])
            _jurisdictions.raise_problems(problems, root or Path("."))
        self.policy = policy
        self.check_duplicates(rulesets)
        self.check_overlaps(rulesets)
        if check_policy and root is not None:
            from ._compile import exported_types
            from ._facts import FACT_TYPES
            names = set(FACT_TYPES) | set(exported_types(rulesets))
            _jurisdictions.raise_problems(
                _jurisdictions.check_policy(policy, root, {rs.id for rs in rulesets}, names), root)
        self._in_force: dict[tuple[str, int | None, tuple[tuple[str, str], ...]], list[RuleSet]] = {}
        self._bound_dates: list[dt.date] | None = None

    @classmethod
    def load(cls, root: Path | str | None = None, extra: list[Path] | None = None) -> "Library":
        root = Path(root) if root else rules_dir()
        yamls = _yaml_files(root) if root.is_dir() else []
        files = [p for p in yamls if p.name not in NOT_RULE_FILES]           # rule_files(root)
        if not files:
            raise RuleError(f"no rule files under {root}", [Problem(
                f"no rule files under {root}: a library needs at least one rule set", file=str(root),
                code="R002", suggestion="point --rules (or $PTCHECK_RULES) at a folder of rule sets")])
        dx = root / "diagnoses.yaml"
        if not dx.is_file():
            raise RuleError(f"no diagnoses.yaml in {root}", [Problem(
                f"no diagnoses.yaml in {root}: the diagnosis categories are read from the chosen rules folder",
                file=str(root), code="R002")])
        all_files = files + list(extra or [])
        key = key_files = None
        if not extra and _rulecache.cache_dir() is not None:
            key_files = _key_files(root, yamls)
            key = _library_key(root, key_files)
        if key is not None:
            cached = _rulecache.read(_rulecache.library_entry(root), key)
            if isinstance(cached, dict) and cached.get("key") == key and isinstance(hit := cached.get("library"), cls):
                return hit                    # as built (and checked: duplicates, overlaps) when it was written
        lib = cls._parse(root, all_files)
        if key is not None and key_files is not None and key == _library_key(root, key_files):   # not edited meanwhile
            value = {"key": key, "library": lib}
            _rulecache.write(_rulecache.library_entry(root), key, value,
                             nodes=sum(rs.stored_node is not None for rs in lib.rulesets))
        return lib

    @classmethod
    def _parse(cls, root: Path, all_files: list[Path]) -> "Library":
        sets: list[RuleSet] = []
        problems: list[Problem] = []
        loading: dict[tuple[str, str], _editions.Parsed] = {}     # each file parsed once, also where an edition needs it as its base
        token = _editions.LOADING.set(loading)
        try:
            for f in all_files:
                text = f.read_text(encoding="utf-8")
                hit = loading.get((str(f), text))
                rs, probs = hit if hit is not None else parse_ruleset(text, f)
                loading[(str(f), text)] = (rs, probs)
                problems += probs
                if rs:
                    sets.append(rs)
        finally:
            _editions.LOADING.reset(token)
        if problems:
            raise RuleError(f"{len(problems)} problem(s) in the rule files under {root} "
                            "(run 'ptcheck rules lint' for all checks)", problems)
        return cls(sets, root)

    @staticmethod
    def check_duplicates(rulesets: list[RuleSet]) -> None:
        """Each id@version once; a rule id belongs to one rule set (its versions may reuse it). Raises
        RuleError (R203) with every problem."""
        problems: list[Problem] = []
        keys: dict[str, Path] = {}
        owner: dict[str, RuleSet] = {}
        for rs in rulesets:
            if rs.key in keys:
                problems.append(Problem(f"rule set {rs.key} is defined twice (also in {keys[rs.key]})",
                                        file=str(rs.path), line=mark(rs.node, ["version"])[0] if rs.node else None,
                                        code="R203", suggestion="give the new edition a new version"))
            keys.setdefault(rs.key, rs.path)
            for i, r in enumerate(rs.spec.rules):
                first = owner.setdefault(r.id, rs)
                if first.id != rs.id:
                    problems.append(Problem(
                        f"rule id '{r.id}' is also used by rule set {first.id} ({first.path}): rule ids are unique "
                        "across the library", file=str(rs.path),
                        line=mark(rs.node, ["rules", i, "id"])[0] if rs.node else None, code="R203"))
        if problems:
            raise RuleError("duplicate ids in the rule library", problems)

    @staticmethod
    def check_overlaps(rulesets: list[RuleSet]) -> None:
        """Versions of one rule set do not overlap in their effective dates. Raises RuleError (R201)."""
        by_id: dict[str, list[RuleSet]] = {}
        for rs in rulesets:
            by_id.setdefault(rs.id, []).append(rs)
        problems = []
        for rid, sets in by_id.items():
            sets.sort(key=lambda r: r.spec.effective_from)
            for a, b in zip(sets, sets[1:]):
                if a.spec.effective_to is None or a.spec.effective_to >= b.spec.effective_from:
                    problems.append(Problem(
                        f"rule set {rid}: version {a.version} ({a.spec.effective_from} to "
                        f"{a.spec.effective_to or 'open'}) overlaps version {b.version} (from {b.spec.effective_from})",
                        file=str(b.path), line=mark(b.node, ["effective_from"])[0] if b.node else None,
                        code="R201", suggestion="set effective_to of the older version to the day before"))
        if problems:
            raise RuleError("overlapping effective dates", problems)

    def get(self, ref: str) -> RuleSet:
        """'id@version' or 'id' (newest)."""
        rid, _, ver = ref.partition("@")
        cands = [r for r in self.rulesets if r.id == rid and (not ver or r.version == ver)]
        if not cands:
            versions = sorted(r.version for r in self.rulesets if r.id == rid)
            hint: str | None
            if versions:          # the id exists: name its versions
                hint = "(its versions: " + ", ".join(versions) + ")"
            else:
                hint = did_you_mean(ref, sorted({r.key for r in self.rulesets}))
            raise RuleError(f"no rule set {ref!r}", [Problem(f"no rule set {ref!r}", code="R300", suggestion=hint)])
        return max(cands, key=lambda r: r.spec.effective_from)

    def in_force(self, jurisdiction: str, on: dt.date | None, pins: dict[str, str] | None = None) -> list[RuleSet]:
        """Rule sets of a jurisdiction in force on a date (newest of each id when no date), pins applied."""
        # every date between two consecutive effective_from / day-after-effective_to dates of the library
        # has the same rule sets in force: the cache is keyed by that span, not by the day
        key = (jurisdiction, self.span(on), tuple(sorted(pins.items())) if pins else ())
        hit = self._in_force.get(key)
        if hit is None:
            hit = self._in_force[key] = self._select(jurisdiction, on, pins or {})
        return hit

    def span(self, on: dt.date | None) -> int | None:
        """Which span of the library's effective dates a day falls in: every day of one span has the same
        rule sets in force (and the same fallback notes and search-sequence entries)."""
        if self._bound_dates is None:
            days = set()
            for rs in self.rulesets:
                days.add(rs.spec.effective_from)
                if rs.spec.effective_to is not None and rs.spec.effective_to < dt.date.max:   # 9999-12-31: open
                    days.add(rs.spec.effective_to + dt.timedelta(days=1))
            for j in self.policy.jurisdictions.values():
                for d in [*j.fallback_notes, *j.search_sequence]:
                    days.add(d.effective_from)
                    if d.effective_to is not None:
                        days.add(d.effective_to + dt.timedelta(days=1))
            self._bound_dates = sorted(days)
        return None if on is None else bisect.bisect_right(self._bound_dates, on)

    def version_in_force(self, rid: str, on: dt.date | None, pins: dict[str, str] | None = None) -> RuleSet | None:
        """The version of one rule set in force on a date (the newest with no date), or the pinned one."""
        cands = [rs for rs in self.rulesets if rs.id == rid]
        if pins and rid in pins:
            return next((rs for rs in cands if rs.version == pins[rid]), None)
        if on is not None:
            cands = [rs for rs in cands if rs.in_force(on)]
        return max(cands, key=lambda r: r.spec.effective_from, default=None)

    def _select(self, jurisdiction: str, on: dt.date | None, pins: dict[str, str]) -> list[RuleSet]:
        chosen: dict[str, RuleSet] = {}
        for rs in self.rulesets:
            if jurisdiction not in rs.spec.jurisdictions:
                continue
            if rs.id in pins:
                if rs.version == pins[rs.id]:
                    chosen[rs.id] = rs
                continue
            if on is None:
                if rs.id not in chosen or rs.spec.effective_from > chosen[rs.id].spec.effective_from:
                    chosen[rs.id] = rs
            elif rs.in_force(on):
                chosen[rs.id] = rs
        order = ("supplemental", "primary", "fallback")
        roles = {k: {str(j): str(v) for j, v in r.spec.jurisdictions.items()} for k, r in chosen.items()}
        return sorted(chosen.values(), key=lambda r: (order.index(roles[r.id][jurisdiction]), r.id))


def _yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.yaml") if not p.name.endswith(".tests.yaml"))


def _key_files(root: Path, found: list[Path]) -> list[Path] | None:
    """The files a library's cache key hashes: every YAML file under the folder but the tests (rule files,
    jurisdictions.yaml, and each diagnoses.yaml, which decides where an edition's base is looked for); None
    (no caching) when one of them is a link (it may lie elsewhere, where its base would be looked for;
    rglob does not enter linked folders)."""
    try:
        return None if any(p.is_symlink() for p in found) else found
    except OSError:
        return None


def _library_key(root: Path, files: list[Path] | None) -> str | None:
    if files is None:
        return None
    try:
        return _rulecache.library_key(root, files)
    except OSError:                     # a file that cannot be read: the parse reports it
        return None


