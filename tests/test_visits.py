"""Visits from request text: table-driven, plus properties over generated request lines."""
import pytest
from hypothesis import given, strategies as st

from engine._visits import ParsedVisits, VisitTextError, parse_visits

TABLE = [
    ("Pt 2x4 Weeks (8sessions) For Bilateral Neck and Low Back", ParsedVisits(8, 2, 4)),
    ("Physical Therapy 2 times a week for 4 weeks, Lumbar Spine", ParsedVisits(8, 2, 4)),
    ("PHYSICAL THERAPY 12 VISITS FOR THE LUMBAR", ParsedVisits(12)),
    ("Physical therapy 2 times 8 for lumbar spine", ParsedVisits(16, 2, 8)),
    ("physical therapy rehabilitation X12, right shoulder", ParsedVisits(12)),
    ("PT 3 x 4 left knee", ParsedVisits(12, 3, 4)),
    ("additional Physical Therapy #6 visits", ParsedVisits(6)),
    ("twelve (12) sessions of physical therapy", ParsedVisits(12)),
    ("PT 2 times per week x 6 weeks", ParsedVisits(12, 2, 6)),
    ("PT twice a week for 3 weeks", ParsedVisits(6, 2, 3)),
    ("PT 3x4 (12 visits)", ParsedVisits(12, 3, 4)),
    ("chiropractic 1x6", ParsedVisits(6, 1, 6)),
    ("PT 3 visits per week for 4 weeks", ParsedVisits(12, 3, 4)),      # regression: was read as 3 visits
    ("aquatic therapy 2 sessions a week x 6 weeks", ParsedVisits(12, 2, 6)),
    ("Home Exercise Kit for Lumbar Spine", ParsedVisits()),
    ("", ParsedVisits()),
]


@pytest.mark.parametrize("text,expected", TABLE, ids=[t or "<empty>" for t, _ in TABLE])
def test_table(text, expected):
    assert parse_visits(text) == expected


@pytest.mark.parametrize("text", ["PT 2x4 (10 sessions)", "PT 12 visits, 8 visits", "PT 3x4 (8 visits)"])
def test_contradictions_are_errors(text):
    with pytest.raises(VisitTextError):
        parse_visits(text)


@given(f=st.integers(1, 7), w=st.integers(1, 24), sep=st.sampled_from(["x", "X", " x ", " X "]),
       suffix=st.sampled_from(["", " weeks", " wks", " lumbar spine"]))
def test_fxw_is_product(f, w, sep, suffix):
    assert parse_visits(f"PT {f}{sep}{w}{suffix}") == ParsedVisits(f * w, f, w)


@given(f=st.integers(1, 7), w=st.integers(1, 24))
def test_times_a_week_for_weeks(f, w):
    assert parse_visits(f"Physical therapy {f} times a week for {w} weeks") == ParsedVisits(f * w, f, w)


@given(n=st.integers(1, 99), unit=st.sampled_from(["visits", "sessions", "Visits", "treatments"]))
def test_total_alone(n, unit):
    assert parse_visits(f"PT {n} {unit} lumbar") == ParsedVisits(n)


@given(f=st.integers(1, 5), w=st.integers(1, 10), n=st.integers(1, 60))
def test_stated_total_must_match_product(f, w, n):
    text = f"PT {f}x{w} ({n} sessions)"
    if n == f * w:
        assert parse_visits(text).visits == n
    else:
        with pytest.raises(VisitTextError):
            parse_visits(text)
