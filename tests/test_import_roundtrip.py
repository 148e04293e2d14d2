"""Importing each seed letter gives a case that reproduces the seed's outcome for every item once the
TODOs (facts the letter does not give) are filled. The fills come from the hand-completed seed case
(cases/seeds/), and only at the paths the importer listed as TODO: nothing it extracted is overridden."""
import copy
import re

import pytest
import yaml

from ptcheck import agrees, validate_case
from ptcheck.letters._letters import import_letter
from tests.conftest import ROOT, SHARED

LETTERS = sorted((SHARED / "seeds").glob("*.txt")) if (SHARED / "seeds").is_dir() else []
_STEP = re.compile(r"([A-Za-z_]+)|\[(\d+)\]")


def _path(todo: str) -> list:
    return [int(i) if i else k for k, i in _STEP.findall(todo.split(":", 1)[0].strip())]


def _get(data, path):
    for p in path:
        if isinstance(p, int):
            if not isinstance(data, list) or p >= len(data):
                return None
        elif not isinstance(data, dict) or p not in data:
            return None
        data = data[p]
    return data


def _set(data, path, value):
    for p in path[:-1]:
        data = data.setdefault(p, {}) if isinstance(p, str) else data[p]
    data[path[-1]] = value


@pytest.mark.skipif(not LETTERS, reason="../shared/seeds is not beside the repo")
@pytest.mark.parametrize("letter", LETTERS, ids=[p.name[:3] for p in LETTERS])
def test_imported_seed_reproduces_every_outcome(letter, checker):
    imported = import_letter(letter.read_text(), source=str(letter))
    seed = yaml.safe_load((ROOT / "cases/seeds" / f"seed-{letter.name[:3]}.yaml").read_text())
    case = copy.deepcopy(imported.case)
    filled = []
    for todo in imported.todos:
        path = _path(todo)
        # a field the importer filled may be named only to complete text the letter redacts ("X")
        assert _get(imported.case, path) is None or "redacted" in todo, f"TODO names a filled field: {todo}"
        value = _get(seed, path)
        if value is not None:
            _set(case, path, value)
            filled.append(path)
    loaded = validate_case(case, source=str(letter))
    assert loaded.ok, loaded.problems
    decision = checker.check(loaded.case)
    assert [i.actual for i in decision.items] == [r["actual"] for r in seed["requests"]]
    assert all(agrees(i) for i in decision.items), [(i.request, i.outcome, i.review_outcome, i.actual) for i in decision.items]
