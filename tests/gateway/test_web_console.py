"""The auditor console (`/audit`) over real HTTP against a gateway process on anvil: sign-in by a development
token and by `certnet console login`'s single-use link, the session cookie, CSRF on every POST, sign-out, and
each view showing what the test issued and accessed."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from typer.testing import CliRunner

from gateway.auth import sign_in_token
from gateway.cli import app
from gateway.db import ConsoleSession, make_engine, session_factory
from gateway.provenance import LATEST_ACCESSES, MAX_PAGE
from gateway.web.console import set_console_cookie
from gateway.web.console_sessions import COOKIE, ConsoleSessions
from gateway.web.text import EN, ZH
from ledger_node.devnet import DEMO_DEPARTMENTS, demo_account

from tests.conftest import ConsoleBrowser, GatewayProcess, form_token, issued_marriage

pytestmark = pytest.mark.slow

AUDITOR = DEMO_DEPARTMENTS["SJ"]
VIEWS = ["/audit", "/audit/events", "/audit/history", "/audit/log", "/audit/checkpoint", "/audit/inclusion"]


def _token(gateway: GatewayProcess, abbr: str) -> str:
    return gateway.auth(abbr)["Authorization"].removeprefix("Bearer ")


def _login(gateway: GatewayProcess, *args: str) -> Any:
    """`certnet console login` against the session's devnet, the link pointing at `gateway`."""
    return CliRunner().invoke(app, ["console", "login", *args, "--url", str(gateway.client.base_url),
                                    "--data-dir", str(gateway.data_dir), "--rpc", gateway.devnet.node.url])


def _account_of(abbr: str) -> str:
    """`--account` of a demo department's development key."""
    return str(list(DEMO_DEPARTMENTS).index(abbr) + 1)


def _verified_by(gateway: GatewayProcess, abbr: str) -> dict[str, Any]:
    """A certificate issued by MZ and then verified by department `abbr` (an access the log records)."""
    certificate = issued_marriage(gateway)["certificate"]
    response = gateway.client.post("/v1/verify", json={"document": certificate}, headers=gateway.auth(abbr))
    assert response.status_code == 200
    return certificate


def _anchored(console: ConsoleBrowser) -> httpx.Response:
    """The console's "anchor now" button, then the checkpoint view it leads to."""
    page = console.client.get("/audit/checkpoint")
    response = console.client.post("/audit/checkpoint", data={"csrf": form_token(page)})
    assert response.status_code == 303, response.text
    return console.client.get("/audit/checkpoint")


# ----- signing in -----

@pytest.mark.parametrize("path", VIEWS)
def test_without_a_session_each_view_leads_to_the_sign_in_page(console_browser: ConsoleBrowser, path: str) -> None:
    response = console_browser.client.get(path)
    assert (response.status_code, response.headers["location"]) == (303, "/audit/sign-in")


def test_the_sign_in_page_offers_the_token_form_on_a_development_gateway(console_browser: ConsoleBrowser) -> None:
    page = console_browser.client.get("/audit/sign-in").text
    assert 'action="/audit/sign-in"' in page and 'name="token"' in page


def test_an_auditor_token_opens_a_session_with_a_strict_http_only_cookie(console_browser: ConsoleBrowser,
                                                                          gateway_http: GatewayProcess) -> None:
    response = console_browser.sign_in_with_token(_token(gateway_http, "SJ"))
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert (response.status_code, response.headers["location"]) == (303, "/audit")
    assert {"httponly", "samesite", "path", "max-age"} <= set(attributes)
    assert (attributes["samesite"].lower(), attributes["path"], attributes["max-age"]) == \
        ("samesite=strict", "Path=/audit", "Max-Age=1800")


def test_a_signed_in_auditor_sees_the_console_with_its_department(auditor_console: ConsoleBrowser) -> None:
    response = auditor_console.client.get("/audit")
    assert response.status_code == 200 and f"<strong>{AUDITOR}</strong>" in response.text


def test_a_token_of_a_department_without_the_auditor_role_is_refused(console_browser: ConsoleBrowser,
                                                                      gateway_http: GatewayProcess) -> None:
    response = console_browser.sign_in_with_token(_token(gateway_http, "MZ"))
    assert response.status_code == 403 and "auditor role" in response.text
    assert COOKIE not in console_browser.client.cookies


def test_an_unknown_token_is_refused(console_browser: ConsoleBrowser) -> None:
    response = console_browser.sign_in_with_token("cnt_" + "x" * 43)
    assert response.status_code == 401 and COOKIE not in console_browser.client.cookies


def test_a_sign_in_post_without_the_sign_in_page_s_form_token_is_refused(console_browser: ConsoleBrowser,
                                                                         gateway_http: GatewayProcess) -> None:
    response = console_browser.client.post("/audit/sign-in", data={"token": _token(gateway_http, "SJ")})
    assert response.status_code == 403 and ZH["console_csrf"] in response.text


def test_a_session_of_a_department_without_the_auditor_role_is_refused_at_each_request(
        console_browser: ConsoleBrowser, gateway_http: GatewayProcess) -> None:
    """As for a department whose auditor role the consortium removed after it signed in."""
    sessions = ConsoleSessions(session_factory(make_engine(gateway_http.database_url)), lifetime_seconds=60)
    session_id, _opened = sessions.open(DEMO_DEPARTMENTS["MZ"])
    response = console_browser.client.get("/audit/log", headers={"Cookie": f"{COOKIE}={session_id}"})
    assert response.status_code == 403 and "auditor role" in response.text


# ----- CSRF and signing out -----

def test_a_post_without_the_csrf_token_is_refused(auditor_console: ConsoleBrowser) -> None:
    response = auditor_console.client.post("/audit/sign-out")
    assert response.status_code == 403 and ZH["console_csrf"] in response.text


def test_a_post_with_a_wrong_csrf_token_is_refused(auditor_console: ConsoleBrowser) -> None:
    response = auditor_console.client.post("/audit/checkpoint", data={"csrf": "not-the-session-s-token"})
    assert response.status_code == 403


def test_a_refused_post_leaves_the_session_open(auditor_console: ConsoleBrowser) -> None:
    auditor_console.client.post("/audit/sign-out", data={"csrf": "wrong"})
    assert auditor_console.client.get("/audit").status_code == 200


def test_sign_out_ends_the_session_for_its_old_cookie_too(auditor_console: ConsoleBrowser,
                                                          gateway_http: GatewayProcess) -> None:
    old_cookie = auditor_console.client.cookies[COOKIE]
    response = auditor_console.client.post("/audit/sign-out",
                                           data={"csrf": form_token(auditor_console.client.get("/audit"))})
    assert (response.status_code, response.headers["location"]) == (303, "/audit/sign-in")
    replayed = httpx.get(f"{gateway_http.client.base_url}/audit", headers={"Cookie": f"{COOKIE}={old_cookie}"})
    assert (replayed.status_code, replayed.headers["location"]) == (303, "/audit/sign-in")


# ----- sign-in links of `certnet console login` -----

def test_console_login_prints_a_sign_in_link_with_its_secret_in_the_fragment(gateway_http: GatewayProcess) -> None:
    result = _login(gateway_http, AUDITOR, "--account", _account_of("SJ"))
    assert result.exit_code == 0, result.output
    assert re.fullmatch(re.escape(f"{gateway_http.client.base_url}/audit/sign-in#") + r"[A-Za-z0-9_-]+\.0x[0-9a-f]+\n",
                        result.output)


def test_console_login_for_an_unknown_department_is_one_line(gateway_http: GatewayProcess) -> None:
    result = _login(gateway_http, "NO-SUCH-DEPT", "--account", _account_of("SJ"))
    assert result.exit_code != 0 and len(result.output.strip().splitlines()) == 1


def test_console_login_with_a_key_of_another_department_is_one_line(gateway_http: GatewayProcess) -> None:
    result = _login(gateway_http, AUDITOR, "--account", _account_of("MZ"))
    assert result.exit_code != 0 and "not a current key" in result.output


def test_a_sign_in_link_signs_in_once(console_browser: ConsoleBrowser, gateway_http: GatewayProcess) -> None:
    link = _login(gateway_http, AUDITOR, "--account", _account_of("SJ")).output.strip()
    assert console_browser.sign_in_with_link(link).status_code == 303
    assert console_browser.client.get("/audit").status_code == 200


def test_a_sign_in_link_used_a_second_time_is_refused(console_browser: ConsoleBrowser,
                                                      gateway_http: GatewayProcess) -> None:
    link = _login(gateway_http, AUDITOR, "--account", _account_of("SJ")).output.strip()
    console_browser.sign_in_with_link(link)
    console_browser.client.cookies.clear()
    second = console_browser.sign_in_with_link(link)
    assert second.status_code == 401 and "used before" in second.text


def test_an_expired_sign_in_link_is_refused(console_browser: ConsoleBrowser) -> None:
    response = console_browser.sign_in_with_link(sign_in_token(demo_account("SJ"), AUDITOR,
                                                                expires=int(time.time()) - 1))
    assert response.status_code == 401 and "expired" in response.text


def test_a_sign_in_link_signed_by_a_key_of_another_department_is_refused(console_browser: ConsoleBrowser) -> None:
    response = console_browser.sign_in_with_link(sign_in_token(demo_account("MZ"), AUDITOR))
    assert response.status_code == 401 and "not a current key" in response.text


def test_a_sign_in_link_of_a_department_without_the_auditor_role_is_refused(console_browser: ConsoleBrowser) -> None:
    response = console_browser.sign_in_with_link(sign_in_token(demo_account("MZ"), DEMO_DEPARTMENTS["MZ"]))
    assert response.status_code == 403 and COOKIE not in console_browser.client.cookies


def test_a_sign_in_link_claiming_a_long_life_is_refused(console_browser: ConsoleBrowser) -> None:
    response = console_browser.sign_in_with_link(sign_in_token(demo_account("SJ"), AUDITOR,
                                                                expires=int(time.time()) + 86_400))
    assert response.status_code == 401


def test_something_that_is_not_a_sign_in_link_is_refused(console_browser: ConsoleBrowser) -> None:
    assert console_browser.sign_in_with_link("https://example.org/#not-a-token").status_code == 401


# ----- the views -----

def test_events_filtered_by_department_and_action_show_the_issuance(auditor_console: ConsoleBrowser,
                                                                    gateway_http: GatewayProcess) -> None:
    certificate_hash = issued_marriage(gateway_http)["certificate"]["proof"]["certificateHash"]
    gateway_http.wait_indexed()
    page = auditor_console.client.get("/audit/events", params={"department": DEMO_DEPARTMENTS["MZ"],
                                                                "action": "issued", "limit": MAX_PAGE})
    assert page.status_code == 200 and certificate_hash in page.text


def test_events_of_another_department_leave_the_issuance_out(auditor_console: ConsoleBrowser,
                                                            gateway_http: GatewayProcess) -> None:
    certificate_hash = issued_marriage(gateway_http)["certificate"]["proof"]["certificateHash"]
    gateway_http.wait_indexed()
    page = auditor_console.client.get("/audit/events", params={"department": DEMO_DEPARTMENTS["GA"],
                                                                "limit": MAX_PAGE})
    assert page.status_code == 200 and certificate_hash not in page.text


def test_an_events_page_holds_at_most_its_size_and_links_to_the_next(auditor_console: ConsoleBrowser) -> None:
    page = auditor_console.client.get("/audit/events", params={"limit": 2})
    assert page.text.count('<tr class="event">') == 2 and 'rel="next"' in page.text


def test_the_next_events_page_goes_on_after_the_first(auditor_console: ConsoleBrowser) -> None:
    first = auditor_console.client.get("/audit/events", params={"limit": 1})
    next_url = re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = auditor_console.client.get(next_url)
    rows = [re.findall(r'<tr class="event">(.*?)</tr>', page.text, re.S) for page in (first, second)]
    assert len(rows[1]) == 1 and rows[0] != rows[1]


@pytest.mark.parametrize("view", ["/audit/events", "/audit/log"])
def test_a_page_size_above_the_bound_is_a_422_page(auditor_console: ConsoleBrowser, view: str) -> None:
    response = auditor_console.client.get(view, params={"limit": MAX_PAGE + 1})
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("params", [{"department": "NO-SUCH-DEPT"}, {"since": "yesterday"}, {"action": "nothing"},
                                    {"cursor": "abc"}], ids=["department", "since", "action", "cursor"])
def test_a_filter_that_does_not_parse_is_a_422_page(auditor_console: ConsoleBrowser, params: dict[str, str]) -> None:
    response = auditor_console.client.get("/audit/events", params=params)
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")


def test_a_certificate_s_history_shows_its_issuance_and_its_accesses(auditor_console: ConsoleBrowser,
                                                                     gateway_http: GatewayProcess) -> None:
    certificate_hash = _verified_by(gateway_http, "GA")["proof"]["certificateHash"]
    page = auditor_console.client.get("/audit/history", params={"certificate": certificate_hash}).text
    assert "CertificateIssued" in page
    assert re.search(rf"<td>{DEMO_DEPARTMENTS['GA']}</td><td>verify</td>", page)


def test_an_unknown_certificate_s_history_is_a_404_page(auditor_console: ConsoleBrowser) -> None:
    response = auditor_console.client.get("/audit/history", params={"certificate": "0x" + "ab" * 32})
    assert response.status_code == 404


def test_the_access_log_filtered_by_department_and_action_shows_the_access(auditor_console: ConsoleBrowser,
                                                                            gateway_http: GatewayProcess) -> None:
    certificate_hash = _verified_by(gateway_http, "ZJ")["proof"]["certificateHash"]
    page = auditor_console.client.get("/audit/log", params={"department": DEMO_DEPARTMENTS["ZJ"],
                                                             "action": "verify", "limit": MAX_PAGE}).text
    assert certificate_hash in page and "<td>audit_query</td>" not in page


def test_the_checkpoint_view_shows_the_log_consistent_with_the_anchored_checkpoint(
        auditor_console: ConsoleBrowser, gateway_http: GatewayProcess) -> None:
    _verified_by(gateway_http, "GA")
    page = _anchored(auditor_console).text
    assert ZH["console_consistent"] in page and 'class="anchored-size"' in page


def test_an_entry_s_inclusion_is_proven_against_the_root_on_chain_with_its_path(
        auditor_console: ConsoleBrowser, gateway_http: GatewayProcess) -> None:
    certificate_hash = _verified_by(gateway_http, "RS")["proof"]["certificateHash"]
    log = auditor_console.client.get("/audit/log", params={"department": DEMO_DEPARTMENTS["RS"], "action": "verify",
                                                            "limit": MAX_PAGE}).text
    position = re.findall(rf'<tr class="entry">\s*<td>(\d+)</td>(?:(?!</tr>).)*{certificate_hash}', log, re.S)[-1]
    _anchored(auditor_console)
    page = auditor_console.client.get("/audit/inclusion", params={"position": position}).text
    tree_size = re.search(r'<dd class="tree-size">(\d+)</dd>', page).group(1)
    proof = gateway_http.client.get(f"/v1/audit/log/entries/{position}/inclusion", params={"treeSize": tree_size},
                                    headers=gateway_http.auth("SJ")).json()
    assert ZH["console_included"] in page
    assert re.findall(r'<tr class="step"><td>\d+</td><td>[^<]+</td><td class="hash">(0x[0-9a-f]{64})</td>',
                      page) == proof["proof"]


def test_an_entry_no_checkpoint_covers_is_said_to_be_not_yet_anchored(auditor_console: ConsoleBrowser) -> None:
    page = auditor_console.client.get("/audit/inclusion", params={"position": 10**9})
    assert page.status_code == 200 and ZH["console_uncovered"] in page.text


# ----- a gateway that takes no tokens (production) -----

def test_without_tokens_the_sign_in_page_offers_only_the_link(tokenless_gateway: GatewayProcess) -> None:
    page = tokenless_gateway.client.get("/audit/sign-in").text
    assert 'name="token"' not in page and 'name="link"' in page and ZH["console_tokens_off"] in page


def test_without_tokens_a_posted_token_is_refused(tokenless_gateway: GatewayProcess) -> None:
    with httpx.Client(base_url=tokenless_gateway.client.base_url) as client:
        response = ConsoleBrowser(client).sign_in_with_token("cnt_" + "x" * 43)
    assert response.status_code == 401 and "tokens" in response.text


def test_without_tokens_a_sign_in_link_signs_in(tokenless_gateway: GatewayProcess) -> None:
    with httpx.Client(base_url=tokenless_gateway.client.base_url) as client:
        console = ConsoleBrowser(client)
        assert console.sign_in_with_link(_login(tokenless_gateway, AUDITOR, "--account", _account_of("SJ"))
                                         .output.strip()).status_code == 303
        assert client.get("/audit/log").status_code == 200


def test_older_accesses_of_a_certificate_are_a_page_away(auditor_console: ConsoleBrowser,
                                                         gateway_http: GatewayProcess) -> None:
    certificate = _verified_by(gateway_http, "GA")
    for _ in range(LATEST_ACCESSES):  # one more verification than the history shows
        gateway_http.client.post("/v1/verify", json={"document": certificate}, headers=gateway_http.auth("GA"))
    first = auditor_console.client.get("/audit/history",
                                       params={"certificate": certificate["proof"]["certificateHash"]})
    next_url = re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    older = auditor_console.client.get(next_url).text
    assert re.findall(r'<tr class="entry">\s*<td>\d+</td><td>[^<]+</td><td>([^<]*)</td><td>(\w+)</td>', older) == \
        [(DEMO_DEPARTMENTS["GA"], "verify")]


def test_each_view_answers_in_english_when_asked(auditor_console: ConsoleBrowser) -> None:
    page = auditor_console.client.get("/audit/log", params={"lang": "en"}).text
    assert f"<h1>{EN['console_log']}</h1>" in page and 'lang="en"' in page


# ----- sessions, in the database -----

def test_a_session_is_found_by_its_cookie_in_another_process_s_engine(console_database: sessionmaker,
                                                                     tmp_path: Path) -> None:
    session_id, opened = ConsoleSessions(console_database, lifetime_seconds=60).open(AUDITOR)
    elsewhere = ConsoleSessions(session_factory(make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")),
                                lifetime_seconds=60)
    assert elsewhere.find(session_id) == opened


def test_the_database_keeps_only_the_cookie_s_hash(console_database: sessionmaker) -> None:
    session_id, _opened = ConsoleSessions(console_database, lifetime_seconds=60).open(AUDITOR)
    with console_database() as session:
        stored = session.scalars(select(ConsoleSession.id_hash)).all()
    assert stored == [hashlib.sha256(session_id.encode()).hexdigest()]


def test_a_session_past_its_expiry_signs_nobody_in(console_database: sessionmaker) -> None:
    sessions = ConsoleSessions(console_database, lifetime_seconds=0)
    session_id, _opened = sessions.open(AUDITOR)
    assert sessions.find(session_id) is None


def test_a_closed_session_signs_nobody_in(console_database: sessionmaker) -> None:
    sessions = ConsoleSessions(console_database, lifetime_seconds=60)
    session_id, _opened = sessions.open(AUDITOR)
    sessions.close(session_id)
    assert sessions.find(session_id) is None


@pytest.mark.parametrize(("scheme", "secure"), [("https", True), ("http", False)])
def test_the_cookie_is_secure_when_the_request_came_over_https(scheme: str, secure: bool) -> None:
    request = Request({"type": "http", "scheme": scheme, "method": "GET", "path": "/audit", "query_string": b"",
                       "headers": [], "server": ("gateway.example", 443)})
    response = Response()
    set_console_cookie(request, response, COOKIE, "value", 60)
    assert ("; secure" in response.headers["set-cookie"].lower()) is secure
