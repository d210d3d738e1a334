"""The web pages over real HTTP against a gateway process on anvil: `/`, `/verify` (form and result),
`/c/{hash}`, their Content-Security-Policy, escaping, errors as pages, and the English toggle."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from gateway.certificates.document import redact
from gateway.certificates.verification import Check, Outcome, Report
from gateway.web.pages import CONTENT_SECURITY_POLICY
from gateway.web.report import ReportSummary
from gateway.web.text import CHECK_FAILURES, EN, ZH

from tests.conftest import MZ_MARRIAGE, GatewayProcess, issued_marriage, marriage_request

pytestmark = pytest.mark.slow


def _verify(gateway: GatewayProcess, document: dict[str, Any] | bytes, lang: str = "") -> httpx.Response:
    """The form's POST, as a browser sends it without JavaScript: the document as an uploaded file."""
    content = document if isinstance(document, bytes) else json.dumps(document, ensure_ascii=False).encode()
    return gateway.client.post("/verify" + (f"?lang={lang}" if lang else ""),
                               files={"file": ("certificate.json", content, "application/json")})


def _is_page(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("text/html") and \
        response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", ["/", "/verify", "/verify?lang=en"])
def test_each_page_answers_html_with_the_content_security_policy(gateway_http: GatewayProcess, path: str) -> None:
    response = gateway_http.client.get(path)
    assert response.status_code == 200 and _is_page(response)


def test_the_policy_allows_no_inline_script_or_style() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert (directives["script-src"], directives["style-src"]) == ("'self'", "'self'")


def test_the_home_page_links_to_the_verifier(gateway_http: GatewayProcess) -> None:
    assert 'href="/verify"' in gateway_http.client.get("/").text


def test_the_verify_form_posts_a_file_without_javascript(gateway_http: GatewayProcess) -> None:
    page = gateway_http.client.get("/verify").text
    assert 'method="post" action="/verify" enctype="multipart/form-data"' in page and 'type="file"' in page
    assert "<script" not in page


def test_a_valid_file_is_shown_valid(gateway_http: GatewayProcess) -> None:
    response = _verify(gateway_http, issued_marriage(gateway_http)["certificate"])
    assert response.status_code == 200 and _is_page(response)
    assert f'class="verdict verdict-valid" role="status">{ZH["verdict_valid"]}<' in response.text


def test_a_valid_file_shows_its_certificate_identifier(gateway_http: GatewayProcess) -> None:
    document = issued_marriage(gateway_http)["certificate"]
    assert (f'<dt>{ZH["certificate_identifier"]}</dt><dd class="hash certificate-identifier">'
            f'{document["certificateIdentifier"]}</dd>') in _verify(gateway_http, document).text


def test_a_file_whose_identifier_was_altered_is_shown_invalid_naming_the_field(gateway_http: GatewayProcess) -> None:
    document = issued_marriage(gateway_http)["certificate"]
    text = document["certificateIdentifier"]
    document["certificateIdentifier"] = text[:-1] + ("0" if text[-1] != "0" else "1")
    page = _verify(gateway_http, document).text
    assert 'class="verdict verdict-invalid"' in page and "certificateIdentifier: wrong check character" in page


def test_a_valid_file_shows_the_issuer_by_its_name_on_the_chain(gateway_http: GatewayProcess) -> None:
    document = issued_marriage(gateway_http)["certificate"]
    issuer_code = document["issuer"]["id"].rsplit(":", 1)[-1]
    registered = next(d["name"] for d in gateway_http.client.get("/v1/departments").json()["departments"]
                      if d["code"] == issuer_code)
    assert f"{registered} ({issuer_code})" in _verify(gateway_http, document).text


def test_a_pasted_document_is_verified_like_a_file(gateway_http: GatewayProcess) -> None:
    document = json.dumps(issued_marriage(gateway_http)["certificate"])
    response = gateway_http.client.post("/verify", data={"document": document})
    assert 'verdict-valid"' in response.text


def test_a_changed_subject_value_is_invalid_naming_the_integrity_check(gateway_http: GatewayProcess) -> None:
    document = copy.deepcopy(issued_marriage(gateway_http)["certificate"])
    document["credentialSubject"]["holderName"] = "张四"
    page = _verify(gateway_http, document).text
    assert 'verdict-invalid"' in page
    assert '<tr class="outcome-invalid" data-check="integrity">' in page
    assert CHECK_FAILURES["zh"]["integrity"] in page
    assert ZH["field_differs"].format("持证人姓名") in page  # the label its type's schema gives holderName


def test_a_revoked_certificate_is_invalid_with_its_reason(gateway_http: GatewayProcess) -> None:
    document = issued_marriage(gateway_http)["certificate"]
    revoked = gateway_http.client.post(f"/v1/certificates/{document['proof']['certificateHash']}/revoke",
                                       json={"reason": 1}, headers=gateway_http.auth("MZ"))
    assert revoked.status_code == 200, revoked.text
    page = _verify(gateway_http, document).text
    assert 'verdict-invalid"' in page and '<tr class="outcome-invalid" data-check="not_revoked">' in page
    assert f"<dt>{ZH['revocation_reason']}</dt><dd class=\"revocation-reason\">误发</dd>" in page


def test_the_status_page_of_a_revoked_certificate_gives_its_reason(gateway_http: GatewayProcess) -> None:
    certificate_hash = issued_marriage(gateway_http)["certificate"]["proof"]["certificateHash"]
    revoked = gateway_http.client.post(f"/v1/certificates/{certificate_hash}/revoke", json={"reason": 2},
                                       headers=gateway_http.auth("MZ"))
    assert revoked.status_code == 200, revoked.text
    page = gateway_http.client.get(f"/c/{certificate_hash}").text
    assert f'role="status">{ZH["status_revoked"]}<' in page and '<dd class="revocation-reason">持证人申请</dd>' in page


def test_a_superseded_certificate_links_to_its_successor(gateway_http: GatewayProcess) -> None:
    document = issued_marriage(gateway_http)["certificate"]
    replaced = gateway_http.client.post(f"/v1/certificates/{document['proof']['certificateHash']}/supersede",
                                        json={k: v for k, v in marriage_request("J320100-2026-000009").items()
                                              if k != "type"},
                                        headers=gateway_http.auth("MZ"))
    assert replaced.status_code == 201, replaced.text
    successor = replaced.json()["certificate"]["proof"]["certificateHash"]
    assert f'href="/c/{successor}"' in _verify(gateway_http, document).text


def test_a_script_in_a_subject_field_comes_back_as_text(gateway_http: GatewayProcess) -> None:
    document = copy.deepcopy(issued_marriage(gateway_http)["certificate"])
    document["credentialSubject"]["holderName"] = "<script>alert(1)</script>"
    page = _verify(gateway_http, document).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_file_that_is_not_json_is_a_400_page(gateway_http: GatewayProcess) -> None:
    response = _verify(gateway_http, b"this is not json {")
    assert response.status_code == 400 and _is_page(response) and ZH["not_json"] in response.text


def test_json_that_is_not_an_object_is_a_422_page(gateway_http: GatewayProcess) -> None:
    response = _verify(gateway_http, b"[1, 2, 3]")
    assert response.status_code == 422 and _is_page(response) and ZH["not_a_document"] in response.text


def test_an_empty_form_is_a_400_page(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.post("/verify", data={"document": ""})
    assert response.status_code == 400 and _is_page(response) and ZH["no_document"] in response.text


def test_a_pasted_document_nested_too_deeply_is_refused_before_parsing(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.post("/verify", data={"document": "[" * 100_000})
    assert response.status_code == 422 and _is_page(response)


def test_a_file_over_the_request_size_limit_is_refused_with_413(gateway_http: GatewayProcess) -> None:
    assert _verify(gateway_http, b" " * (2 * 1024 * 1024)).status_code == 413


def test_an_unknown_language_falls_back_to_chinese(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.get("/verify?lang=klingon")
    assert response.status_code == 200 and f"<h1>{ZH['verify_title']}</h1>" in response.text


def test_a_valid_file_shows_the_type_by_its_name_in_the_catalog(gateway_http: GatewayProcess) -> None:
    gateway_http.wait_indexed()
    registered = next(t["name"] for t in gateway_http.client.get("/v1/catalog/types").json()["types"]
                      if t["code"] == MZ_MARRIAGE)
    assert registered == "结婚证"
    assert f"{registered} ({MZ_MARRIAGE})" in _verify(gateway_http, issued_marriage(gateway_http)["certificate"]).text


def test_the_status_page_shows_the_chains_status(gateway_http: GatewayProcess) -> None:
    certificate_hash = issued_marriage(gateway_http)["certificate"]["proof"]["certificateHash"]
    response = gateway_http.client.get(f"/c/{certificate_hash}")
    assert response.status_code == 200 and _is_page(response)
    assert f'role="status">{ZH["status_valid"]}<' in response.text


def test_the_status_page_carries_no_personal_data(gateway_http: GatewayProcess) -> None:
    document = issued_marriage(gateway_http)["certificate"]
    page = gateway_http.client.get(f"/c/{document['proof']['certificateHash']}").text
    assert not [value for value in document["credentialSubject"].values() if str(value) in page]


def test_an_unknown_hash_is_a_404_page_in_the_same_layout(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.get("/c/0x" + "ab" * 32)
    assert response.status_code == 404 and _is_page(response)
    assert ZH["not_found"] in response.text and 'class="brand"' in response.text


def test_a_malformed_hash_is_a_422_page(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.get("/c/not-a-hash")
    assert response.status_code == 422 and _is_page(response)


def test_english_is_one_query_parameter_away(gateway_http: GatewayProcess) -> None:
    page = gateway_http.client.get("/verify?lang=en").text
    assert f"<h1>{EN['verify_title']}</h1>" in page and 'action="/verify?lang=en"' in page


def test_the_chinese_page_links_to_its_english_twin(gateway_http: GatewayProcess) -> None:
    assert 'href="/verify?lang=en"' in gateway_http.client.get("/verify").text


def test_an_english_result_says_valid_in_english(gateway_http: GatewayProcess) -> None:
    page = _verify(gateway_http, issued_marriage(gateway_http)["certificate"], lang="en").text
    assert f'verdict-valid" role="status">{EN["verdict_valid"]}<' in page


class NoNames:
    """`report.Names` of a chain that knows no name."""

    def department(self, code: str) -> None:
        return None

    def type(self, code: str) -> None:
        return None


def test_a_report_whose_chain_checks_could_not_run_is_shown_unchecked_not_invalid() -> None:
    report = Report("0x" + "11" * 32, [Check("integrity", Outcome.VALID, "content matches"),
                                       Check("anchored", Outcome.ERROR, "the chain does not answer")])
    assert ReportSummary.of(report, {}, NoNames(), str).verdict == "unchecked"


def test_a_redacted_field_is_shown_as_withheld_by_the_holder(gateway_http: GatewayProcess) -> None:
    document = redact(issued_marriage(gateway_http)["certificate"], ["holderName"])
    page = _verify(gateway_http, document).text
    assert 'verdict-valid"' in page and f"1 {ZH['withheld']}" in page


def test_the_stylesheet_is_served_by_the_gateway(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.get("/static/site.css")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")
