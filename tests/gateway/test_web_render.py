"""A certificate rendered as a page, over real HTTP against a gateway process on anvil: the issuing
department's `GET /v1/certificates/{hash}/view` (labels from the type's schema, names from the chain,
the QR code, who may see it) and `POST /verify/show` for a dropped file (its verdict, withheld fields,
bad input as pages)."""

from __future__ import annotations

import html
import json
import re
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from gateway.certificates.document import redact
from gateway.settings import Settings
from gateway.web.pages import CONTENT_SECURITY_POLICY
from gateway.web.rendering import public_url
from gateway.web.text import EN, ZH
from ledger_node.devnet import Devnet
from ledger_node.types import code32

from tests.conftest import DEMO_DEPARTMENTS, MZ_MARRIAGE, GatewayProcess, issued_marriage

pytestmark = pytest.mark.slow

ERROR_SHAPE = {"code", "message", "details"}


def _view(gateway: GatewayProcess, certificate_hash: str, department: str | None = "MZ",
          query: str = "") -> httpx.Response:
    return gateway.client.get(f"/v1/certificates/{certificate_hash}/view{query}",
                              headers=gateway.auth(department) if department else {})


def _issued(gateway: GatewayProcess) -> dict[str, Any]:
    return issued_marriage(gateway)["certificate"]


def _show(gateway: GatewayProcess, document: dict[str, Any] | bytes) -> httpx.Response:
    """The result page's "show" button: the document posted again in the body."""
    content = document if isinstance(document, bytes) else json.dumps(document, ensure_ascii=False).encode()
    return gateway.client.post("/verify/show", files={"document": (None, content)})


def _is_page(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("text/html") and \
        response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_the_issuer_gets_its_certificate_as_a_page_with_the_content_security_policy(
        gateway_http: GatewayProcess) -> None:
    response = _view(gateway_http, _issued(gateway_http)["proof"]["certificateHash"])
    assert response.status_code == 200 and _is_page(response)


def test_each_field_is_labelled_with_the_title_in_its_types_schema(gateway_http: GatewayProcess) -> None:
    page = _view(gateway_http, _issued(gateway_http)["proof"]["certificateHash"]).text
    assert '<dt data-field="holderName">持证人姓名</dt><dd>张三</dd>' in page
    assert '<dt data-field="certificateNumber">证照编号</dt>' in page


def test_the_issuer_and_the_type_are_named_as_the_chain_registered_them(gateway_http: GatewayProcess,
                                                                         devnet: Devnet) -> None:
    registered = devnet.deployment.catalog.events.TypeRegistered().get_logs(
        from_block=0, argument_filters={"certificateType": code32(MZ_MARRIAGE)})[0]["args"]["name"]
    department = next(d["name"] for d in gateway_http.client.get("/v1/departments").json()["departments"]
                      if d["code"] == DEMO_DEPARTMENTS["MZ"])
    page = _view(gateway_http, _issued(gateway_http)["proof"]["certificateHash"]).text
    assert f"<h1>{registered}</h1>" in page and f"{department} ({DEMO_DEPARTMENTS['MZ']})" in page


def test_the_page_shows_the_dates_and_the_anchoring_block(gateway_http: GatewayProcess) -> None:
    answer = issued_marriage(gateway_http)
    certificate_hash = answer["certificate"]["proof"]["certificateHash"]
    status = gateway_http.client.get(f"/v1/certificates/{certificate_hash}").json()
    page = _view(gateway_http, certificate_hash).text
    assert answer["certificate"]["validFrom"] in page and f"{ZH['block']} {status['issuedBlock']})" in page


def test_the_page_shows_the_certificate_identifier(gateway_http: GatewayProcess) -> None:
    document = _issued(gateway_http)
    page = _view(gateway_http, document["proof"]["certificateHash"]).text
    assert (f'<dt>{ZH["certificate_identifier"]}</dt><dd class="hash certificate-identifier">'
            f'{document["certificateIdentifier"]}</dd>') in page


def test_the_qr_code_is_an_inline_svg_not_an_image_url(gateway_http: GatewayProcess) -> None:
    page = _view(gateway_http, _issued(gateway_http)["proof"]["certificateHash"]).text
    assert re.search(r'<figure class="qr">\s*<svg [^>]*class="qr-code"', page) and "data:" not in page


def test_the_page_links_to_the_public_status_page_on_the_url_the_request_came_in_on(
        gateway_http: GatewayProcess) -> None:
    certificate_hash = _issued(gateway_http)["proof"]["certificateHash"]
    page = _view(gateway_http, certificate_hash).text
    assert f'href="{str(gateway_http.client.base_url).rstrip("/")}/c/{certificate_hash}"' in page


def test_a_configured_public_url_is_where_the_status_page_is_reached() -> None:
    request = Request({"type": "http", "scheme": "http", "server": ("10.0.0.5", 8000), "path": "/", "headers": []})
    gateway = SimpleNamespace(settings=Settings.load(public_url="https://certs.example.gov.cn/"))
    assert public_url(request, gateway) == "https://certs.example.gov.cn"  # type: ignore[arg-type]


def test_another_department_is_refused_with_403_in_the_error_shape(gateway_http: GatewayProcess) -> None:
    response = _view(gateway_http, _issued(gateway_http)["proof"]["certificateHash"], department="GA")
    assert response.status_code == 403 and set(response.json()) == ERROR_SHAPE


def test_a_request_without_credentials_is_refused_with_401(gateway_http: GatewayProcess) -> None:
    response = _view(gateway_http, _issued(gateway_http)["proof"]["certificateHash"], department=None)
    assert response.status_code == 401 and set(response.json()) == ERROR_SHAPE


def test_a_hash_this_gateway_did_not_issue_is_404(gateway_http: GatewayProcess) -> None:
    response = _view(gateway_http, "0x" + "cd" * 32)
    assert response.status_code == 404 and set(response.json()) == ERROR_SHAPE


def test_a_script_in_a_subject_value_comes_back_escaped(gateway_http: GatewayProcess) -> None:
    certificate = gateway_http.client.post("/v1/certificates", headers=gateway_http.auth("MZ"), json={
        "type": MZ_MARRIAGE, "holder": "RIC:11010519491231002X",
        "subject": {"holderName": "<script>alert(1)</script>", "certificateNumber": "XSS-1", "issuedOn": "2026-11-24"}})
    page = _view(gateway_http, certificate.json()["certificate"]["proof"]["certificateHash"]).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_nested_value_is_shown_as_json_text(gateway_http: GatewayProcess) -> None:
    certificate = gateway_http.client.post("/v1/certificates", headers=gateway_http.auth("MZ"), json={
        "type": MZ_MARRIAGE, "holder": "RIC:11010519491231002X",
        "subject": {"certificateNumber": "NESTED-1", "issuedOn": "2026-11-24", "witnesses": [{"name": "<b>王五</b>"}]}})
    page = _view(gateway_http, certificate.json()["certificate"]["proof"]["certificateHash"]).text
    assert '<dd>[{&#34;name&#34;: &#34;&lt;b&gt;王五&lt;/b&gt;&#34;}]</dd>' in page


def test_the_page_is_in_english_with_lang_en(gateway_http: GatewayProcess) -> None:
    page = _view(gateway_http, _issued(gateway_http)["proof"]["certificateHash"], query="?lang=en").text
    assert f"<dt>{EN['issuer']}</dt>" in page


def test_the_result_page_posts_the_document_to_show_in_the_body(gateway_http: GatewayProcess) -> None:
    document = _issued(gateway_http)
    page = gateway_http.client.post("/verify", files={"file": ("c.json", json.dumps(document).encode())}).text
    form = re.search(r'<form class="show" method="post" action="/verify/show" enctype="multipart/form-data">'
                     r'\s*<input type="hidden" name="document" value="([^"]*)">', page)
    assert form is not None and json.loads(html.unescape(form.group(1))) == document


def test_a_dropped_file_is_rendered_with_its_verdict_and_labels(gateway_http: GatewayProcess) -> None:
    response = _show(gateway_http, _issued(gateway_http))
    assert response.status_code == 200 and _is_page(response)
    assert f'verdict-valid" role="status">{ZH["verdict_valid"]}<' in response.text
    assert '<dt data-field="holderName">持证人姓名</dt><dd>张三</dd>' in response.text


def test_a_dropped_files_page_links_to_its_status_page(gateway_http: GatewayProcess) -> None:
    document = _issued(gateway_http)
    base = str(gateway_http.client.base_url).rstrip("/")
    assert f'href="{base}/c/{document["proof"]["certificateHash"]}"' in _show(gateway_http, document).text


def test_a_dropped_file_whose_schema_the_chain_does_not_confirm_shows_field_names(
        gateway_http: GatewayProcess) -> None:
    document = _issued(gateway_http)
    document["credentialSchema"]["schemaHash"] = "0x" + "ee" * 32
    assert '<dt data-field="holderName">holderName</dt>' in _show(gateway_http, document).text


def test_a_changed_dropped_file_is_rendered_invalid(gateway_http: GatewayProcess) -> None:
    document = _issued(gateway_http)
    document["credentialSubject"]["holderName"] = "张四"
    assert f'verdict-invalid" role="status">{ZH["verdict_invalid"]}<' in _show(gateway_http, document).text


def test_the_show_pages_language_toggle_leads_back_to_the_verify_form(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.get("/verify/show?lang=en")
    assert (response.status_code, response.headers["location"]) == (303, "/verify?lang=en")


def test_a_redacted_field_of_a_dropped_file_is_shown_withheld_by_the_holder(gateway_http: GatewayProcess) -> None:
    page = _show(gateway_http, redact(_issued(gateway_http), ["holderName"])).text
    assert f'<dd class="field-withheld">{ZH["withheld_by_holder"]}</dd>' in page and "张三" not in page


def test_a_dropped_file_that_is_not_json_is_a_400_page(gateway_http: GatewayProcess) -> None:
    response = _show(gateway_http, b"<html>not json")
    assert response.status_code == 400 and _is_page(response) and ZH["not_json"] in response.text


def test_a_dropped_json_that_is_no_certificate_is_a_422_page(gateway_http: GatewayProcess) -> None:
    response = _show(gateway_http, b'"just a string"')
    assert response.status_code == 422 and _is_page(response)
