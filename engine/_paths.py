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
