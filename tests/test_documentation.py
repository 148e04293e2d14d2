"""The documentation table (engine/core/_documentation.py): a rule's `missing:` names its ids, and lint refuses
an id it does not hold at the id's own position, with "did you mean"."""
import shutil
import textwrap

from ptcheck.authoring import lint
from tests.conftest import ROOT

RULE = """\
id: t.doc
version: "1"
title: test
jurisdictions: {CA: primary}
guideline: {name: Test guideline, edition: "1"}
effective_from: 2000-01-01
scope: {services: [physical_therapy]}
tables:
  - id: tb
    hit: first
    inputs: [dx_groups]
    outputs: [limit]
    citation: {section: s}
    rows:
      - {dx_groups: myalgia, limit: 9, label: "myalgia", missing: [exceptional_factors, exceptonal_factors]}
rules:
  - id: a
    when: "request_visits > 6"
    then: {limit: 6}
    message: m
    citation: {section: s}
    missing: [prior_visits, functional_improvment]
"""


def _r107(tmp_path, text):
    shutil.copy(ROOT / "rules/diagnoses.yaml", tmp_path)
    (tmp_path / "r.yaml").write_text(textwrap.dedent(text))
    return [p for p in lint([tmp_path]) if p.code == "R107"]


def test_an_unknown_documentation_id_is_r107_at_its_position_with_did_you_mean(tmp_path):
    (rule,) = _r107(tmp_path, RULE)
    assert (rule.line, rule.column) == (22, 29) and "functional_improvment" in rule.message
    assert "did you mean 'functional_improvement'" in rule.message


def test_an_unknown_documentation_id_in_a_table_row_is_r107_at_its_row(tmp_path):
    (row,) = _r107(tmp_path, RULE.replace("functional_improvment", "functional_improvement"))
    assert row.line == 15 and "exceptonal_factors" in row.message
    assert "did you mean 'exceptional_factors'" in row.message


def test_every_shipped_missing_entry_is_an_id_of_the_table():
    from ptcheck import Library
    from ptcheck.core._documentation import BY_ID
    lib = Library.load(ROOT / "rules")
    named = {m for rs in lib.rulesets for r in rs.spec.rules for m in r.missing}
    assert named and named <= set(BY_ID)
