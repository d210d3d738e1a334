"""The home page in Chromium: it leads to every page the gateway serves for people."""

from __future__ import annotations

import pytest

from tests.conftest import BrowserTab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Every page a person starts from (the status page and a rendered certificate are reached from these).
PAGES = {"/verify", "/holder", "/audit", "/docs"}


def test_the_home_page_links_to_every_page_and_each_opens(browser_tab: BrowserTab) -> None:
    browser_tab.open("/")
    links = browser_tab.page.locator("main a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert set(links) == PAGES
    browser_tab.screenshot("home")
    assert browser_tab.errors == [] and browser_tab.accessibility_violations() == []
    for path in sorted(PAGES):
        browser_tab.open(path)  # asserts a 2xx, after the console's redirect to its sign-in page
    assert browser_tab.errors == []
