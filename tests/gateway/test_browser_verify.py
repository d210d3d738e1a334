"""The verify page in Chromium, against a real gateway on anvil: a file chosen in the browser, the verdict
a reader sees, the successor's link, a chain that stopped answering, and a document that carries a script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from gateway.web.text import CHECK_FAILURES, REVOCATION_REASONS, ZH
from tests.conftest import BrowserTab, Devnet, GatewayProcess, issued_marriage, marriage_request

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def verify_file(tab: BrowserTab, document: bytes | dict[str, Any], *, fresh: bool = False) -> str:
    """Chooses `document` as the certificate file on /verify, submits, and returns the verdict shown."""
    tab.open("/verify")
    content = document if isinstance(document, bytes) else json.dumps(document, ensure_ascii=False).encode()
    tab.page.set_input_files("#file", files=[{"name": "certificate.json", "mimeType": "application/json",
                                               "buffer": content}])
    if fresh:
        tab.page.check("#fresh")
    with tab.page.expect_navigation():
        tab.page.click("button[type=submit]")
    return tab.page.locator(".verdict").inner_text()


def assert_clean(tab: BrowserTab) -> None:
    """No script error or CSP refusal, and nothing serious for axe-core."""
    assert tab.errors == []
    assert tab.accessibility_violations() == []


def test_a_valid_file_is_shown_valid(browser_tab: BrowserTab, gateway_http: GatewayProcess) -> None:
    assert verify_file(browser_tab, issued_marriage(gateway_http)["certificate"]) == ZH["verdict_valid"]
    browser_tab.screenshot("verify-valid")
    assert_clean(browser_tab)


def test_one_changed_byte_of_a_subject_value_is_invalid_naming_that_field(
        browser_tab: BrowserTab, gateway_http: GatewayProcess) -> None:
    number = "J320100-2026-BYTE-1"
    content = json.dumps(issued_marriage(gateway_http, number=number)["certificate"], ensure_ascii=False).encode()
    changed = content.replace(number.encode(), number[:-1].encode() + b"2")
    assert len(changed) == len(content) and changed != content
    assert verify_file(browser_tab, changed) == ZH["verdict_invalid"]
    integrity = browser_tab.page.locator('tr[data-check="integrity"]').inner_text()
    assert CHECK_FAILURES["zh"]["integrity"] in integrity
    assert ZH["field_differs"].format("证照编号") in integrity  # certificateNumber, as its type's schema calls it
    browser_tab.screenshot("verify-tampered")
    assert_clean(browser_tab)


def test_a_revoked_certificate_is_shown_revoked_with_its_reason(browser_tab: BrowserTab,
                                                                gateway_http: GatewayProcess) -> None:
    document = issued_marriage(gateway_http)["certificate"]
    revoked = gateway_http.client.post(f"/v1/certificates/{document['proof']['certificateHash']}/revoke",
                                       json={"reason": 2}, headers=gateway_http.auth("MZ"))
    assert revoked.status_code == 200, revoked.text
    assert verify_file(browser_tab, document) == ZH["verdict_invalid"]
    assert CHECK_FAILURES["zh"]["not_revoked"] in browser_tab.page.locator('tr[data-check="not_revoked"]').inner_text()
    assert browser_tab.page.locator("dd.revocation-reason").inner_text() == REVOCATION_REASONS["zh"][2]
    assert_clean(browser_tab)


def test_a_superseded_certificate_links_to_its_successor(browser_tab: BrowserTab,
                                                         gateway_http: GatewayProcess) -> None:
    document = issued_marriage(gateway_http)["certificate"]
    replacement = {k: v for k, v in marriage_request("J320100-2026-SUCCESSOR").items() if k != "type"}
    successor = gateway_http.client.post(f"/v1/certificates/{document['proof']['certificateHash']}/supersede",
                                         json=replacement, headers=gateway_http.auth("MZ")).json()["certificate"]
    assert verify_file(browser_tab, document) == ZH["verdict_invalid"]
    browser_tab.screenshot("verify-superseded")
    assert_clean(browser_tab)
    with browser_tab.page.expect_navigation():
        browser_tab.page.click("a.successor")
    assert browser_tab.page.url.split("?")[0].endswith("/c/" + successor["proof"]["certificateHash"])
    assert browser_tab.page.locator(".verdict").inner_text() == ZH["status_valid"]
    browser_tab.screenshot("certificate-status")
    assert_clean(browser_tab)


@pytest.fixture
def gateway_of_its_own(own_devnet: Devnet, tmp_path: Path) -> Iterator[GatewayProcess]:
    """A gateway on a devnet of its own, whose chain a test may stop."""
    server = GatewayProcess(own_devnet, tmp_path / "gateway").start()
    yield server
    server.stop()


def test_a_stopped_chain_is_could_not_be_checked_never_invalid(open_tab: Any,
                                                               gateway_of_its_own: GatewayProcess) -> None:
    document = issued_marriage(gateway_of_its_own)["certificate"]
    gateway_of_its_own.devnet.node.stop()
    tab = open_tab(gateway_of_its_own)
    assert verify_file(tab, document, fresh=True) == ZH["verdict_unchecked"]
    assert ZH["verdict_unchecked_about"] in tab.page.locator("main").inner_text()
    tab.screenshot("verify-unchecked")
    assert_clean(tab)


def test_a_script_in_a_subject_field_is_shown_as_text_and_never_runs(browser_tab: BrowserTab,
                                                                     gateway_http: GatewayProcess) -> None:
    script = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    request = marriage_request("J320100-2026-SCRIPT")
    request["subject"]["holderName"] = script
    issued = gateway_http.client.post("/v1/certificates", json=request, headers=gateway_http.auth("MZ"))
    assert issued.status_code == 201, issued.text
    assert verify_file(browser_tab, issued.json()["certificate"]) == ZH["verdict_valid"]
    assert script in browser_tab.page.locator("dl.contents").inner_text()
    assert browser_tab.page.evaluate("window.pwned") is None
    assert_clean(browser_tab)
