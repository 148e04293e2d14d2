"""Where the rule sets live: $PTCHECK_RULES, else the rules/ folder of this checkout, else ./rules."""
from __future__ import annotations

import os
from pathlib import Path


def rules_dir() -> Path:
    env = os.environ.get("PTCHECK_RULES")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parent.parent / "rules"
    return beside if beside.is_dir() else Path.cwd() / "rules"


_DIAGNOSES: Path | None = None       # set by Library.load: the diagnoses table of the chosen rules folder


def diagnoses_file() -> Path:
    """The diagnosis category table: the one beside the rule sets last loaded (Library.load), else the
    default rules folder's."""
    return _DIAGNOSES or rules_dir() / "diagnoses.yaml"


def use_diagnoses_file(path: Path) -> None:
    global _DIAGNOSES
    _DIAGNOSES = Path(path)
