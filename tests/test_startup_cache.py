"""The rules cache (engine/core/_rulecache.py): a hit gives the same library as parsing; an edited rule file,
a corrupted or foreign entry, or another engine is a miss (the files are parsed again); node trees are read
again on demand and never give positions from another text; output is byte-identical with and without it."""
import hashlib
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ptcheck.core import _rulecache, _rules
from ptcheck.core._rules import Library
from tests.conftest import ROOT


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("PTCHECK_CACHE_DIR", str(d))
    monkeypatch.delenv("PTCHECK_NO_CACHE", raising=False)
    return d


@pytest.fixture
def rules(tmp_path):
    dst = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", dst)
    return dst


@pytest.fixture
def parses(monkeypatch):
    """How many times Library.load parsed the rule files (a miss) rather than reading the cache."""
    calls = []
    real = Library._parse.__func__

    def counting(cls, root, files):
        calls.append(root)
        return real(cls, root, files)
    monkeypatch.setattr(Library, "_parse", classmethod(counting))
    return calls


def _entries(d: Path) -> list[Path]:
    return sorted(d.glob("library-*.pickle"))


def _summary(lib: Library) -> list:
    """Everything a check reads of a library, as plain data."""
    out = []
    for rs in lib.rulesets:
        out.append((rs.key, str(rs.path), rs.sha256, rs.spec.model_dump(mode="json"),
                    rs.written.model_dump(mode="json") if rs.written else None,
                    [(o.kind, o.path, o.prefix, o.source, o.file, o.line) for o in rs.origins],
                    sorted((k, v.index, v.label, v.guarded_by, v.table.id) for k, v in rs.rows.items()),
                    rs.base.key if rs.base else None, rs.edition))
    return out


def test_a_hit_is_the_library_as_parsed(cache, rules, parses):
    first = Library.load(rules)
    assert len(parses) == 1 and len(_entries(cache)) == 1
    second = Library.load(rules)
    assert len(parses) == 1                                   # read from the cache, not parsed
    assert _summary(second) == _summary(first)
    assert second.policy == first.policy and second.diagnoses.categories == first.diagnoses.categories
    # node trees: left out of the entry, read again on demand, the same positions
    for a, b in zip(first.rulesets, second.rulesets):
        assert b.__dict__["_node"] == _rulecache.REREAD
        assert [b.at(i) for i in range(len(b.spec.rules))] == [a.at(i) for i in range(len(a.spec.rules))]
        assert [b.at(i, "then") for i in range(len(b.spec.rules))] == [a.at(i, "then") for i in range(len(a.spec.rules))]
    # a base is the library's own rule set in both
    keyed = {rs.key: rs for rs in second.rulesets}
    assert any(rs.base is not None for rs in second.rulesets)
    assert all(rs.base is keyed[rs.base.key] for rs in second.rulesets if rs.base is not None)


def test_an_edited_rule_file_is_read_again(cache, rules, parses):
    Library.load(rules)
    f = rules / "mtus" / "chronic-pain-2009" / "physical-medicine.yaml"
    text = f.read_text()
    assert "title: " in text
    f.write_text(text.replace("title: ", "title: EDITED ", 1))
    lib = Library.load(rules)
    assert len(parses) == 2
    assert lib.get("mtus.cpmtg.physical-medicine@2009.1").spec.title.startswith("EDITED ")
    # the editions that extend it are parsed again too (their sha256 includes their base's)
    again = Library.load(rules)
    assert len(parses) == 2 and _summary(again) == _summary(lib)


def test_an_edited_rule_file_never_gives_positions_from_the_old_text(cache, rules):
    Library.load(rules)
    lib = Library.load(rules)                                  # from the cache: nodes not read yet
    rs = lib.get("mtus.cpmtg.physical-medicine@2009.1")
    rs.path.write_text("# moved down\n" * 5 + rs.path.read_text())
    assert rs.node is None and rs.at(0) == (None, None)       # unknown, never a wrong line


def test_a_new_or_removed_rule_file_is_a_miss(cache, rules, parses):
    before = Library.load(rules)
    bases = {rs.base.key for rs in before.rulesets if rs.base is not None}
    gone = next(rs for rs in before.rulesets if rs.key not in bases).key
    next(rs for rs in before.rulesets if rs.key == gone).path.unlink()
    after = Library.load(rules)
    assert len(parses) == 2 and gone not in {rs.key for rs in after.rulesets}


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty", "valid-digest-bad-pickle"])
def test_a_corrupted_entry_is_ignored(cache, rules, parses, damage):
    good = _summary(Library.load(rules))
    [entry] = _entries(cache)
    blob = entry.read_bytes()
    head = len(_rulecache.MAGIC) + 128
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "flip":
        i = head + (len(blob) - head) // 2
        blob = blob[:i] + bytes([blob[i] ^ 0x55]) + blob[i + 1:]
    elif damage == "garbage":
        blob = os.urandom(len(blob))
    elif damage == "empty":
        blob = b""
    else:
        payload = b"\x80\x05not a pickle at all"
        blob = blob[:head - 64] + hashlib.sha256(payload).hexdigest().encode() + payload
    entry.write_bytes(blob)
    assert _summary(Library.load(rules)) == good
    assert len(parses) == 2                                   # parsed again, and the entry rewritten
    assert _summary(Library.load(rules)) == good and len(parses) == 2


def test_an_entry_for_another_engine_is_a_miss(cache, rules, parses, monkeypatch):
    Library.load(rules)
    monkeypatch.setattr(_rulecache, "_FINGERPRINT", "0" * 64)
    Library.load(rules)
    assert len(parses) == 2


def test_code_fingerprint_covers_the_engine_modules():
    fp = _rulecache.code_fingerprint()
    assert len(fp) == 64
    assert Path(_rules.__file__).parent == Path(_rulecache.__file__).parent   # every module of ptcheck.core


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_cache_folder_others_can_write_is_not_used(cache, rules, parses):
    Library.load(rules)
    os.chmod(cache, 0o777)
    with pytest.warns(_rulecache.CacheWarning, match="is not used: it belongs to another user or others can write"):
        Library.load(rules)
    assert len(parses) == 2
    os.chmod(cache, 0o700)
    os.chmod(_entries(cache)[0], 0o666)                       # an entry others could have written
    Library.load(rules)
    assert len(parses) == 3


def test_the_cache_can_be_turned_off(cache, rules, parses, monkeypatch):
    monkeypatch.setenv("PTCHECK_NO_CACHE", "1")
    Library.load(rules)
    Library.load(rules)
    assert len(parses) == 2 and not cache.exists()


def test_a_library_with_problems_is_not_cached(cache, rules, parses):
    from ptcheck import RuleError
    f = rules / "mtus" / "acupuncture-2007" / "acupuncture.yaml"
    f.write_text(f.read_text() + "\nunknown_key: 1\n")
    for _ in range(2):
        with pytest.raises(RuleError):
            Library.load(rules)
    assert len(parses) == 2 and not _entries(cache)


def test_concurrent_writers_leave_one_valid_entry(cache, rules):
    lib = Library.load(rules)
    key = _rulecache.library_key(rules, _rules._yaml_files(rules))
    value = {"key": key, "library": lib}
    nodes = sum(rs.__dict__.get("_node") is not None for rs in lib.rulesets)
    entry = _rulecache.library_entry(rules)
    threads = [threading.Thread(target=_rulecache.write, args=(entry, key, value, nodes)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(_entries(cache)) == 1 and not list(cache.glob(".tmp-*"))
    got = _rulecache.read(_rulecache.library_entry(rules), key)
    assert got is not None and [rs.key for rs in got["library"].rulesets] == [rs.key for rs in lib.rulesets]


def test_a_value_holding_other_node_trees_is_not_written(cache, rules):
    import yaml
    node = yaml.ScalarNode("tag:yaml.org,2002:str", "v")
    _rulecache.write(_rulecache.library_entry(rules), "k" * 64, {"x": node}, nodes=0)
    assert not _entries(cache)


def _cli(args, env):
    return subprocess.run([sys.executable, "-m", "ptcheck.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          timeout=300)


@pytest.mark.parametrize("args", [["check", "cases/seeds"], ["check", "cases/seeds", "--json", "--facts"],
                                  ["rules", "list", "--json"], ["rules", "explain", "pm.over-course",
                                                                "--cases", "cases/seeds"]])
def test_output_is_byte_identical_with_and_without_the_cache(tmp_path, args):
    base = {k: v for k, v in os.environ.items() if k not in ("PTCHECK_CACHE_DIR", "PTCHECK_NO_CACHE")}
    off = _cli(args, {**base, "PTCHECK_NO_CACHE": "1"})
    cold = _cli(args, {**base, "PTCHECK_CACHE_DIR": str(tmp_path / "c")})
    assert list((tmp_path / "c").glob("library-*.pickle"))
    warm = _cli(args, {**base, "PTCHECK_CACHE_DIR": str(tmp_path / "c")})
    assert off.returncode == cold.returncode == warm.returncode == 0, off.stderr
    assert off.stdout == cold.stdout == warm.stdout and off.stdout
    assert off.stderr == cold.stderr == warm.stderr


def _compiled_summary(c) -> list:
    return [[(cr.index, cr.rule is c.ruleset.spec.rules[cr.index], cr.patterns, cr.derived_used, cr.shown, cr.requires,
              cr.requires_derived, cr.width, cr.conditions) for cr in c.rules],
            c.shards, c.types, c.derived, c.exports, [str(w) for w in c.warnings], c.session_names]


def test_a_compiled_rule_set_from_the_cache_is_the_one_compiled(cache, rules, monkeypatch):
    from ptcheck.core import _compile
    lib = Library.load(rules)
    types = _compile.exported_types(lib)
    fresh = {rs.key: _compiled_summary(_compile._compile_ruleset(rs, types)) for rs in lib.rulesets}
    for rs in lib.rulesets:
        _compile.compile_ruleset(rs, types)                              # writes the entries
    assert len(list(cache.glob("compiled-*.pickle"))) == len(lib.rulesets)
    monkeypatch.setattr(_compile, "_compile_ruleset", lambda *a: pytest.fail("compiled again"))
    again = Library.load(rules)
    for rs in again.rulesets:
        assert _compiled_summary(_compile.compile_ruleset(rs, types)) == fresh[rs.key]


def test_a_compiled_entry_is_for_its_rule_set_types_and_text_only(cache, rules):
    from ptcheck.core import _compile
    lib = Library.load(rules)
    types = _compile.exported_types(lib)
    rs = lib.get("mtus.cpmtg.physical-medicine@2009.1")
    _compile.compile_ruleset(rs, types)
    calls = []
    real = _compile._compile_ruleset

    def counting(r, t=None):
        calls.append(r.key)
        return real(r, t)
    import unittest.mock
    with unittest.mock.patch.object(_compile, "_compile_ruleset", counting):
        _compile.compile_ruleset(rs, types)
        assert calls == []
        _compile.compile_ruleset(rs, {**types, "zz_new_export": "int"})     # other types: compiled
        assert len(calls) == 1
        for entry in cache.glob("compiled-*.pickle"):                       # corrupted: compiled again
            entry.write_bytes(entry.read_bytes()[:-10])
        _compile.compile_ruleset(rs, types)
        assert len(calls) == 2
        f = rs.path
        f.write_text(f.read_text().replace("title: ", "title: EDITED ", 1))
        edited = Library.load(rules).get("mtus.cpmtg.physical-medicine@2009.1")
        assert edited.sha256 != rs.sha256
        _compile.compile_ruleset(edited, types)
        assert len(calls) == 3


GC_RUNNER = """
import gc, json, sys
sys.argv = ["ptcheck", *json.loads(sys.argv[1])]
import ptcheck.cli as c
seen = {}
real_load, real_render = c.Library.load, c.render_case
class Lib:
    @staticmethod
    def load(*a, **k):
        seen["load"] = gc.isenabled()
        return real_load(*a, **k)
def render(*a, **k):
    seen["render"] = gc.isenabled()
    return real_render(*a, **k)
c.Library, c.render_case = Lib, render
try:
    c.main()
except SystemExit:
    pass
seen["after"] = gc.isenabled()
sys.stderr.write("@@" + json.dumps(seen))
"""


@pytest.mark.parametrize("args, during", [(["check", "cases/seeds/seed-001.yaml"], {"load": False, "render": True}),
                                          (["rules", "list", "--json"], {"load": True}),
                                          (["--help"], {})])
def test_the_garbage_collector_is_paused_only_while_a_check_starts(args, during):
    import json
    p = subprocess.run([sys.executable, "-c", GC_RUNNER, json.dumps(args)], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    seen = json.loads(p.stderr.rsplit("@@", 1)[1])
    assert seen == {**during, "after": True}


def test_a_linked_rule_file_is_never_cached(cache, rules, tmp_path, parses):
    target = rules / "odg" / "knee" / "physical-therapy.yaml"
    elsewhere = tmp_path / "elsewhere.yaml"
    shutil.move(target, elsewhere)
    os.symlink(elsewhere, target)
    Library.load(rules)
    Library.load(rules)
    assert len(parses) == 2 and not _entries(cache)


def test_a_new_diagnoses_file_in_a_subfolder_is_a_miss(cache, rules, parses):
    Library.load(rules)
    shutil.copy(rules / "diagnoses.yaml", rules / "odg" / "diagnoses.yaml")
    Library.load(rules)
    assert len(parses) == 2


def test_old_entries_and_left_temporary_files_are_pruned(cache, rules, monkeypatch):
    import time
    monkeypatch.setitem(_rulecache.MAX_ENTRIES, "library", 2)
    cache.mkdir(mode=0o700)
    old = time.time() - 7200
    for i in range(4):
        p = cache / f"library-{i:024d}.pickle"
        p.write_bytes(b"x")
        os.utime(p, (old + i, old + i))
    left = cache / ".tmp-killed.pickle"
    left.write_bytes(b"x")
    os.utime(left, (old, old))
    fresh = cache / ".tmp-writing.pickle"
    fresh.write_bytes(b"x")
    Library.load(rules)
    names = {p.name for p in cache.iterdir()}
    assert len([n for n in names if n.startswith("library-")]) == 2 and _rulecache.library_entry(rules) + ".pickle" in names
    assert ".tmp-killed.pickle" not in names and ".tmp-writing.pickle" in names


def test_a_compiled_entry_of_another_shape_is_compiled_again(cache, rules):
    from ptcheck.core import _compile
    lib = Library.load(rules)
    types = _compile.exported_types(lib)
    rs = lib.get("mtus.cpmtg.physical-medicine@2009.1")
    good = _compiled_summary(_compile.compile_ruleset(rs, types))
    [entry] = list(cache.glob("compiled-*.pickle"))                      # the one compiled
    key = entry.read_bytes()[len(_rulecache.MAGIC):len(_rulecache.MAGIC) + 64].decode()
    for shape in ({"key": key, "compiled": {"rules": [(0, rs.spec.rules[0].id)]}},      # wrong tuple
                  {"key": key, "compiled": {"rules": [(999, "x", [], [], (), frozenset(), frozenset(), 1, 1)]}},
                  {"key": key, "compiled": None}):
        _rulecache.write(entry.stem, key, shape)
        assert _compiled_summary(_compile.compile_ruleset(rs, types)) == good


def test_the_command_says_once_that_it_ignores_an_unsafe_cache_folder(tmp_path):
    d = tmp_path / "shared-cache"
    d.mkdir()
    os.chmod(d, 0o777)
    base = {k: v for k, v in os.environ.items() if k not in ("PTCHECK_CACHE_DIR", "PTCHECK_NO_CACHE")}
    r = _cli(["check", "cases/seeds/seed-001.yaml"], {**base, "PTCHECK_CACHE_DIR": str(d)})
    assert r.returncode == 0 and r.stdout
    lines = [x for x in r.stderr.decode().splitlines() if x]
    assert lines == [f"ptcheck: warning: the rules cache folder {d} is not used: it belongs to another user or others "
                     f"can write to it (make it yours and run chmod go-w on it, or set PTCHECK_CACHE_DIR to a folder "
                     f"of your own); rule files are read without the cache"]
    assert not list(d.iterdir())                  # nothing written into it either
