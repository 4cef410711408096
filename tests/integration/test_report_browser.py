"""`tierii report --html` opened in a real browser: Debian's Chromium, headless, via Playwright.

Skipped when Chromium or Playwright is missing, unless TIERII_REQUIRE_CHROMIUM=1 (CI, where
.ci/chromium installs them). Never downloads a browser. TIERII_TEST_UPDATE_SCREENSHOT=1 also
writes the screenshot the docs show (docs/report.png).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierii_core.cli import cli
from tierii_core.suppression import Suppressor
from tierii_core.testing.environment import clean_environment

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report.png"
#: read at import: the suite's autouse fixture clears TIERII_* variables before each test
UPDATE_SCREENSHOT = os.environ.get("TIERII_TEST_UPDATE_SCREENSHOT") == "1"


def need_browser():
    """Playwright's sync API with the system Chromium, or a skip (a failure in CI)."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is not installed (Debian: apt-get install chromium; or bash .ci/chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = problem or "playwright is not installed (pip install 'tierii-core[browser]')"
    if problem:
        if os.environ.get("TIERII_REQUIRE_CHROMIUM") == "1":
            pytest.fail(problem)
        pytest.skip(problem + "; TIERII_REQUIRE_CHROMIUM=1 makes its absence a failure")
    return sync_playwright


def tierii(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A sent campaign with sends, exclusions (a repeat, a suppression), failures of two kinds
    and a bounce reported after the send."""
    clean_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("TIERII_STATE_DIR", str(tmp_path / "state"))
    rows: list[tuple[str, ...]] = [("email", "state", "first_name")]
    rows += [(f"c{i}@example.com", "CA", f"C{i}") for i in range(30)]
    rows += [
        ("bad<script>alert(1)</script>", "CA", "Bad"),  # an invalid address: permanent failure
        ("c1@example.com", "CA", "Again"),  # repeated: excluded
        ("blocked@example.com", "CA", "B"),  # suppressed: excluded
        ("noname@example.com", "CA"),  # no first_name at all: the message cannot be built
        ("nv@example.com", "NV", "N"),  # not in the segment: not in the report at all
    ]
    with open("contacts.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    Path("t.mustache").write_text(
        "Subject: Hi {{first_name}}\nFrom: Shop <shop@example.com>\n\nHello {{first_name}}\n",
        encoding="utf-8",
    )
    assert tierii("suppress", "add", "blocked@example.com").exit_code == 0
    result = tierii(
        "send",
        "contacts.csv",
        "-t",
        "t.mustache",
        "--transactional",
        "--outbox",
        "out",
        "--where",
        'state == "CA"',
    )
    assert result.exit_code == 1, result.output
    assert "tierii report " in result.stdout
    Suppressor(tmp_path / "state").suppress("c3@example.com", "mailersend: hard_bounced", "webhook")
    return json.loads(tierii("status", "--json").stdout)["campaign"]


def test_the_html_report_renders_whole_in_chromium(campaign: str, tmp_path: Path) -> None:
    sync_playwright = need_browser()
    result = tierii(
        "report", campaign, "--html", "report.html", "--csv", "report.csv", "--json", "report.json"
    )
    assert result.exit_code == 0, result.output
    report = (tmp_path / "report.html").resolve()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 760})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            counts = {
                li.get_attribute("data-state"): int(li.locator("b").inner_text())
                for li in page.locator("#counts li").all()
            }
            assert counts == {"pending": 0, "sent": 30, "failed": 2, "excluded": 2, "unknown": 0}
            assert page.locator("#sends-over-time svg rect.bar").count() >= 1
            assert page.locator("#sends-over-time svg").bounding_box()["height"] > 50  # drawn, not empty
            exclusions = page.locator("#exclusions tbody tr").all_inner_texts()
            assert any("repeated address" in row for row in exclusions)
            assert any("suppressed" in row for row in exclusions)
            failures = page.locator("#failures").inner_text()
            assert "permanent" in failures and "message" in failures
            assert "1 bounced" in page.locator("#feedback").inner_text()
            rows = page.locator("#recipients tbody tr")
            assert rows.count() == 34  # every recipient, rendered whole (the NV contact is not one)
            assert rows.last.is_visible() or rows.last.bounding_box() is not None
            assert "nv@example.com" not in page.content()
            # a hostile value is text, never markup
            assert page.locator("script").count() == 0
            assert "bad<script>alert(1)</script>" in page.locator("#recipients").inner_text()
            identity = page.locator("#identity").inner_text()
            assert "t.mustache" in identity and 'state == "CA"' in identity and "outbox" in identity
            assert requests == [report.as_uri()]  # self-contained: nothing else is fetched
            screenshot = tmp_path / "report.png"
            page.screenshot(path=str(screenshot))
            assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            if UPDATE_SCREENSHOT:
                shutil.copy(screenshot, DOCS_SCREENSHOT)
        finally:
            browser.close()
    rows = list(csv.DictReader((tmp_path / "report.csv").open(encoding="utf-8")))
    assert len(rows) == 34 and sum(r["outcome"] == "sent" for r in rows) == 30
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["counts"]["sent"] == 30 and len(data["recipients"]) == 34
    assert data["failures_by_kind"] == {"permanent": 1, "message": 1}
    assert data["identity"]["segment"] == ['state == "CA"'] and data["bounces"] == 1


def test_report_needs_a_place_to_write_and_a_known_campaign(campaign: str) -> None:
    assert tierii("report", campaign).exit_code == 2
    result = tierii("report", "nope", "--html", "x.html")
    assert result.exit_code == 2 and "no campaign named 'nope'" in result.stderr
