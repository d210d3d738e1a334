"""A certificate rendered for people and for paper: `GET /v1/certificates/{certificateHash}/view` (the
issuing department's view of a document this gateway signed) and `POST /verify/show` (the same page for
a file dropped on `/verify`, its verdict on it).

The page shows the subject's fields under the labels of the type's registered schema (a property's
`title`, else the field's name), the issuer's and the type's names from the chain, the dates and the
anchoring, and a QR code (SVG, drawn by segno, inline: an `<svg>` is not script) pointing to the
certificate's public status page `<public URL>/c/<hash>`. The document is attacker-written: every value
goes through Jinja2's escaping; only the QR code's SVG, which segno draws from a URL this module builds
of a checked hash, is marked safe.
"""

from __future__ import annotations

from functools import lru_cache

import segno
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from gateway.api.deps import CertificateHashPath, Member, Services
from gateway.errors import Forbidden, NotFound
from gateway.issuance import parse_hash
from gateway.service import Gateway
from gateway.web.pages import LanguageQuery, render, summarised, verified_form
from gateway.web.report import ReportSummary
from gateway.web.text import REVOCATION_REASONS, WORDS, Language, language

router = APIRouter(include_in_schema=False)


@router.get("/v1/certificates/{certificate_hash}/view", response_class=HTMLResponse)
def view(request: Request, certificate_hash: CertificateHashPath, caller: Member, gateway: Services,
         lang: LanguageQuery = None) -> HTMLResponse:
    """The document this gateway signed, for the department that issued it (others: 403; a hash this
    gateway did not issue: 404), with its anchoring evidence once mined."""
    found = gateway.issuance.issued(parse_hash(certificate_hash))
    if found is None:
        raise NotFound(f"this gateway issued no certificate {certificate_hash}")
    row, operation = found
    if operation.department != caller.department:
        raise Forbidden("only the department that issued a certificate may view it")
    document = gateway.issuance.document_of(row, operation)
    summary = summarised(gateway, gateway.verifier.verify(document), document, language(lang))
    return rendered(request, gateway, language(lang), summary, with_verdict=False)


@router.post("/verify/show", response_class=HTMLResponse)
def show(request: Request, gateway: Services, lang: LanguageQuery = None, file: UploadFile | None = File(None),
         document: str = Form("")) -> HTMLResponse:
    """The result page's "show" button: the dropped document (posted again in the body) rendered, with
    its verdict; parsed, bounded and verified exactly as `POST /verify` does."""
    page_language = language(lang)
    checked = verified_form(request, gateway, page_language, file, document)
    if isinstance(checked, HTMLResponse):
        return checked
    return rendered(request, gateway, page_language, checked[1], with_verdict=True)


@router.get("/verify/show")
async def show_without_document(lang: LanguageQuery = None) -> RedirectResponse:
    """A GET has no document (it travels only in a POST body): the show page's language toggle leads
    back to the verify form, in the language asked for."""
    return RedirectResponse("/verify?lang=en" if language(lang) == "en" else "/verify", status_code=303)


def rendered(request: Request, gateway: Gateway, page_language: Language, summary: ReportSummary, *,
             with_verdict: bool) -> HTMLResponse:
    """The rendering page of a verified document's `summary`."""
    status_url = f"{public_url(request, gateway)}/c/{summary.certificate_hash}" if summary.certificate_hash else None
    return render(request, page_language, "rendering.html", summary=summary, with_verdict=with_verdict,
                  status_url=status_url,
                  qr_code=qr_svg(status_url, WORDS[page_language]["qr_label"]) if status_url else None,
                  reasons=REVOCATION_REASONS[page_language])


def public_url(request: Request, gateway: Gateway) -> str:
    """Where people reach this gateway: CERTNET_PUBLIC_URL, else the URL this request came in on."""
    configured = gateway.settings.public_url
    return str(configured if configured is not None else request.base_url).rstrip("/")


@lru_cache(maxsize=256)  # choosing the best mask is most of the work (about 15 ms), the same for each view
def qr_svg(url: str, label: str) -> Markup:
    """`url` as a QR code, an inline `<svg>` titled `label` (the page's own words, escaped by segno)."""
    return Markup(segno.make(url, error="m").svg_inline(dark="#000", light="#fff", title=label, svgclass="qr-code",
                                                        omitsize=True))  # sized by the stylesheet
