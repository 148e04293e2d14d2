"""The prebuilt ICD table (engine/core/data/icd.txt.gz): it is what the packages say today (a rebuild gives the
same bytes of text), and the table-backed functions of engine/core/_dx.py answer exactly as the package
calls they replace, for every code the packages know and for arbitrary strings."""
import fnmatch
import gzip
import importlib.util
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ptcheck.core import _dx

ROOT = Path(__file__).resolve().parents[1]


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_icd_table", ROOT / "scripts" / "build_icd_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


BUILD = _load_builder()
REF_ICD9_VALID, REF_ICD10_VALID, REF_ICD10_TO_ICD9 = BUILD.reference()


def test_the_shipped_table_is_a_rebuild_from_the_installed_packages():
    shipped = gzip.decompress(_dx.TABLE_FILE.read_bytes()).decode("ascii")
    rebuilt = BUILD.build_text()
    # the first line names the package versions; a new version that changes nothing is no drift
    body = lambda text: text.split("\n", 1)[1]  # noqa: E731
    assert BUILD.fingerprint(body(shipped)) == BUILD.fingerprint(body(rebuilt)), (
        f"the ICD table differs from a rebuild with {BUILD.versions()}: run scripts/build_icd_table.py")


def test_sections_are_sorted_without_empty_lines():
    table = _dx._table()
    assert set(table) == {"icd9", "icd10", "gem"}
    for name, lines in table.items():
        assert lines == sorted(lines) and all(lines), name
        keys = [line.split("\t")[0] for line in lines]
        assert len(set(keys)) == len(keys), name
    assert len(table["icd10"]) > 90_000 and len(table["icd9"]) > 15_000


def test_the_table_is_package_data():
    """A non-editable install ships the table: pyproject's package-data for `ptcheck.core` matches its path."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = cfg["tool"]["setuptools"]["package-data"]["ptcheck.core"]
    rel = _dx.TABLE_FILE.relative_to(ROOT / "engine/core").as_posix()
    assert any(fnmatch.fnmatch(rel, p) for p in patterns), (rel, patterns)


def _all_known_codes():
    cm, icd9, mapper = _dx._packages()
    items = sorted(set(cm.get_all_codes(with_dots=True)))
    gem_keys = sorted(mapper.icd10_to_icd9.icd10_to_icd9)
    return items, gem_keys


ITEMS, GEM_KEYS = _all_known_codes()


def test_every_icd10_item_and_gem_key_answers_as_the_packages():
    for code in ITEMS + GEM_KEYS + [_dx.normalize_icd10(k) for k in GEM_KEYS]:
        assert _dx.icd10_to_icd9.__wrapped__(code) == REF_ICD10_TO_ICD9(code), code
        assert _dx.icd10_valid.__wrapped__(code) == REF_ICD10_VALID(code), code


def test_every_icd9_key_answers_as_the_package():
    for line in _dx._table()["icd9"]:
        for code in (line, _dx.normalize_icd9(line)):
            assert _dx.icd9_valid.__wrapped__(code) == REF_ICD9_VALID(code), code


_CODE_CHARS = st.sampled_from(list("0123456789ABEGHMSVXZ.-abx \t\n") + ["٣", "ß"])
_MUTATED = st.one_of(
    st.text(_CODE_CHARS, max_size=9),
    st.builds(lambda c, i, ch: (c[:i] + ch + c[i:]), st.sampled_from(ITEMS), st.integers(0, 8), _CODE_CHARS),
    st.builds(lambda c, n: c[:n], st.sampled_from(ITEMS + GEM_KEYS), st.integers(0, 8)),
    st.builds(lambda c: c.lower().replace(".", ""), st.sampled_from(ITEMS)),
)


@settings(max_examples=400, deadline=None)
@given(_MUTATED)
def test_any_string_answers_as_the_packages(code):
    assert _dx.icd10_to_icd9.__wrapped__(code) == REF_ICD10_TO_ICD9(code)
    assert _dx.icd10_valid.__wrapped__(code) == REF_ICD10_VALID(code)
    assert _dx.icd9_valid.__wrapped__(code) == REF_ICD9_VALID(code)


@pytest.mark.parametrize("code,expected", [
    ("M79.18", ("729.1", "M79.1")),       # newer than the GEMs: reached through its parent
    ("M7918", ("729.1", "M79.1")),
    ("S33.5XXA", ("847.2", "S33.5XXA")),
    ("H40.11X0", ("365.11", "H40.11X0")),  # a GEM row whose code simple-icd-10-cm no longer lists
    ("Z00.00", ("V700", "Z00.00")),      # mapped, but to no guideline category
    ("M54.50", ("724.2", "M54.5")),
])
def test_examples(code, expected):
    assert _dx.icd10_to_icd9(code) == expected
