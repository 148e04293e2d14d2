"""Each workaround for a measured durable_rules trap (../shared/durable-rules.md) has a test that fails
when the workaround is removed."""
import subprocess
import sys
import textwrap
import threading

import pytest

from ptcheck import EngineError, parse_ruleset
from ptcheck.core._compile import END_RULE, MAX_SHARD, compile_ruleset
from ptcheck.core._durable import Registered, _normalise
from tests.conftest import HEAD, ROOT, rule


def registered(name, body) -> Registered:
    rs, problems = parse_ruleset(HEAD.format(name=name) + body, f"{name}.yaml")
    assert not problems, problems
    return Registered(compile_ruleset(rs))


def fired(reg, facts):
    firings, _ = reg.run(facts)
    return [reg.compiled.rules[f.rule_index].rule.id for f in firings]


def test_no_timer_threads():
    """The default Host starts timer threads that run actions out of turn (trap 13)."""
    before = {t.ident for t in threading.enumerate()}
    reg = registered("timers", rule("a", "request_visits > 1"))
    fired(reg, {"request_visits": 3})
    new = [t for t in threading.enumerate() if t.ident not in before]
    assert not [t for t in new if isinstance(t, threading.Timer)], new


def test_more_than_1024_sessions_on_one_ruleset():
    """Sessions are deleted after each check: the 1025th live session would raise MemoryError (trap 3).
    In a child process, so a crash fails the test instead of killing pytest."""
    code = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from tests.test_durable import registered, fired
        reg = registered("many", '  - {{id: a, when: "request_visits > 5", then: {{note: true}}, message: m, citation: {{section: s}}}}\\n')
        for i in range(1100):
            assert fired(reg, {{"request_visits": i % 10}}) == (["a"] if i % 10 > 5 else [])
        print("ok")
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr[-2000:]


def test_sessions_where_nothing_matched_are_deleted_without_crashing():
    """delete_state where no action ran segfaults (trap 2): the end marker makes one action run.
    Run in a child process, so a crash fails the test instead of killing pytest."""
    code = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from tests.test_durable import registered, fired
        reg = registered("nomatch", '  - {{id: a, when: "request_visits > 1000", then: {{note: true}}, message: m, citation: {{section: s}}}}\\n')
        for i in range(3000):
            assert fired(reg, {{"request_visits": i % 50}}) == []
        print("ok")
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr
    reg = registered("endrule", rule("a", "request_visits > 1"))
    assert END_RULE in reg.compiled.durable_definition(0)


def test_absence_alone_terminates():
    """A rule made only of $nex matches the engine's state fact and loops forever (trap 1): every compiled
    rule is ANDed with the {__kind: case} discriminator."""
    code = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from tests.test_durable import registered, fired
        reg = registered("nex", '  - {{id: a, when: "completed_visits == unknown", then: {{note: true}}, message: m, citation: {{section: s}}}}\\n')
        print(fired(reg, {{"request_visits": 3}}))
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "['a']", p.stderr
    assert registered("nex2", rule("a", "completed_visits == unknown")).compiled.rules[0].patterns[0]["k"]["$and"][0] == {"__kind": "case"}


def test_or_with_two_true_branches_is_one_finding():
    """$or fires a rule once per true branch (trap 6): firings are deduplicated."""
    reg = registered("or", rule("a", "request_visits > 1 or completed_visits > 1"))
    assert fired(reg, {"request_visits": 3, "completed_visits": 3}) == ["a"]


def test_all_matching_rules_fire():
    """post() would fire only one rule per event (trap 4): facts are asserted."""
    reg = registered("all", rule("a", "request_visits > 1") + rule("b", "request_visits > 2") + rule("c", "request_visits > 3"))
    assert sorted(fired(reg, {"request_visits": 5})) == ["a", "b", "c"]


def test_exception_in_an_action_is_raised_not_swallowed(monkeypatch):
    """durable swallows exceptions raised in actions (trap 7): the collector re-raises them.
    (A zero divisor in a figure is no longer an error but "unknown" (docs/authoring.md), so the failure
    inside the action is injected.)"""
    from ptcheck.core import _expr
    real = _expr.fact_value

    def failing(expr, env):
        if env.get("completed_visits") == 0:
            raise ZeroDivisionError("injected")
        return real(expr, env)
    monkeypatch.setattr(_expr, "fact_value", failing)
    body = ("  - {id: a, when: \"request_visits > 0\", then: {derive: {x: \"request_visits // zero\"}}, message: m, citation: {section: s}}\n"
            "  - {id: b, when: \"x > 0\", then: {note: true}, message: m, citation: {section: s}}\n")
    reg = registered("boom", body.replace("zero", "completed_visits"))
    with pytest.raises(EngineError, match="ZeroDivisionError"):
        reg.run({"request_visits": 3, "completed_visits": 0})
    assert fired(reg, {"request_visits": 3, "completed_visits": 1}) == ["a", "b"]   # still usable


def test_same_rule_set_registered_twice():
    """set_rulesets pops 'run' from the definition and names cannot be re-registered (trap 9)."""
    a = registered("twice", rule("a", "request_visits > 1"))
    b = Registered(a.compiled)
    assert a.names != b.names
    assert fired(a, {"request_visits": 2}) == fired(b, {"request_visits": 2}) == ["a"]


def test_threads_share_a_checker_safely(monkeypatch):
    """The C engine is not thread-safe (durable-rules.md §5): one lock serialises every session. Each call
    into the engine sleeps a little, so that without the lock threads interleave inside sessions; the test
    records any moment when sessions of two threads are open at once (it fails with the lock removed)."""
    import time

    from ptcheck.core import _durable
    real, open_by, overlaps, asserted = _durable.E, {}, [], []

    class Slow:
        def __getattr__(self, name):
            return getattr(real, name)

        def assert_fact(self, handle, text):
            compact = text.replace(" ", "")          # the case fact's JSON is compact, the sid appended
            sid = compact.rsplit('"sid":"', 1)[1].split('"')[0]
            if '"__kind":"case"' in compact:
                asserted.append(sid)
                open_by[sid] = threading.get_ident()
                if len(set(open_by.values())) > 1:
                    overlaps.append(dict(open_by))
            time.sleep(0.0002)
            return real.assert_fact(handle, text)

        def delete_state(self, handle, sid):
            open_by.pop(sid, None)
            return real.delete_state(handle, sid)
    monkeypatch.setattr(_durable, "E", Slow())
    reg = registered("threads", rule("a", "request_visits > 5") + rule("b", "request_visits <= 5"))
    results, errors = {}, []

    def work(k):
        try:
            for i in range(60):
                v = (k * 7 + i) % 11
                got = fired(reg, {"request_visits": v})
                if got != (["a"] if v > 5 else ["b"]):
                    errors.append((k, i, got))
            results[k] = True
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4
    assert len(asserted) == 4 * 60              # every session seen (the watch is not blind)
    assert not overlaps, f"sessions of several threads were open at once: {overlaps[:3]}"


def test_more_than_64_true_conditions_are_sharded():
    """> 64 simultaneously-true sibling conditions give error 303 (trap 12): rule sets are sharded."""
    body = "".join(rule(f"r{i}", f"request_visits > {i}") for i in range(100))
    reg = registered("wide", body)
    assert len(reg.compiled.shards) == 3 and max(len(s) for s in reg.compiled.shards) <= MAX_SHARD
    assert len(fired(reg, {"request_visits": 1000})) == 100


def test_facts_are_normalised_before_asserting():
    """Mixed types compare undefined and booleans coerce (trap 16); dates and None cannot be sent."""
    import datetime as dt
    assert _normalise({"a": True, "b": None, "c": ["x"], "d": 3}) == {"a": "true", "c": ["x", "~"], "d": 3}
    with pytest.raises(EngineError):
        _normalise({"d": dt.date(2020, 1, 1)})
    with pytest.raises(EngineError, match="255"):
        _normalise({f"f{i}": i for i in range(300)})


def test_not_in_is_true_for_an_empty_list():
    """$iall does not fire on an empty list: a sentinel item makes `not in` true for []."""
    reg = registered("notin", rule("a", "'crps' not in dx_groups"))
    assert fired(reg, {"dx_groups": []}) == ["a"]
    assert fired(reg, {"dx_groups": ["crps"]}) == []


def test_only_one_module_imports_durable():
    import ast
    offenders = []
    for f in (ROOT / "engine").rglob("*.py"):
        tree = ast.parse(f.read_text())
        for n in ast.walk(tree):
            names = [a.name for a in n.names] if isinstance(n, ast.Import) else \
                    [n.module or ""] if isinstance(n, ast.ImportFrom) else []
            if any(x.split(".")[0] in ("durable", "durable_rules_engine") for x in names):
                offenders.append(f.name)
    assert sorted(set(offenders)) == ["_durable.py"]


def test_first_use_from_many_threads_registers_each_rule_set_once(monkeypatch, tmp_path):
    """Registration is not thread-safe in durable_rules: the first check from several threads at once
    must compile and register a rule set exactly once (the set_rulesets call is slowed to widen the race)."""
    import time

    from ptcheck import Checker, Library
    from ptcheck.core._durable import _Host
    calls = []
    real = _Host.set_rulesets

    def slow(self, defs):
        calls.append(list(defs))
        time.sleep(0.02)
        return real(self, defs)
    monkeypatch.setattr(_Host, "set_rulesets", slow)
    rs, _ = parse_ruleset(HEAD.format(name="race") + rule("a", "request_visits > 1"), tmp_path / "race.yaml")
    lib = Library([rs])
    checker = Checker(lib)
    barrier = threading.Barrier(8)

    def go():
        barrier.wait()
        checker.evaluator.registered(rs)
    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1


def test_comparison_with_an_absent_fact_on_the_right_is_false():
    """Measured (found by a rule author): durable fires `x <= y` when y is absent and the comparison is not
    the first condition. Every fact a right-hand side reads is guarded with $ex."""
    reg = registered("rhs", rule("a", "request_visits > 3 and total_visits <= completed_visits")
                     + rule("b", "request_visits > 3 and total_visits > completed_visits + 1"))
    assert fired(reg, {"request_visits": 5, "total_visits": 4}) == []
    assert fired(reg, {"request_visits": 5, "total_visits": 4, "completed_visits": 4}) == ["a"]
    assert fired(reg, {"request_visits": 5, "total_visits": 9, "completed_visits": 4}) == ["b"]


# -- the derived-fact crash (durable's reduceExpressionSequence reads past a join's OP_END) ------------

def _in_child(code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


MIN_CASE = {"id": "min", "jurisdiction": "CA", "review": {"date": "2014-07-09"},
            "diagnoses": [{"text": "lumbar neuritis"}],
            "requests": [{"id": "1", "text": "PT 2x4", "service": "physical_therapy"}],
            "history": {"therapy": [{"service": "physical_therapy", "visits_completed": 24}],
                        "surgeries": [{"kind": "discectomy_laminectomy", "region": "lumbar", "date": "2013-08-26"}]}}


def test_every_joined_pattern_ends_with_the_sentinel(checker):
    """Every rule joining a derived fact is registered with JOIN_SENTINEL last in the joined `$and`."""
    from ptcheck.core._durable import JOIN_SENTINEL, durable_patterns
    joined = 0
    for rs in checker.library.rulesets:
        for cr in checker.evaluator.registered(rs).compiled.rules:
            for p in durable_patterns(cr.patterns)[1:]:
                (cond,) = p.values()
                assert cond["$and"][-1] == JOIN_SENTINEL, cr.rule.id
                joined += 1
    assert joined > 30
    with pytest.raises(EngineError, match="nests"):
        durable_patterns([{"k": {"__kind": "case"}}, {"d_x": {"$and": [{"$or": [{"a": 1}, {"b": 2}]}]}}])


def test_cases_with_derived_facts_do_not_crash():
    """Issue 12's case (a postsurgical lumbar case whose diagnosis is text) and its text-only variants
    segfaulted in most processes. 3 processes x 5 variants x 40 checks: without the sentinel at least one
    process dies (measured: 16 of 20 processes died at 5 checks each)."""
    variants = ["lumbar neuritis", "lumbar strain", "sciatica", "low back pain", "myalgia"]
    code = f"""
        import copy
        from ptcheck import Checker, validate_case
        base = {MIN_CASE!r}
        checker = Checker()
        for i in range(40):
            for text in {variants!r}:
                case = copy.deepcopy(base)
                case["diagnoses"] = [{{"text": text}}]
                loaded = validate_case(case)
                assert loaded.ok, loaded.problems
                checker.check(loaded.case)
        print("ok")
    """
    for _ in range(3):
        p = _in_child(code)
        assert p.returncode == 0 and "ok" in p.stdout, (p.returncode, p.stderr[-2000:])


def test_a_failed_assert_is_finished_safely():
    """An assert that fails (here durable's error 302, too many properties) leaves a session in which no
    action ran; deleting it directly segfaults (trap 2). The session is ended with the end marker first,
    the real error is raised, and the rule set stays usable. In a child process: a crash fails the test."""
    code = f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from ptcheck import EngineError
        from tests.test_durable import registered, fired
        reg = registered("fail", '  - {{id: a, when: "request_visits > 1", then: {{note: true}}, message: m, citation: {{section: s}}}}\\n')
        wide = '{{"__kind": "case", ' + ", ".join(f'"f{{i}}": {{i}}' for i in range(300))
        for i in range(400):
            try:
                reg.run({{}}, wide)
            except EngineError as e:
                assert "302" in str(e), e
            else:
                raise SystemExit("no error")
        assert fired(reg, {{"request_visits": 3}}) == ["a"]
        print("ok")
    """
    p = _in_child(code)
    assert p.returncode == 0 and "ok" in p.stdout, (p.returncode, p.stderr[-2000:])


def test_a_cleanup_error_never_replaces_the_real_one(monkeypatch):
    from ptcheck.core import _durable
    reg = registered("cleanup", rule("a", "request_visits > 1"))
    real = _durable.E

    class Broken:
        def __getattr__(self, name):
            return getattr(real, name)

        def assert_fact(self, handle, text):
            if '"__kind":"case"' in text.replace(" ", ""):
                real.assert_fact(handle, text)          # the session exists, then the "engine" fails
                raise RuntimeError("Could not assert fact, error code: 303")
            return real.assert_fact(handle, text)

        def delete_state(self, handle, sid):
            real.delete_state(handle, sid)
            raise RuntimeError("Could not delete state, error code: 309")
    monkeypatch.setattr(_durable, "E", Broken())
    with pytest.raises(EngineError, match="303") as info:
        reg.run({"request_visits": 3})
    assert any("309" in n for n in getattr(info.value, "__notes__", []))


def test_the_wrapper_refuses_another_durable_version(monkeypatch):
    from ptcheck.core import _durable
    monkeypatch.setattr(_durable.metadata, "version", lambda name: "2.0.29")
    with pytest.raises(ImportError, match=r"supports durable-rules 2\.0\.28 only.*2\.0\.29"):
        _durable._check_version()


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (__import__("os").sysconf("SC_PAGE_SIZE") // 1024)


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="reads /proc/self/statm (Linux)")
def test_long_lived_sessions_keep_memory_flat_and_fire_as_fresh_ones():
    """Sessions kept open (assert, drain, retract) over 100,000 evaluations: the same firings as a fresh
    session per evaluation on a sample, a derived fact retracted each time, and resident memory flat."""
    from ptcheck.core._durable import encode
    body = (rule("a", "request_visits > 5") + rule("b", "request_visits <= 5")
            + rule("c", "request_visits > 2", "{derive: {d: 'request_visits * 2'}}") + rule("e", "d > 10"))
    live, fresh = registered("flat", body), registered("flat2", body)
    live.reuse, fresh.reuse = True, False
    encoded = [encode({"request_visits": n}) for n in range(12)]
    for n in range(12):
        assert sorted(f.rule_index for f in live.run({}, encoded[n])[0]) == \
            sorted(f.rule_index for f in fresh.run({}, encoded[n])[0]), n
    for i in range(20_000):                                     # warm: allocator pools reach their size
        live.run({}, encoded[i % 12])
    start = _rss_kb()
    for i in range(100_000):
        firings, _ = live.run({}, encoded[i % 12])
    grown = _rss_kb() - start
    assert sorted(f.rule_index for f in firings) == sorted(f.rule_index for f in fresh.run({}, encoded[99_999 % 12])[0])
    assert grown < 4096, f"resident memory grew by {grown} KB over 100,000 evaluations"
