"""Large tables stay linear (issue 19 item 11: lint of a 3,000-row table took 59 s): the gap and overlap
analysis looks rows up by value instead of trying every row per input combination, and a `first` table's
guards are built only between rows that can match together. Counted in calls, not timed."""
import pytest

import ptcheck.core._tables as tables
from ptcheck.core._rules import parse_ruleset

ROWS = 3000


def _table(hit: str) -> str:
    rows = "\n".join(f"      - {{id: r{i}, request_visits: {i}, out_v: {i}, message: m, citation: {{section: s}}}}"
                     for i in range(ROWS))
    return f"""id: t.scale
version: "1"
title: scale
jurisdictions: {{CA: primary}}
guideline: {{name: G, edition: "1"}}
effective_from: 2010-01-01
scope: {{services: [physical_therapy]}}
tables:
  - id: big
    title: big
    hit: {hit}
    inputs: [request_visits]
    outputs: [out_v]
    rows:
{rows}
rules: []
"""


def _counting(monkeypatch, name):
    calls = [0]
    real = getattr(tables, name)

    def counted(*a, **kw):
        calls[0] += 1
        return real(*a, **kw)
    monkeypatch.setattr(tables, name, counted)
    return calls


@pytest.mark.parametrize("hit", ["first", "unique"])
def test_a_3000_row_table_is_expanded_and_analysed_in_linear_work(monkeypatch, hit, tmp_path):
    disjoint, holds = _counting(monkeypatch, "disjoint"), _counting(monkeypatch, "holds")
    rs, problems = parse_ruleset(_table(hit), tmp_path / "scale.yaml")
    assert rs is not None and len(rs.spec.rules) == ROWS
    gaps, overlaps, exhaustive = tables.analyse(rs.written.tables[0])
    assert exhaustive and overlaps == [] and gaps            # values between and beyond the rows are gaps
    assert disjoint[0] < 10 * ROWS and holds[0] < 10 * ROWS, (disjoint[0], holds[0])   # were 4.5 M and 18 M
