"""report.html in Debian's Chromium, headless and offline: no console errors, no request leaves
the file, every section present; a full-page screenshot is kept as a test artifact."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from tests.browser.conftest import SCREENSHOTS
from tests.report.evidence import build_inputs, write_ablation, write_study

from safemed.report.package import SECTIONS, build_report


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full package, built in a worker thread: the Playwright driver keeps an event loop running in
    this one, and the evaluations the inputs need run their own (asyncio.run)."""
    root = tmp_path_factory.mktemp("report-render")

    def build() -> Path:
        ins = build_inputs(root / "inputs")
        return build_report([ins.mcq, ins.safety], [ins.redteam], write_study(root / "study"),
                            write_ablation(root / "ablation"), ins.ledger, ins.grpo, root / "package")

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(build).result()


def test_report_renders_offline_without_errors(page: Any, report_html: Path) -> None:
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: requests.append(req.url))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
               else route.abort())
    page.goto(report_html.as_uri())
    page.wait_for_load_state("load")
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    for section, title in SECTIONS.items():
        heading = page.locator(f"section#{section} h2")
        assert heading.count() == 1 and heading.inner_text().startswith(title), section
    assert "Lineage verified" in page.locator("#verdict").inner_text()
    images = page.locator("img")
    assert images.count() >= 6
    assert page.evaluate("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator("section#study .sim").count() >= 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "report-render-full.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
