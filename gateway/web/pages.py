"""The web pages, server-rendered: `/` (what exists), `/verify` (a form that works without JavaScript,
its POST the result page) and `/c/{certificateHash}` (the public status a QR code points to).

Thin like the API's routers: verification is the same `Verifier` call as `POST /v1/verify`, the
status page shows `GET /v1/certificates/{hash}`'s answer and nothing more. Errors answer as pages in
the same layout, with the status the one mapping (`gateway.api.errors.status_of`) gives. Every page
carries a Content-Security-Policy allowing only the gateway's own script and style — none inline —
and Jinja2 escapes everything it prints: a certificate is input an attacker writes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pydantic import ValidationError

from gateway.api import certificates
from gateway.api.deps import Services
from gateway.api.errors import MAX_BODY_DEPTH, status_of
from gateway.api.views import CertificateStatusView
from gateway.certificates import document as doc
from gateway.certificates.document import nested_deeper_than, to_datetime_text
from gateway.certificates.verification import Outcome, Report
from gateway.chain import CONNECTION_ERRORS
from gateway.errors import ChainUnavailable, GatewayError, NotFound
from gateway.models import VerifyRequest
from gateway.service import Gateway
from gateway.web.report import ReportSummary
from gateway.web.text import (CHECK_FAILURES, CHECK_NAMES, LANGUAGES, METADATA_LABELS, REVOCATION_REASONS, WORDS,
                              Language, language)
from ledger_node.errors import LedgerError

HERE = Path(__file__).parent
#: Only the gateway's own files; no inline script or style, no frames, forms only to the gateway.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer"}

TEMPLATES = Jinja2Templates(env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True))
TEMPLATES.env.filters["utc"] = lambda seconds: to_datetime_text(dt.datetime.fromtimestamp(seconds, dt.timezone.utc))
router = APIRouter(include_in_schema=False)
LanguageQuery = Annotated[str | None, Query(alias="lang")]  # anything but "en" is Chinese: never an error


def render(request: Request, lang: Language, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """`template` in `lang`, with the security headers; the toggle leads to the same page's GET in the
    other language."""
    other = next(code for code in LANGUAGES if code != lang)
    response = TEMPLATES.TemplateResponse(request, template, {
        "t": WORDS[lang], "lang": lang, "query": "?lang=en" if lang == "en" else "",
        "toggle_url": f"{request.url.path}?lang={other}", **context}, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def error_page(request: Request, lang: Language, status: int, message: str, detail: str = "") -> HTMLResponse:
    return render(request, lang, "error.html", status, message=message, detail=detail)


def gateway_error_page(request: Request, lang: Language, error: GatewayError) -> HTMLResponse:
    """A gateway error as a page, its status from the API's one mapping."""
    words = WORDS[lang]
    message = {NotFound.code: words["not_found"], ChainUnavailable.code: words["unavailable"]}.get(
        error.code, words["error_title"])
    return error_page(request, lang, status_of(error), message, error.message)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, lang: LanguageQuery = None) -> HTMLResponse:
    return render(request, language(lang), "home.html")


@router.get("/verify", response_class=HTMLResponse)
async def verify_form(request: Request, lang: LanguageQuery = None) -> HTMLResponse:
    return render(request, language(lang), "verify.html")


@router.post("/verify", response_class=HTMLResponse)
def verify(request: Request, gateway: Services, lang: LanguageQuery = None, file: UploadFile | None = File(None),
           document: str = Form(""), fresh: bool = Form(False)) -> HTMLResponse:
    """The form's POST: the document verified as `POST /v1/verify` verifies it (`fresh`: at the chain's head),
    rendered as the result page (with a button that posts it again to `/verify/show`)."""
    page_language = language(lang)
    checked = verified_form(request, gateway, page_language, file, document, fresh=fresh)
    if isinstance(checked, HTMLResponse):
        return checked
    shown, summary = checked
    return render(request, page_language, "result.html", summary=summary, check_names=CHECK_NAMES[page_language],
                  check_failures=CHECK_FAILURES[page_language], reasons=REVOCATION_REASONS[page_language],
                  document_text=json.dumps(shown, ensure_ascii=False))


def verified_form(request: Request, gateway: Gateway, page_language: Language, file: UploadFile | None,
                  document: str, *, fresh: bool = False) -> tuple[dict[str, Any], ReportSummary] | HTMLResponse:
    """A form's document (a file or pasted JSON, bounded by the request size limit) and its verification
    summary, verified as `POST /v1/verify` verifies it; or the error page saying why it could not be."""
    words = WORDS[page_language]
    uploaded = file.file.read() if file is not None else b""
    raw = uploaded if uploaded.strip() else document.encode()
    if not raw.strip():
        return error_page(request, page_language, 400, words["no_document"])
    if nested_deeper_than(raw, MAX_BODY_DEPTH):  # before parsing: a pasted form field escapes the guard's check
        return error_page(request, page_language, 422, words["not_a_document"], f"nested deeper than {MAX_BODY_DEPTH}")
    try:
        parsed = json.loads(raw)
    except ValueError:  # bytes that are not UTF-8 too
        return error_page(request, page_language, 400, words["not_json"])
    try:
        body = VerifyRequest.model_validate({"document": parsed})
    except ValidationError as error:
        return error_page(request, page_language, 422, words["not_a_document"],
                          "; ".join(problem["msg"] for problem in error.errors()[:3]))
    try:
        report = gateway.verifier.verify(body.document, fresh=fresh)
    except GatewayError as error:
        return gateway_error_page(request, page_language, error)
    return body.document, summarised(gateway, report, body.document, page_language)


def summarised(gateway: Gateway, report: Report, document: dict[str, Any], page_language: Language) -> ReportSummary:
    """`report` on `document` as the pages show it, with registered names and the schema's labels."""
    return ReportSummary.of(report, document, ChainNames(gateway), field_labels(gateway, report, document, page_language))


@router.get("/c/{certificate_hash}", response_class=HTMLResponse)
def status_page(request: Request, certificate_hash: str, gateway: Services,
                lang: LanguageQuery = None) -> HTMLResponse:
    """What `GET /v1/certificates/{hash}` answers, for a person: no personal data is on the chain."""
    page_language = language(lang)
    try:
        view: CertificateStatusView = certificates.status(certificate_hash, gateway, fresh=False)
    except GatewayError as error:
        return gateway_error_page(request, page_language, error)
    except CONNECTION_ERRORS:
        return gateway_error_page(request, page_language, ChainUnavailable("the chain does not answer"))
    names = ChainNames(gateway)
    return render(request, page_language, "status.html", view=view, issuer_name=names.department(view.issuer),
                  type_name=names.type(view.certificate_type),
                  reasons=REVOCATION_REASONS[page_language])


def field_labels(gateway: Gateway, report: Report, document: dict[str, Any], lang: Language) -> Callable[[str], str]:
    """Names a document's fields for a reader: a metadata field in the page's language; a subject field
    (`credentialSubject.<name>`) as the schema the catalog registered for its type version describes it (`title`,
    else `description`), else by its name. The schema comes from the gateway's schema store, and only when the
    chain confirmed it is the document's (its `issuer_authorised` check passed): a dropped file can name any."""
    confirmed = any(check.name == "issuer_authorised" and check.outcome is Outcome.VALID for check in report.checks)
    try:
        properties = gateway.issuance.schemas.get(doc.schema_hash(document)).get("properties", {}) if confirmed else {}
    except (GatewayError, LedgerError, LookupError, TypeError, ValueError):  # a schema this gateway does not hold
        properties = {}

    def label(path: str) -> str:
        section, _, name = path.partition(".")
        if section != doc.SUBJECT:
            return METADATA_LABELS[lang].get(path, path)
        described = properties.get(name)
        return (described.get("title") or described.get("description") if isinstance(described, dict) else None) or name
    return label


@dataclass
class ChainNames:
    """The registered names (`report.Names`) as this gateway knows them: a department's from the consortium
    contract (cached as its roles are), a type's from the catalog's events in the index."""

    gateway: Gateway

    def department(self, code: str) -> str | None:
        try:
            return self.gateway.chain.department(code).name
        except (GatewayError, ValueError, *CONNECTION_ERRORS):  # unknown, or the chain does not answer
            return None

    def type(self, code: str) -> str | None:
        return self.gateway.chain_state.type_name(code)
