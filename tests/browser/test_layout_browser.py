"""The review screens in Chinese on a tablet (issue 9: "readable on a tablet, interface text in
English and Chinese (chosen per user)", "usable by keyboard alone").

A reviewer switches the interface to Chinese, and the choice sticks to their account (a fresh
sign-in is still Chinese); on a 768 × 1024 portrait screen the queue and an item page fit the
width (no sideways scrolling) and the keyboard help opens with ``?`` and closes with Escape.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect
from tests.browser.conftest import LiveApp, sign_in

from safemed.app.i18n import t

TABLET = {"width": 768, "height": 1024}


def _fits_width(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_chinese_interface_on_a_tablet(page: Page, live_app: LiveApp, shot: Any) -> None:
    page.set_viewport_size(TABLET)
    sign_in(page, live_app, "rev2")
    expect(page).to_have_url(re.compile(r"/queue$"))
    page.locator("form.lang-switch button[value=zh]").click()
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", re.compile("^zh"))
    expect(page.locator("nav.mainnav")).to_contain_text(t("core.nav.queue", "zh"))
    assert _fits_width(page)
    shot(page, "queue-zh-tablet")

    page.goto(live_app.url + "/review/next")
    expect(page).to_have_url(re.compile(r"/review/[^/?]+$"))
    expect(page.locator("fieldset.dimension")).to_have_count(5)
    assert _fits_width(page)
    shot(page, "item-zh-tablet")

    page.keyboard.press("?")
    help_box = page.locator("#shortcut-help")
    expect(help_box).to_be_visible()
    shot(page, "shortcuts-help-zh")
    page.keyboard.press("Escape")
    expect(help_box).to_be_hidden()

    # the language belongs to the account: a new sign-in comes back in Chinese
    page.context.clear_cookies()
    sign_in(page, live_app, "rev2")
    expect(page.locator("html")).to_have_attribute("lang", re.compile("^zh"))
