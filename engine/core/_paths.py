"""Where the rule sets live: $PTCHECK_RULES, else the rule sets shipped with the package, else the rules/
folder of this checkout (run from source, never installed), else ./rules.

The checkout's top-level rules/ folder is shipped as the package data of a package of its own,
`ptcheck_rules` (pyproject: package-dir maps it to rules/), so an installed ptcheck finds its rule sets
from any directory; in an editable install that package is the checkout's rules/ folder itself."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def rules_dir() -> Path:
    env = os.environ.get("PTCHECK_RULES")
    if env:
        return Path(env)
    shipped = shipped_rules_dir()
    if shipped is not None:
        return shipped
    beside = Path(__file__).resolve().parent.parent.parent / "rules"
    return beside if beside.is_dir() else Path.cwd() / "rules"


def shipped_rules_dir() -> Path | None:
    """The folder of the rule sets installed with the package (found without importing anything)."""
    try:
        spec = importlib.util.find_spec("ptcheck_rules")
    except (ImportError, ValueError):
        return None
    for loc in (spec.submodule_search_locations or []) if spec else []:
        if (Path(loc) / "jurisdictions.yaml").is_file():
            return Path(loc)
    return None
