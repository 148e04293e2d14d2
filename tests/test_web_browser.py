"""End to end: `ptcheck serve` on a free loopback port, the page driven in headless Debian Chromium
(Playwright's Python package with /usr/bin/chromium; no browser is downloaded). The form is filled for seed
case 001, checked with the keyboard, and the page must show NON-CERTIFY, the predicted IMR result and the
"11 visits completed + 8 requested = 19" arithmetic; the downloaded case reproduces the same JSON with
`ptcheck check`. Screenshots go to $PTCHECK_WEB_ARTIFACTS (default: <tmp>/ptcheck-web) and their paths
are printed. .ci/run installs chromium; without it (a developer machine) the test is skipped, saying why."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

if not CHROMIUM.exists() and os.environ.get("CI"):
    pytest.fail("CI: /usr/bin/chromium is missing although .ci/run installs it", pytrace=False)
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (.ci/run installs it: "
                "apt-get install -y chromium)", allow_module_level=True)
pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[test]')")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

ARTIFACTS = Path(os.environ.get("PTCHECK_WEB_ARTIFACTS") or Path(tempfile.gettempdir()) / "ptcheck-web")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    folder = tmp_path_factory.mktemp("serve")
    log = folder / "server.log"
    db = f"sqlite:///{folder / 'decisions.sqlite3'}"          # the decision log the page's dispositions go to
    with log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "ptcheck.cli", "serve", "--port", str(port), "--db", db],
                                stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(base + "/v1/schema/case", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"ptcheck serve exited with {proc.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"ptcheck serve did not answer within 90 s:\n{log.read_text()}")
            time.sleep(0.3)
        yield base, log, db
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _say(msg: str) -> None:
    print(msg)                                  # shown with -s and in the captured output of a failure
    sys.__stderr__.write(msg + "\n")            # and always in the CI log


def _cli_json(path: Path) -> str:
    return subprocess.run([sys.executable, "-m", "ptcheck.cli", "check", str(path), "--json"],
                          capture_output=True, check=True, cwd=ROOT, text=True).stdout


def test_reviewer_fills_the_form_for_seed_001_and_reads_the_answer(server, browser, tmp_path):
    base, log, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(base + "/")
    assert page.title().startswith("ptcheck")

    # every control of the page, including the rows built by the script, has a label
    unlabelled = page.evaluate("""() => Array.from(document.querySelectorAll('input, select, textarea'))
        .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map(e => e.outerHTML)""")
    assert unlabelled == []

    # the review (seed-001.yaml: CA IMR of 2014-07-24, injury 2013-12-11)
    page.get_by_label("Case id").fill("seed-001")
    page.get_by_label("Jurisdiction").select_option("CA")
    page.get_by_label("Review kind").select_option("imr")
    page.get_by_label("Review date").fill("2014-07-24")
    page.get_by_label("Injury date (optional)").fill("2013-12-11")
    page.get_by_label("Patient age (optional)").fill("21")

    # diagnoses; a wrong ICD-10 code is flagged next to its field as it is typed (the API's own rules)
    dx = page.locator("#diagnoses .rows > .row")
    dx.nth(0).get_by_label("Diagnosis text").fill("sprain/strain of the cervical spine")
    dx.nth(0).get_by_label("ICD-10-CM code").fill("S13.4XXQ")
    error = dx.nth(0).locator(".field-error")
    error.wait_for(timeout=10_000)
    assert "is not an ICD-10-CM code" in error.inner_text()
    assert dx.nth(0).get_by_label("ICD-10-CM code").get_attribute("aria-invalid") == "true"
    dx.nth(0).get_by_label("ICD-10-CM code").fill("S13.4XXA")
    error.wait_for(state="detached", timeout=10_000)
    dx.nth(0).get_by_label("Region").select_option("cervical")
    page.get_by_role("button", name="Add a diagnosis").click()
    dx.nth(1).get_by_label("Diagnosis text").fill("spasm and tenderness of the lumbar paraspinal muscles")
    dx.nth(1).get_by_label("Region").select_option("lumbar")

    # the requested item
    item = page.locator("#requests .rows > .row").nth(0)
    item.get_by_label("Request text, verbatim").fill("Pt 2x4 Weeks (8sessions) For Bilateral Neck and Low Back")
    item.get_by_label("Service").select_option("physical_therapy")
    item.get_by_label("cervical").check()
    item.get_by_label("lumbar", exact=True).check()

    # the prior course: 11 PT visits completed, ended 2014-07-17
    page.get_by_role("button", name="Add a prior course").click()
    assert page.get_by_label("These courses:").is_checked()
    course = page.locator("#therapy .rows > .row").nth(0)
    course.get_by_label("Service").select_option("physical_therapy")
    course.get_by_label("Visits completed (blank: not given)").fill("11")
    course.get_by_label("End date").fill("2014-07-17")
    course.get_by_label("cervical").check()
    course.get_by_label("lumbar", exact=True).check()

    # submit with the keyboard
    page.get_by_role("button", name="Check this case").focus()
    page.keyboard.press("Enter")
    outcome = page.locator("#answer-body [data-test=outcome]")
    outcome.wait_for(timeout=30_000)

    assert outcome.inner_text() == "NON-CERTIFY"
    assert page.locator("#answer-body [data-test=certified]").inner_text() == "0"
    assert "of 8 requested visits certified" in page.locator("#answer-body .visits").inner_text()
    assert page.locator("#answer-body [data-test=review]").inner_text() == "upheld"
    assert "Predicted IMR result" in page.locator("#answer-body .review").inner_text()
    findings = page.locator("#answer-body .findings").inner_text()
    assert "11 visits completed + 8 requested = 19" in findings
    assert "pm.over-course-without-improvement" in findings and "pp. 98-99" in findings
    assert "mtus.cpmtg.physical-medicine@2009.1" in page.locator("#answer-body [data-test=rulesets]").inner_text()
    assert page.evaluate("document.activeElement.id") == "answer"     # focus moves to the answer

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "seed-001-form.png"
    page.screenshot(path=str(shot))             # what the reviewer sees after pressing Enter
    _say(f"screenshot: {shot}")

    # the page's answer is the CLI's answer for seed 001 (which also carries its actual outcome)
    shown = json.loads(page.locator("#decision-json").text_content())
    expected = json.loads(_cli_json(ROOT / "cases/seeds/seed-001.yaml"))
    assert [it["actual"] for it in expected["items"]] == ["upheld"]
    expected["items"][0]["actual"] = None            # the form has no actual outcome field
    assert shown == expected

    # the download reproduces the page's JSON byte for byte with `ptcheck check`
    with page.expect_download() as info:
        page.locator("#download-case").click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.name == "seed-001.yaml"
    assert _cli_json(saved) == page.locator("#decision-json").text_content()

    # 200% zoom (a 1400-pixel window shows 700 CSS pixels): one column, no sideways scrolling
    page.set_viewport_size({"width": 700, "height": 1000})
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    zoomed = ARTIFACTS / "seed-001-200pct.png"
    page.locator("#answer").screenshot(path=str(zoomed))
    _say(f"screenshot at 200% zoom (answer): {zoomed}")
    page.close()

    # the server's log has requests, and no case content
    text = log.read_text()
    assert "POST /v1/check 200" in text and "POST /v1/validate 422" in text
    for secret in ("Pt 2x4", "seed-001", "S13.4", "paraspinal"):
        assert secret not in text


def test_pasted_case_with_an_error_shows_the_line_next_to_the_box(server, browser):
    base, _, _ = server
    page = browser.new_page()
    page.goto(base + "/")
    text = (ROOT / "cases/seeds/seed-002.yaml").read_text().replace("jurisdiction:", "jurisdicton:", 1)
    page.get_by_label("Case in YAML or JSON", exact=False).fill(text)
    page.get_by_role("button", name="Check this text").click()
    box = page.locator("#text-problems")
    box.wait_for(timeout=30_000)
    shown = box.inner_text()
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if ln.startswith("jurisdicton:"))
    assert f"line {line}" in shown and "jurisdicton" in shown and "did you mean 'jurisdiction'?" in shown
    # fixed, it checks, and the answer equals the CLI's for that file
    page.get_by_label("Case in YAML or JSON", exact=False).fill((ROOT / "cases/seeds/seed-002.yaml").read_text())
    page.get_by_role("button", name="Check this text").click()
    page.locator("#answer-body [data-test=outcome]").first.wait_for(timeout=30_000)
    assert box.is_hidden()
    assert page.locator("#decision-json").text_content() == _cli_json(ROOT / "cases/seeds/seed-002.yaml")
    page.close()


def test_reviewer_accepts_one_suggestion_and_overrides_another_and_the_audit_shows_both(server, browser):
    """The page's accept / override after an answer: each is recorded against the decision the server logged,
    and `ptcheck dispositions audit` on the server's database counts them (reason, reviewer, rule)."""
    base, _, db = server
    page = browser.new_page()
    page.goto(base + "/")
    page.get_by_label("Case in YAML or JSON", exact=False).fill((ROOT / "cases/seeds/seed-002.yaml").read_text())
    page.get_by_role("button", name="Check this text").click()
    items = page.locator("#answer-body article.item")
    items.first.locator("[data-test=disposition]").wait_for(timeout=30_000)
    assert items.count() == 2
    unlabelled = page.evaluate("""() => Array.from(document.querySelectorAll('#answer input, #answer select, #answer textarea'))
        .filter(e => !(e.labels && e.labels.length)).map(e => e.outerHTML)""")
    assert unlabelled == []

    # without a reviewer id nothing is recorded, and the page says why
    items.nth(0).get_by_role("button", name="Accept the suggestion").click()
    status0 = items.nth(0).locator("[data-test=disposition-status]")
    assert "reviewer id" in status0.inner_text()
    page.get_by_label("Reviewer id (for accept / override)").fill("rev-page")

    items.nth(0).get_by_role("button", name="Accept the suggestion").click()
    page.wait_for_function("el => el.textContent.startsWith('Recorded')", arg=status0.element_handle(), timeout=10_000)
    assert status0.inner_text() == "Recorded: accepted."

    second = items.nth(1)
    second.get_by_role("button", name="Override…").click()
    second.get_by_label("Override reason").select_option("documentation-not-in-case")
    second.get_by_label("Comment (optional)").fill("the kit's contents are listed in the PR-2 of 2014-05-02")
    second.get_by_role("button", name="Record the override").click()
    status1 = second.locator("[data-test=disposition-status]")
    page.wait_for_function("el => el.textContent.startsWith('Recorded')", arg=status1.element_handle(), timeout=10_000)
    assert status1.inner_text() == "Recorded: overridden (documentation-not-in-case)."
    page.close()

    audit = json.loads(subprocess.run([sys.executable, "-m", "ptcheck.cli", "dispositions", "audit", "--db", db, "--json"],
                                      capture_output=True, check=True, cwd=ROOT, text=True).stdout)
    assert (audit["overall"]["accepted"], audit["overall"]["overridden"]) == (1, 1)
    assert [(r["reason"], r["count"]) for r in audit["override_reasons"]] == [("documentation-not-in-case", 1)]
    assert [(r["reviewer"], r["accepted"], r["overridden"]) for r in audit["by_reviewer"]] == [("rev-page", 1, 1)]
    kit = next(r for r in audit["by_rule"] if r["rule"] == "hek.contents-not-described")
    assert (kit["overridden"], kit["override_rate"]) == (1, 1.0)
