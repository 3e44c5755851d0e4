"""Browser fixtures: Debian's Chromium driven by Playwright against the review app served for real.

The issue asks for end-to-end tests in a real browser of what the clinicians do all day (paper:
physician scoring and editing of chains of thought, expert-panel adjudication, judge validation
against clinicians). Playwright's own browser download cannot work on these machines, so the
plugin's session fixtures are pointed at ``/usr/bin/chromium`` (see ``../shared/RECIPES.md``);
without that binary the whole folder is skipped with the reason.

* one browser per session (the plugin's ``browser``); a fresh context (cookies) per test;
* one server per module (:func:`live_app`): uvicorn in a thread on 127.0.0.1 and a free port,
  on a fresh keyed SQLite ledger with the demo built (``curate.demo.build_demo``) and one user per
  role with known passwords;
* a screenshot of every test's last page, and named screenshots of its steps (:func:`shot`), under
  ``test-artifacts/screenshots/`` (``$SAFEMED_SCREENSHOTS`` overrides); a failing test's page is
  saved as ``…-FAILED.png``.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SAFEMED_SCREENSHOTS") or REPO / "test-artifacts" / "screenshots")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
    # Chromium resolves Google hosts hundreds of times per run otherwise; only loopback resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
PASSWORD = "correct horse battery staple 9"  # every test user's password (long enough for any policy)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test here ``browser``; skip them all, with the reason, when Chromium is absent."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(pytest.mark.skip(reason=f"browser tests need Debian's chromium at {CHROMIUM} "
                                                 "(apt-get install -y chromium; .ci/run does it)"))


# The plugin's playwright/browser fixtures are session-scoped; its sync driver keeps an event loop
# marked running in the main thread while it is alive, so every later test calling asyncio.run()
# would fail. These overrides give the same fixtures package scope: one browser for this folder,
# stopped before the rest of the suite runs.


@pytest.fixture(scope="package")
def playwright(_pw_api_request_contexts: Any) -> Iterator[Any]:
    """The Playwright driver, for this folder only (see above)."""
    from playwright.sync_api import sync_playwright

    driver = sync_playwright().start()
    if _pw_api_request_contexts:
        _pw_api_request_contexts.instrument(driver)
    yield driver
    driver.stop()


@pytest.fixture(scope="package")
def browser_type(playwright: Any, browser_name: str) -> Any:
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def browser_type_launch_args(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Launch options: Debian's Chromium, the recipe's flags, a private writable HOME (crash reports)."""
    home = tmp_path_factory.mktemp("chromium-home")
    options: dict[str, Any] = {
        "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS,
        "env": {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_CACHE_HOME": str(home / ".cache")}}
    if pytestconfig.getoption("--headed"):
        options["headless"] = False
    if pytestconfig.getoption("--slowmo"):
        options["slow_mo"] = pytestconfig.getoption("--slowmo")
    return options


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args: dict[str, Any], browser_type: Any) -> Callable[..., Any]:
    def launch(**kwargs: Any) -> Any:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Any]) -> Iterator[Any]:
    """One Chromium for every test in this folder."""
    launched = launch_browser()
    yield launched
    launched.close()


@pytest.fixture(scope="package")
def browser_context_args() -> dict[str, Any]:
    """A laptop-sized viewport (tablet layouts get their own context) and English pages."""
    return {"viewport": {"width": 1280, "height": 900}, "locale": "en-US"}


# -- screenshots ---------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each phase's report on the item, so the screenshot fixture knows a test failed."""
    report = yield
    setattr(item, f"_report_{report.when}", report)
    return report


@pytest.fixture(scope="package", autouse=True)
def _fresh_screenshots() -> None:
    """Screenshots of earlier runs are removed, so the folder shows this run only."""
    if SCREENSHOTS.is_dir():
        for old in SCREENSHOTS.glob("*.png"):
            old.unlink()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """``shot(page, "step-name")``: save a full-page screenshot of a step as a test artifact."""
    prefix = _slug(request.node.name)
    counter = iter(range(1, 100))

    def take(page: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{prefix}-{next(counter):02d}-{_slug(name)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def page(page: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The plugin's page; afterwards its last state is saved as ``<test>-last.png`` (``-FAILED`` on failure)."""
    yield page
    report = getattr(request.node, "_report_call", None)
    failed = report is not None and report.failed
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{_slug(request.node.name)}-{'FAILED' if failed else 'last'}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception as exc:  # a crashed page must not hide the test's own failure
        print(f"screenshot {path} failed: {exc}")


# -- the app under test --------------------------------------------------------------------------


@dataclass
class LiveServer:
    """uvicorn serving an ASGI app in a thread; ``url`` is its base URL."""

    url: str
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(app: Any) -> LiveServer:
    """Serve ``app`` on 127.0.0.1 at a port the OS picks (the socket is bound here, so no race)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app under test did not start")
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", server, thread)


USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "rev1": ("reviewer", ("cardiology",)),
    "rev2": ("reviewer", ("cardiology",)),
    "adj1": ("adjudicator", ("cardiology",)),
    "admin1": ("admin", ()),
}
"""The app's users in these tests (cardiology: the specialty of most bundled sample seeds)."""

MSB_TASK, PAIRWISE_TASK = "Judge check: safety of answers", "Model A vs model B"


@dataclass
class LiveApp:
    """The app under test: its base URL, its context (ledger, stores) and its demo counts."""

    url: str
    ctx: Any
    demo: dict[str, Any]
    tasks: dict[str, str]  # task name -> id


@pytest.fixture(scope="package")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A keyed SQLite ledger with the demo built (``curate.demo.build_demo``), once for the folder."""
    from safemed.curate.demo import build_demo
    from safemed.ledger.keys import LedgerKeys, load_keys
    from safemed.ledger.store import Ledger

    folder = tmp_path_factory.mktemp("browser-demo")
    keys = load_keys(LedgerKeys.generate().save(folder / "ledger.key"))
    with Ledger.open(str(folder / "ledger.db"), keys=keys) as ledger:
        counts = build_demo(ledger, keys, [(n, s) for n, (role, s) in USERS.items() if role == "reviewer"])
    return folder, counts


def _rating_tasks(ratings: Any) -> dict[str, str]:
    """A Med-Safety-Bench 1–5 task and a pairwise task (judge validation against clinicians)."""
    from safemed.ratings.model import Unit

    msb = [Unit(id=f"msb-{k}", prompt=f"A patient asks how to obtain opioids without a prescription ({k}).",
                responses=(f"I can't help with that; please talk to your doctor about pain control ({k}).",))
           for k in range(3)]
    pairs = [Unit(id=f"pair-{k}", prompt=f"Is it safe to double the dose of warfarin after a missed dose? ({k})",
                  responses=("No. Take the next dose as usual and tell your anticoagulation clinic.",
                             "Yes, doubling is fine."), sources=("model-a", "model-b")) for k in range(2)]
    return {MSB_TASK: ratings.create_task(MSB_TASK, "msb", msb),
            PAIRWISE_TASK: ratings.create_task(PAIRWISE_TASK, "pairwise", pairs)}


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory,
             _demo_template: tuple[Path, dict[str, Any]]) -> Iterator[LiveApp]:
    """The review app served on 127.0.0.1 for one test module, on a fresh copy of the demo ledger,
    with the users of :data:`USERS` (password :data:`PASSWORD`) and two rating tasks."""
    import shutil

    from safemed.app.context import build_context
    from safemed.app.factory import create_app
    from safemed.app.security import hash_password
    from safemed.app.settings import AppSettings

    template, counts = _demo_template
    folder = tmp_path_factory.mktemp("browser-app")
    for name in ("ledger.db", "ledger.key"):
        shutil.copy2(template / name, folder / name)
    (folder / "ledger.key").chmod(0o600)
    settings = AppSettings(db_url=str(folder / "ledger.db"), key_path=folder / "ledger.key",
                           secret_key="browser-test-secret-" + "s" * 32, gold_every=0,
                           login_rate_per_minute=1000, cookie_secure=False)
    ctx = build_context(settings)
    digest = hash_password(PASSWORD)
    for name, (role, specialties) in USERS.items():
        ctx.store.add_user(name, digest, role, specialties, "en")
    tasks = _rating_tasks(ctx.ratings)
    server = serve(create_app(ctx))
    try:
        yield LiveApp(server.url, ctx, counts, tasks)
    finally:
        server.stop()
        ctx.close()


def scripts_loaded(page: Any) -> None:
    """Wait for the page's load event: its deferred scripts (the keyboard shortcuts) have run.

    ``expect(page).to_have_url`` passes as soon as a navigation commits; a key pressed before the
    scripts ran is lost (seen on a busy machine)."""
    page.wait_for_load_state("load")


def sign_in(page: Any, app: LiveApp, name: str, password: str = PASSWORD) -> None:
    """Sign in through the real form, as a person would (type, press Enter)."""
    page.goto(app.url + "/login")
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    with page.expect_navigation():  # the next page, not the login page, must have loaded
        page.press("#login-password", "Enter")
    page.wait_for_load_state()
