"""The auditor console in Debian's Chromium against a gateway on anvil: sign in by pasting the development token
or by opening a `certnet console login` link, filter events, a certificate's history, prove an entry's inclusion,
sign out; no script error and no serious or critical accessibility violation on any view."""

from __future__ import annotations

import re
from typing import Any, Callable

import pytest

from gateway.auth import sign_in_token
from gateway.web.text import ZH
from ledger_node.devnet import DEMO_DEPARTMENTS, demo_account

from tests.conftest import BrowserTab, GatewayProcess, issued_marriage

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _signed_in(open_tab: Callable[[GatewayProcess], BrowserTab], gateway: GatewayProcess) -> BrowserTab:
    """A tab signed in to the console as the audit office (SJ) by pasting its development token."""
    tab = open_tab(gateway)
    tab.open("/audit")  # leads to the sign-in page
    tab.page.fill("#token", gateway.auth("SJ")["Authorization"].removeprefix("Bearer "))
    tab.page.click(f"text={ZH['console_token_submit']}")
    tab.page.wait_for_url(re.compile(r"/audit$"))
    return tab


def _accessed(gateway: GatewayProcess) -> dict[str, Any]:
    """A certificate issued by MZ and verified by GA (an access in the log)."""
    certificate = issued_marriage(gateway)["certificate"]
    assert gateway.client.post("/v1/verify", json={"document": certificate},
                               headers=gateway.auth("GA")).status_code == 200
    gateway.wait_indexed()
    return certificate


def test_the_sign_in_page_has_no_error_and_no_accessibility_violation(browser_tab: BrowserTab) -> None:
    browser_tab.open("/audit")
    assert browser_tab.page.url.endswith("/audit/sign-in")
    assert (browser_tab.errors, browser_tab.accessibility_violations()) == ([], [])


def test_pasting_the_token_signs_in_and_signing_out_ends_the_session(
        open_tab: Callable[[GatewayProcess], BrowserTab], gateway_http: GatewayProcess) -> None:
    tab = _signed_in(open_tab, gateway_http)
    assert DEMO_DEPARTMENTS["SJ"] in tab.page.inner_text(".session")
    assert (tab.errors, tab.accessibility_violations()) == ([], [])
    tab.page.click(f"text={ZH['console_sign_out']}")
    tab.page.wait_for_url(re.compile(r"/audit/sign-in$"))
    tab.open("/audit")
    assert tab.page.url.endswith("/audit/sign-in")


def test_opening_a_sign_in_link_signs_in_without_the_secret_in_the_address(
        open_tab: Callable[[GatewayProcess], BrowserTab], gateway_http: GatewayProcess) -> None:
    tab = open_tab(gateway_http)
    tab.open("/audit/sign-in#" + sign_in_token(demo_account("SJ"), DEMO_DEPARTMENTS["SJ"]))
    tab.page.wait_for_url(re.compile(r"/audit$"))
    assert DEMO_DEPARTMENTS["SJ"] in tab.page.inner_text(".session") and tab.errors == []


def test_filtering_events_shows_the_department_s_issuance(open_tab: Callable[[GatewayProcess], BrowserTab],
                                                          gateway_http: GatewayProcess) -> None:
    certificate_hash = _accessed(gateway_http)["proof"]["certificateHash"]
    tab = _signed_in(open_tab, gateway_http)
    tab.open("/audit/events")
    tab.page.fill("#department", DEMO_DEPARTMENTS["MZ"])
    tab.page.select_option("#action", "issued")
    tab.page.fill("#limit", "1000")
    tab.page.click(f"text={ZH['console_filter']}")
    tab.page.wait_for_url(re.compile(r"/audit/events\?"))
    tab.screenshot("audit-events")
    assert certificate_hash in tab.page.inner_text("table.rows")
    assert (tab.errors, tab.accessibility_violations()) == ([], [])


def test_a_certificate_s_history_shows_its_access(open_tab: Callable[[GatewayProcess], BrowserTab],
                                                 gateway_http: GatewayProcess) -> None:
    certificate_hash = _accessed(gateway_http)["proof"]["certificateHash"]
    tab = _signed_in(open_tab, gateway_http)
    tab.open("/audit/history")
    tab.page.fill("#certificate", certificate_hash)
    tab.page.click(f"text={ZH['console_show']}")
    tab.page.wait_for_url(re.compile(r"/audit/history\?"))
    tab.screenshot("audit-history")
    assert DEMO_DEPARTMENTS["GA"] in tab.page.inner_text("tr.entry")
    assert (tab.errors, tab.accessibility_violations()) == ([], [])


def test_proving_an_entry_s_inclusion_shows_the_verdict_and_the_audit_path(
        open_tab: Callable[[GatewayProcess], BrowserTab], gateway_http: GatewayProcess) -> None:
    _accessed(gateway_http)
    tab = _signed_in(open_tab, gateway_http)
    tab.open("/audit/log")
    assert (tab.errors, tab.accessibility_violations()) == ([], [])
    tab.open("/audit/checkpoint")
    tab.page.click(f"text={ZH['console_anchor_now']}")
    tab.page.wait_for_url(re.compile(r"/audit/checkpoint$"))
    assert ZH["console_consistent"] in tab.page.inner_text("[role=status]")
    assert (tab.errors, tab.accessibility_violations()) == ([], [])
    tab.open("/audit/log")
    tab.page.click(f"tr.entry >> nth=1 >> text={ZH['console_prove']}")
    tab.page.wait_for_url(re.compile(r"/audit/inclusion\?position="))
    tab.screenshot("audit-inclusion")
    assert ZH["console_included"] in tab.page.inner_text("[role=status]")
    assert tab.page.locator("tr.step").count() >= 1
    assert (tab.errors, tab.accessibility_violations()) == ([], [])
