import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
os.environ.setdefault("PTCHECK_RULES", str(ROOT / "rules"))
# the rules cache of this test run (engine/core/_rulecache.py), never the user's own ~/.cache/ptcheck
_CACHE = tempfile.TemporaryDirectory(prefix="ptcheck-test-cache-")
os.environ["PTCHECK_CACHE_DIR"] = _CACHE.name
# the decision log of this test run (ptcheck serve, check --format crd|pas), never the user's own data folder
os.environ["PTCHECK_DB"] = f"sqlite:///{_CACHE.name}/decisions.sqlite3"


@pytest.fixture(scope="session")
def checker():
    from ptcheck import Checker
    return Checker()


def case_dict(**over):
    """A small valid CA case; keyword arguments replace top-level keys."""
    base = {
        "id": "t1", "jurisdiction": "CA", "review": {"kind": "ur", "date": "2014-07-01"},
        "diagnoses": [{"icd9": "729.1"}],
        "requests": [{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": 6}],
        "history": {"therapy": []},
    }
    base.update(over)
    return base


# A minimal rule set for engine-level tests: HEAD.format(name=...) + rule(...) lines.
HEAD = """id: t.{name}
version: "1"
title: test
jurisdictions: {{CA: primary}}
guideline: {{name: Test guideline, edition: "1"}}
effective_from: 2000-01-01
scope: {{services: [physical_therapy]}}
rules:
"""


def rule(rid, when, then="{note: true}", msg="m"):
    return f"  - {{id: {rid}, when: \"{when}\", then: {then}, message: \"{msg}\", citation: {{section: s}}}}\n"
