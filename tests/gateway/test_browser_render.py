"""A rendered certificate in Debian's Chromium against a gateway process on anvil: the QR code on the
issuer's view decodes to the certificate's status page, which shows it valid; the view prints on one A4
page; the result page's show button renders a dropped file; a `<script>` in a field never runs; no
serious accessibility violations. Screenshots: `certificate-view` and `verify-show`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import zxingcpp
from PIL import Image

from gateway.web.text import ZH
from tests.conftest import MZ_MARRIAGE, BrowserTab, GatewayProcess, issued_marriage

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Subject fields beyond the schema's four (a long address each) that a printed view still fits on one A4 sheet.
PRINTED_EXTRA_FIELDS = 16
SCRIPT_VALUE = "<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">"


@pytest.fixture
def issuer_tab(browser_tab: BrowserTab, gateway_http: GatewayProcess) -> BrowserTab:
    """A tab sending civil affairs' (MZ) API token with every request, as the issuing department's clerk."""
    browser_tab.page.set_extra_http_headers(gateway_http.auth("MZ"))
    return browser_tab


@pytest.fixture
def issued(gateway_http: GatewayProcess) -> dict[str, Any]:
    return issued_marriage(gateway_http)["certificate"]


def _view_path(document: dict[str, Any]) -> str:
    return f"/v1/certificates/{document['proof']['certificateHash']}/view"


def _decoded_qr_code(tab: BrowserTab, folder: Path) -> str:
    """The text of the QR code on the page, read by zxing-cpp from a screenshot of it."""
    image = folder / "qr.png"
    tab.page.locator("figure.qr svg").screenshot(path=image)
    codes = zxingcpp.read_barcodes(Image.open(image))
    assert len(codes) == 1
    return codes[0].text


def _issued_with(gateway: GatewayProcess, **fields: str) -> dict[str, Any]:
    """A certificate of civil affairs (MZ) with these subject fields (the demo schema allows any more)."""
    response = gateway.client.post("/v1/certificates", headers=gateway.auth("MZ"), json={
        "type": MZ_MARRIAGE, "holder": "RIC:11010519491231002X",
        "subject": {"certificateNumber": "BROWSER-1", "issuedOn": "2026-11-24", **fields}})
    assert response.status_code == 201, response.text
    return response.json()["certificate"]


def _shown_from_verify(tab: BrowserTab, document: dict[str, Any], folder: Path) -> None:
    """Drops `document` on /verify, then presses the result page's show button."""
    dropped = folder / "certificate.json"
    dropped.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    tab.open("/verify")
    tab.page.set_input_files("#file", dropped)
    with tab.page.expect_navigation():
        tab.page.click("main form button[type=submit]")
    with tab.page.expect_navigation():
        tab.page.click(f"form.show button:has-text('{ZH['show_certificate']}')")


def test_the_qr_code_on_the_issuers_view_decodes_to_the_status_page_url(
        issuer_tab: BrowserTab, issued: dict[str, Any], tmp_path: Path) -> None:
    issuer_tab.open(_view_path(issued))
    issuer_tab.screenshot("certificate-view")
    assert _decoded_qr_code(issuer_tab, tmp_path) == f"{issuer_tab.base_url}/c/{issued['proof']['certificateHash']}"


def test_the_page_the_qr_code_points_to_shows_the_certificate_valid(
        issuer_tab: BrowserTab, issued: dict[str, Any], tmp_path: Path) -> None:
    issuer_tab.open(_view_path(issued))
    issuer_tab.page.goto(_decoded_qr_code(issuer_tab, tmp_path))
    assert issuer_tab.page.locator("p.verdict").inner_text() == ZH["status_valid"]


def test_the_view_of_a_certificate_of_20_fields_prints_on_one_a4_page(issuer_tab: BrowserTab,
                                                                      gateway_http: GatewayProcess) -> None:
    long_lines = {f"address{n}": f"江苏省南京市玄武区中山路 {n} 号 {n} 幢 {n} 单元 {n} 室"
                  for n in range(PRINTED_EXTRA_FIELDS)}
    issuer_tab.open(_view_path(_issued_with(gateway_http, holderName="张三", **long_lines)))
    issuer_tab.page.emulate_media(media="print")
    pdf = issuer_tab.page.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1


def test_the_printed_view_has_no_header_navigation_or_links_back(issuer_tab: BrowserTab,
                                                                  issued: dict[str, Any]) -> None:
    issuer_tab.open(_view_path(issued))
    issuer_tab.page.emulate_media(media="print")
    assert [issuer_tab.page.locator(selector).is_visible() for selector in ("header.site", ".screen-only")] == \
        [False, False]


def test_the_issuers_view_has_no_serious_accessibility_violations(issuer_tab: BrowserTab,
                                                                   issued: dict[str, Any]) -> None:
    issuer_tab.open(_view_path(issued))
    assert issuer_tab.accessibility_violations() == [] and issuer_tab.errors == []


def test_the_show_button_on_the_verify_result_renders_the_dropped_file(
        browser_tab: BrowserTab, issued: dict[str, Any], tmp_path: Path) -> None:
    _shown_from_verify(browser_tab, issued, tmp_path)
    browser_tab.screenshot("verify-show")
    page = browser_tab.page
    assert page.url.endswith("/verify/show") and page.locator("p.verdict").inner_text() == ZH["verdict_valid"]
    assert page.locator("dt[data-field=holderName] + dd").inner_text() == issued["credentialSubject"]["holderName"]


def test_the_show_page_has_no_serious_accessibility_violations(browser_tab: BrowserTab, issued: dict[str, Any],
                                                                tmp_path: Path) -> None:
    _shown_from_verify(browser_tab, issued, tmp_path)
    assert browser_tab.accessibility_violations() == [] and browser_tab.errors == []


@pytest.mark.parametrize("shown", ["issuer's view", "show page"])
def test_a_script_in_a_field_runs_no_script(shown: str, open_tab: Callable[[GatewayProcess], BrowserTab],
                                            gateway_http: GatewayProcess, tmp_path: Path) -> None:
    document = _issued_with(gateway_http, holderName=SCRIPT_VALUE)
    tab = open_tab(gateway_http)
    if shown == "show page":
        _shown_from_verify(tab, document, tmp_path)
    else:
        tab.page.set_extra_http_headers(gateway_http.auth("MZ"))
        tab.open(_view_path(document))
    assert tab.page.locator("dt[data-field=holderName] + dd").inner_text() == SCRIPT_VALUE
    assert tab.page.evaluate("typeof window.pwned") == "undefined" and tab.errors == []
