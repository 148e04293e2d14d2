"""Visits from request text: table-driven, plus properties over generated request lines."""
import pytest
from hypothesis import given, strategies as st

from ptcheck.core._visits import ParsedVisits, VisitTextError, parse_visits

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


# --- ranges, apart frequency and duration, hours, bracketed notes (issue 9 part 4) ---------------

MORE = [
    ("PT 2-3x/wk x 4-6 wks", ParsedVisits(18, 3, 6, visits_range=(8, 18))),
    ("2-3 x 8", ParsedVisits(24, 3, 8, visits_range=(16, 24))),
    ("PT 6-8 visits", ParsedVisits(8, visits_range=(6, 8))),
    ("PT 2-3x/wk x 4-6 wks (18 visits)", ParsedVisits(18, 3, 6, visits_range=(8, 18))),
    ("PT 3x4wks", ParsedVisits(12, 3, 4)),
    ("PT 3x4 wks", ParsedVisits(12, 3, 4)),
    ("PT 2x/wk to the lumbar spine x 4 weeks", ParsedVisits(8, 2, 4)),
    ("PT three times weekly", ParsedVisits(None, 3, None)),
    ("12 sessions", ParsedVisits(12)),
    ("80 hours of work hardening (10 sessions/80 hours)", ParsedVisits(10, hours=80)),
    ("work conditioning x 10 sessions, 8 hours per day", ParsedVisits(10, hours=80, hours_per_day=8)),
    ("8 additional sessions of physical therapy", ParsedVisits(8)),           # words between number and unit
    ("12 more physical therapy visits", ParsedVisits(12)),
    ("six additional PT sessions", ParsedVisits(6)),
    ("work hardening 30 hours", ParsedVisits(hours=30)),
    ("10 sessions of PT (request was 12 sessions, modified per peer review)", ParsedVisits(10)),
    ("PT 2x4 [originally requested as 3x4]", ParsedVisits(8, 2, 4)),
]


@pytest.mark.parametrize("text,expected", MORE, ids=[t for t, _ in MORE])
def test_more_forms(text, expected):
    assert parse_visits(text) == expected


def test_range_is_not_read_as_one_end():
    p = parse_visits("PT 2-3x/wk x 4-6 wks")
    assert p.visits == 18 and p.visits_range == (8, 18)        # was 4 (read "x 4" as a total)


@pytest.mark.parametrize("text,reading", [
    ("PT 2x4 lumbar", '"2x4" -> 8 visits'),
    ("PT 2-3x/wk x 4-6 wks", '"2-3x/wk x 4-6 wks" -> 8-18 visits'),
    ("PT 2x/wk to the lumbar spine x 4 weeks", '"2x/wk" + "x 4 weeks" -> 8 visits'),
])
def test_reading_names_the_words(text, reading):
    assert parse_visits(text).reading == reading


def test_bracketed_note_is_recorded_not_counted():
    p = parse_visits("10 sessions of PT (request was 12 sessions, modified per peer review)")
    assert p.visits == 10
    assert any("not counted" in n and "12 visits" in n for n in p.notes)


def test_a_plain_bracketed_restatement_still_counts():
    with pytest.raises(VisitTextError):
        parse_visits("PT 2x4 (12 sessions)")


def test_unreadable_text_says_so():
    p = parse_visits("Physical therapy for the lumbar spine")
    assert p.visits is None
    assert p.notes == ("the request text gives no number of visits that could be read",)


@pytest.mark.parametrize("text", ["PT 2-3x/wk x 4-6 wks (20 visits)", "PT 2x4 and 3x4", "PT 6-8 visits, 12 visits",
                                  "80 hours (60 hours)"])
def test_more_contradictions(text):
    with pytest.raises(VisitTextError):
        parse_visits(text)


def test_contradiction_messages_carry_numbers_not_the_text():
    with pytest.raises(VisitTextError) as e:
        parse_visits("John Q Patient PT 2x4 (10 sessions)")
    assert "John" not in str(e.value) and "2x4 = 8 visits but also 10 visits" in str(e.value)


# --- linear time -------------------------------------------------------------------------------

ADVERSARIAL = ["1" + " " * 2000 + "a", "2x", "x1 ", "1 x ", "1-", "1-2x", "twice ", "2 times a week ", "(",
               "((( request 12 visits ", "9" * 50 + " ", "#1 (1) visits ", "x 1 weeks for ", "1 hours per day ",
               "1-2 x 3 visits per week 4 hours (was) #5 (6) sessions x7 for 8 wks twice "]


@pytest.mark.parametrize("shape", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_100kb_of_adversarial_text_reads_in_linear_time(shape):
    """Reading 100 kB takes about four times as long as reading 25 kB (linear; allowed up to twelve), never
    sixteen (quadratic).
    A ratio, not a time: other processes sharing the machine slow both alike (best of five each)."""
    import time

    def best(n: int) -> float:
        text = (shape * (n // len(shape) + 1))[:n]
        out = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            try:
                parse_visits(text)
            except VisitTextError:
                pass
            out = min(out, time.perf_counter() - t0)
        return out
    small, large = best(25_000), best(100_000)
    assert large < 12 * small + 0.002, f"25 kB {small:.4f} s, 100 kB {large:.4f} s: not linear"
