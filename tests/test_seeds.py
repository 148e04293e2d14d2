"""The five seed letters: every disputed item's actual outcome, for the letter's reason, citing its guideline."""
import pytest

from ptcheck import agrees, load_cases
from tests.conftest import ROOT

SEEDS = sorted((ROOT / "cases" / "seeds").glob("seed-*.yaml"))


def decide(checker, path):
    (loaded,) = list(load_cases([path]))
    assert loaded.ok, loaded.problems
    return checker.check(loaded.case)


def item(decision, rid):
    return next(i for i in decision.items if i.request == rid)


def rules(it):
    return {f.rule for f in it.findings}


@pytest.mark.parametrize("path", SEEDS, ids=[p.stem for p in SEEDS])
def test_every_seed_item_agrees(checker, path):
    d = decide(checker, path)
    assert d.items and all(agrees(i) for i in d.items), [(i.request, i.outcome, i.actual) for i in d.items]


def test_seed_001_arithmetic(checker):
    it = item(decide(checker, ROOT / "cases/seeds/seed-001.yaml"), "1")
    over = next(f for f in it.findings if f.rule == "pm.over-course-without-improvement")
    assert "11 visits completed + 8 requested = 19" in over.message and "10 visits" in over.message
    assert over.citation.startswith("MTUS Chronic Pain Medical Treatment Guidelines (2009), Physical Medicine")
    assert over.citation.endswith("pp. 98-99")
    assert it.outcome == "non_certify" and it.review_outcome == "upheld"


def test_seed_002_postsurgical_over_then_chronic_and_odg_for_the_kit(checker):
    d = decide(checker, ROOT / "cases/seeds/seed-002.yaml")
    pt, kit = item(d, "1"), item(d, "2")
    assert "ps.period.over" in rules(pt)                     # the postsurgical period is over ...
    assert "pm.transition-to-home-program" in rules(pt)      # ... so the chronic pain guideline applies
    home = next(f for f in pt.findings if f.rule == "pm.transition-to-home-program")
    assert "24 visits" in home.message and "home" in home.message
    # no single piece of documentation changes the answer (two guideline reasons deny it), and the
    # computed list never names documentation the case has
    assert not [c for c in pt.would_change if c.fact == "unable_to_do_home_exercise"]
    fallback = next(f for f in kit.findings if f.rule == "jurisdiction.fallback")
    assert "MTUS does not address home exercise kit" in fallback.message and "9792" in fallback.citation
    assert any(f.ruleset.startswith("odg.") and f.effect in ("pend", "non_certify") for f in kit.findings)
    change = next(c for c in kit.would_change if c.fact == "equipment_described")   # computed, with its answer
    assert change.outcome == "certify" and "contents" in change.documentation


def test_seed_003_both_items(checker):
    d = decide(checker, ROOT / "cases/seeds/seed-003.yaml")
    visit, pt = item(d, "1"), item(d, "2")
    assert visit.review_outcome == "upheld" and "ov.repeat-esi.relief-undocumented" in rules(visit)
    assert any("50-70%" in f.message for f in visit.findings)
    assert pt.review_outcome == "upheld" and "pm.prior-count-and-improvement-undocumented" in rules(pt)
    from ptcheck.core._documentation import words
    assert words("prior_visits") in pt.missing


def test_seed_004_both_items(checker):
    d = decide(checker, ROOT / "cases/seeds/seed-004.yaml")
    pt, soma = item(d, "1"), item(d, "2")
    assert {"pm.no-objective-deficits", "pm.prior-count-and-improvement-undocumented"} <= rules(pt)
    assert rules(soma) == {"med.carisoprodol"} and "p. 29" in soma.findings[0].citation


def test_seed_000_texas_odg(checker):
    it = item(decide(checker, ROOT / "cases/seeds/seed-000.yaml"), "1")
    assert "lb.row.lumbar-sprain" in rules(it) and "pt.home-program" in rules(it)
    assert all("Official Disability Guidelines" in f.citation for f in it.findings)
