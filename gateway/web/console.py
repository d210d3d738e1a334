"""`/audit`: the auditors' console, for departments holding the auditor role on chain.

Sign-in: by pasting a development API token (when the gateway accepts tokens), or by a single-use link
that `certnet console login <department>` signs with a key of the department (`gateway.auth.sign_in_token`;
its secret travels in the URL's fragment, which a browser sends nowhere, and `console.js` POSTs it). Either
opens a session kept in the database (`ConsoleSessions`) behind an HttpOnly, SameSite=Strict cookie on
`/audit`. Every POST carries a CSRF token: the session's, or before sign-in a random one doubled in a cookie.
The auditor role is read from the chain again at every request, as the API does.

The views are thin: each is the call the matching `/v1/audit` or `/v1/certificates/{hash}/history`
endpoint makes (those functions themselves, so that the console's reads land in the access log as the API's
do), rendered. Filters are GET query parameters holding only codes, times, hashes and positions.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from gateway.api import audit, certificates
from gateway.api.deps import Services, known_department, known_type
from gateway.audit.access_log import ACTIONS as LOG_ACTIONS
from gateway.audit.access_log import Action
from gateway.audit.merkle_log import sibling_sides, verify_consistency
from gateway.auth import Caller
from gateway.chain import CONNECTION_ERRORS
from gateway.errors import ChainUnavailable, GatewayError, Unauthenticated
from gateway.models import CODE_PATTERN, MAX_ID, Moment
from gateway.provenance import ACTIONS as EVENT_ACTIONS
from gateway.provenance import EVENT_NAMES, MAX_PAGE, EventAction
from gateway.service import Gateway
from gateway.web.console_sessions import COOKIE, COOKIE_PATH, ConsoleSessions, SignedIn, csrf_matches
from gateway.web.pages import TEMPLATES, LanguageQuery, error_page, gateway_error_page, render
from gateway.web.text import WORDS, Language, language
from ledger_node.types import Role

router = APIRouter(prefix="/audit", include_in_schema=False)
#: Before sign-in there is no session to hold a CSRF token: the sign-in page puts a random one in this
#: cookie and in its forms, and a sign-in POST must carry both, equal.
SIGN_IN_COOKIE = "certnet_console_sign_in"
SIGN_IN_COOKIE_SECONDS = 3600
#: Rows per page unless `limit=` says otherwise; more than MAX_PAGE (the API's bound) is a 422 page.
PAGE_SIZE = 50
#: A development API token is `cnt_` and 43 characters; a pasted one longer than this is not one.
MAX_TOKEN_LENGTH = 200
#: A sign-in link is the gateway's URL and a token of at most `gateway.auth.MAX_SIGN_IN_TOKEN` characters.
MAX_LINK_LENGTH = 2048
#: The views, as the console's navigation lists them (each `/audit/<view>`).
VIEWS = ("events", "history", "log", "checkpoint", "inclusion")


def _sessions(gateway: Gateway) -> ConsoleSessions:
    return ConsoleSessions(gateway.sessions, lifetime_seconds=gateway.settings.console_session_minutes * 60)


def _auditor(request: Request, gateway: Gateway) -> SignedIn | None:
    """The request's live session, None without one; `Forbidden` when its department no longer holds
    the auditor role or is not active (read from the chain, as the API reads it)."""
    signed_in = _sessions(gateway).find(request.cookies.get(COOKIE))
    if signed_in is not None:
        gateway.chain.require_active(signed_in.department, Role.AUDITOR)
    return signed_in


def _to_sign_in(lang: Language) -> RedirectResponse:
    return RedirectResponse("/audit/sign-in" + ("?lang=en" if lang == "en" else ""), status_code=303)


def _guarded(request: Request, lang: Language, answer: Callable[[], Response]) -> Response:
    """`answer()`, or the error page of what it raised (`_failure_page`)."""
    try:
        return answer()
    except (GatewayError, *CONNECTION_ERRORS) as error:
        return _failure_page(request, lang, error)


def _failure_page(request: Request, lang: Language, error: Exception) -> HTMLResponse:
    """A gateway error's page, its status from the API's one mapping; a chain that does not answer is 503."""
    if not isinstance(error, GatewayError):
        error = ChainUnavailable("the chain does not answer")
    return gateway_error_page(request, lang, error)


def _view(request: Request, gateway: Gateway, lang: str | None, template: str,
          show: Callable[[Caller], dict[str, Any]]) -> Response:
    """A console view: the sign-in page for a request without a session, else `template` with what
    `show(caller)` returns; filters that do not parse make a 422 page naming them."""
    page_language = language(lang)

    def answer() -> Response:
        signed_in = _auditor(request, gateway)
        if signed_in is None:
            return _to_sign_in(page_language)
        try:
            context = show(Caller(signed_in.department, "console session"))
        except ValidationError as error:
            return error_page(request, page_language, 422, WORDS[page_language]["console_bad_filter"],
                              "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in error.errors()[:5]))
        return render(request, page_language, template, signed_in=signed_in, views=VIEWS, **context)
    return _guarded(request, page_language, answer)


def _filters(request: Request) -> dict[str, str]:
    """The query's filters; an empty field of a GET form is no filter."""
    return {name: value for name, value in request.query_params.items() if value and name != "lang"}


def _next_url(request: Request, **replaced: Any) -> str:
    return f"{request.url.path}?{urlencode({**dict(request.query_params), **replaced})}"


class _Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: str | None = Field(None, pattern=CODE_PATTERN)
    since: Moment | None = None
    until: Moment | None = None
    limit: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE)


class EventFilters(_Filters):
    type: str | None = Field(None, pattern=CODE_PATTERN)
    action: EventAction | None = None
    cursor: str | None = Field(None, pattern=r"^[0-9]{1,18}$")


class LogFilters(_Filters):
    action: Action | None = None
    after: int = Field(-1, ge=-1, le=MAX_ID)


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certificate: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{64}$")
    #: `next` of the previous page of accesses (`/history/accesses`'s cursor): shows that page of older accesses.
    cursor: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,80}$")
    limit: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE)


class InclusionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: int | None = Field(None, ge=0, le=MAX_ID)


# ----- signing in and out -----

@router.get("", response_class=HTMLResponse)
def console_home(request: Request, gateway: Services, lang: LanguageQuery = None) -> Response:
    return _view(request, gateway, lang, "console_home.html", lambda caller: {})


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, gateway: Services, lang: LanguageQuery = None) -> Response:
    """The forms to sign in: a development token (when the gateway takes tokens) and a sign-in link's code
    (which `console.js` fills from the link's fragment and submits)."""
    form_token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, language(lang), "console_sign_in.html", csrf=form_token,
                      tokens_enabled=gateway.authenticator.tokens_enabled)
    set_console_cookie(request, response, SIGN_IN_COOKIE, form_token, SIGN_IN_COOKIE_SECONDS)
    return response


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in_with_token(request: Request, gateway: Services, lang: LanguageQuery = None, token: str = Form(""),
                       csrf: str = Form("")) -> Response:
    """A development API token of an auditor department → a session."""
    def caller() -> Caller | None:
        if not token.strip() or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated("paste an API token of `certnet gateway token` of an auditor department")
        return gateway.authenticator.authenticate("POST", "/audit/sign-in", b"",
                                                  {"authorization": f"Bearer {token.strip()}"})
    return _signed_in(request, gateway, language(lang), csrf, caller)


@router.post("/sign-in/link", response_class=HTMLResponse)
def sign_in_with_link(request: Request, gateway: Services, lang: LanguageQuery = None, link: str = Form(""),
                      csrf: str = Form("")) -> Response:
    """A sign-in link of `certnet console login` (the whole link or its part after `#`) → a session, once."""
    def caller() -> Caller:
        if len(link) > MAX_LINK_LENGTH:
            raise Unauthenticated("this is not a sign-in link of `certnet console login`")
        return gateway.authenticator.by_sign_in_token(link.rpartition("#")[2])
    return _signed_in(request, gateway, language(lang), csrf, caller)


def _signed_in(request: Request, gateway: Gateway, lang: Language, csrf: str,
               caller: Callable[[], Caller | None]) -> Response:
    """A sign-in POST: its CSRF token checked against the sign-in cookie, the caller (`caller()`) checked for
    the auditor role, a session opened and its cookie set; an error page otherwise."""
    if not csrf_matches(request.cookies.get(SIGN_IN_COOKIE, ""), csrf):
        return _csrf_refused(request, lang)

    def answer() -> Response:
        found = caller()
        if found is None:  # no credentials at all: `caller` refuses an empty form first
            raise Unauthenticated("no credentials")
        gateway.chain.require_active(found.department, Role.AUDITOR)
        sessions = _sessions(gateway)
        session_id, _signed = sessions.open(found.department)
        response = RedirectResponse("/audit" + ("?lang=en" if lang == "en" else ""), status_code=303)
        set_console_cookie(request, response, COOKIE, session_id, int(sessions.lifetime))
        response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
        return response
    return _guarded(request, lang, answer)


@router.post("/sign-out", response_class=HTMLResponse)
def sign_out(request: Request, gateway: Services, lang: LanguageQuery = None, csrf: str = Form("")) -> Response:
    page_language = language(lang)
    sessions = _sessions(gateway)
    signed_in = sessions.find(request.cookies.get(COOKIE))
    if signed_in is None:
        return _to_sign_in(page_language)
    if not csrf_matches(signed_in.csrf_token, csrf):
        return _csrf_refused(request, page_language)
    sessions.close(request.cookies[COOKIE])
    response = _to_sign_in(page_language)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


def _csrf_refused(request: Request, lang: Language) -> HTMLResponse:
    return error_page(request, lang, 403, WORDS[lang]["console_csrf"])


def set_console_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """A cookie only the console's paths get back, out of scripts' reach, never sent along from another
    site, and only over https when the request came that way."""
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


# ----- the views -----

@router.get("/events", response_class=HTMLResponse)
def events_view(request: Request, gateway: Services, lang: LanguageQuery = None) -> Response:
    """Indexed contract events by department, type, action and time, as `GET /v1/audit/events`."""
    def show(caller: Caller) -> dict[str, Any]:
        filters = EventFilters.model_validate(_filters(request))
        department = known_department("department", "")(request, filters.department)
        certificate_type = known_type(request, filters.type)
        page = audit.events(caller, gateway, department, certificate_type, filters.action, filters.since,
                            filters.until, filters.cursor, filters.limit)
        return {"filters": filters, "page": page, "actions": [*EVENT_ACTIONS, *EVENT_NAMES],
                "next_url": _next_url(request, cursor=page.next) if page.next else None}
    return _view(request, gateway, lang, "console_events.html", show)


@router.get("/history", response_class=HTMLResponse)
def history_view(request: Request, gateway: Services, lang: LanguageQuery = None) -> Response:
    """A certificate's events and its newest accesses, as `GET /v1/certificates/{hash}/history`; with a
    `cursor`, a page of its older accesses, as `/history/accesses`. Each read is itself an access."""
    def show(caller: Caller) -> dict[str, Any]:
        query = HistoryQuery.model_validate(_filters(request))
        context: dict[str, Any] = {"certificate": query.certificate or "", "history": None, "older": None}
        if query.certificate and query.cursor:
            older = certificates.history_accesses(query.certificate, caller, gateway, query.cursor, query.limit)
            return {**context, "older": older,
                    "next_url": _next_url(request, cursor=older.next) if older.next else None}
        if query.certificate:
            history = certificates.history(query.certificate, caller, gateway)
            return {**context, "history": history, "next_url": _next_url(request, cursor=history.accesses.next)
                    if history.accesses.next else None}
        return context
    return _view(request, gateway, lang, "console_history.html", show)


@router.get("/log", response_class=HTMLResponse)
def log_view(request: Request, gateway: Services, lang: LanguageQuery = None) -> Response:
    """Access-log entries by department, action and time, as `GET /v1/audit/log/entries`."""
    def show(caller: Caller) -> dict[str, Any]:
        filters = LogFilters.model_validate(_filters(request))
        department = known_department("department", "")(request, filters.department)
        page = audit.log_entries(caller, gateway, department, filters.action, filters.since, filters.until,
                                 filters.after, filters.limit)
        return {"filters": filters, "page": page, "actions": LOG_ACTIONS,
                "next_url": _next_url(request, after=page.next) if page.next is not None else None}
    return _view(request, gateway, lang, "console_log.html", show)


@router.get("/checkpoint", response_class=HTMLResponse)
def checkpoint_view(request: Request, gateway: Services, lang: LanguageQuery = None) -> Response:
    """The newest checkpoint on chain beside the log's head: whether the log still extends what was
    anchored (an RFC 6962 consistency proof from the anchored root to the head), and how old it is."""
    def show(caller: Caller) -> dict[str, Any]:
        checkpoints = audit.log_checkpoints(caller, gateway).checkpoints
        head = gateway.audit.checkpoint_status(gateway.settings.checkpoint_interval_seconds)
        latest = checkpoints[-1] if checkpoints else None
        consistency, consistent = None, None
        if latest is not None and head["logSize"] < latest.tree_size:
            consistent = False  # entries the chain vouches for are gone
        elif latest is not None:
            consistency = audit.consistency(caller, gateway, latest.tree_size, head["logSize"])
            consistent = verify_consistency(latest.tree_size, head["logSize"], bytes.fromhex(latest.root[2:]),
                                            bytes.fromhex(consistency.new_root[2:]),
                                            [bytes.fromhex(p[2:]) for p in consistency.proof])
        return {"latest": latest, "head": head, "consistency": consistency, "consistent": consistent,
                "age_seconds": int(time.time() - latest.anchored_at) if latest else None}
    return _view(request, gateway, lang, "console_checkpoint.html", show)


@router.post("/checkpoint", response_class=HTMLResponse)
async def anchor_checkpoint(request: Request, gateway: Services, lang: LanguageQuery = None,
                            csrf: str = Form("")) -> Response:
    """Anchors the log's head now, as `POST /v1/audit/log/checkpoints`, then shows the checkpoint view."""
    page_language = language(lang)
    try:
        signed_in = await run_in_threadpool(_auditor, request, gateway)
        if signed_in is None:
            return _to_sign_in(page_language)
        if not csrf_matches(signed_in.csrf_token, csrf):
            return _csrf_refused(request, page_language)
        await audit.anchor_checkpoint(Caller(signed_in.department, "console session"), gateway, Response())
    except (GatewayError, *CONNECTION_ERRORS) as error:
        return _failure_page(request, page_language, error)
    return RedirectResponse("/audit/checkpoint" + ("?lang=en" if page_language == "en" else ""), status_code=303)


@router.get("/inclusion", response_class=HTMLResponse)
def inclusion_view(request: Request, gateway: Services, lang: LanguageQuery = None) -> Response:
    """An entry's inclusion in the newest checkpoint covering it, as `GET /v1/audit/log/entries/{position}/
    inclusion` proves it and `certnet audit check-inclusion` checks it: against the root read from the chain."""
    def show(caller: Caller) -> dict[str, Any]:
        query = InclusionQuery.model_validate(_filters(request))
        context: dict[str, Any] = {"position": query.position, "proof": None, "anchored": None, "problems": [],
                                   "path": []}
        if query.position is None:
            return context
        covering = [c for c in audit.log_checkpoints(caller, gateway).checkpoints if c.tree_size > query.position]
        if not covering:
            return {**context, "uncovered": True}
        proof = audit.inclusion(query.position, caller, gateway, covering[-1].tree_size)
        problems, anchored = gateway.audit.check_inclusion(proof.model_dump(by_alias=True))
        sides = sibling_sides(proof.position, proof.tree_size, len(proof.proof)) or []
        return {**context, "proof": proof, "anchored": anchored, "problems": problems,
                "path": list(zip(proof.proof, sides))}
    return _view(request, gateway, lang, "console_inclusion.html", show)


def duration_text(seconds: int) -> str:
    """A duration as people read it: `1 h 5 min`, `3 min 20 s`, `12 s`."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s" if minutes else f"{secs} s"


TEMPLATES.env.filters["duration"] = duration_text
