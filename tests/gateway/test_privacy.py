"""No ID number anywhere the gateway keeps or says things: after a whole scenario — certificates
issued singly and in a batch, holder keys registered, a consent given and used, refusals of every
kind (identities where pseudonyms belong, in bodies and in URLs, invalid ID numbers, unusable
consents, a key registered for someone else), verification with a disclosed holder, audit reads
and a checkpoint — every ID number used is absent from the access log, every table of the
database, the database's files, the gateway process's log output and the transactions it sent."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from dataclasses import dataclass
from typing import Any, Iterator

import httpx
import pytest
from sqlalchemy import MetaData, create_engine, select
from stdnum.cn import uscc

from gateway.api.log_privacy import redact_identities
from gateway.sharing.consent import new_consent, new_holder_key, sign_record
from tests.conftest import DEMO_DEPARTMENTS, MZ_MARRIAGE, Devnet, GatewayProcess, citizen_id, marriage_request

pytestmark = pytest.mark.slow

ITEM = "320100-SX-ZJ-0001"  # handled by ZJ, needs MZ_MARRIAGE
_numbers = itertools.count(700)


def _credit_code(serial: int) -> str:
    body = f"91320100MA1{serial:06d}"
    return "USCC:" + body + uscc.calc_check_digit(body)


def _wrong_check_character(identity: str) -> str:
    """The identity with another check character: invalid, but still someone's number to keep out of logs."""
    return identity[:-1] + ("0" if identity[-1] != "0" else "1")


@dataclass
class Scenario:
    gateway: GatewayProcess
    identities: list[str]  # every ID number sent to the gateway, valid or not, as RIC:/USCC:<number>
    first_block: int
    log: list[dict[str, Any]]  # the access log's entries as an auditor read them at the end

    @property
    def numbers(self) -> list[str]:
        return [identity.partition(":")[2] for identity in self.identities]


def _ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, response.text
    return response.json()


def _batch(gateway: GatewayProcess, holders: list[str]) -> None:
    members = [{"holder": holder, "subject": {"holderName": "王五", "certificateNumber": f"PRIV-B-{n}",
                                              "issuedOn": "2026-11-24"}} for n, holder in enumerate(holders)]
    path = "/v1/batches/" + str(_ok(gateway.client.post("/v1/batches", headers=gateway.auth("MZ"), json={
        "type": MZ_MARRIAGE, "certificates": members}), 202)["id"])
    deadline = time.monotonic() + 120
    while (state := _ok(gateway.client.get(path, headers=gateway.auth("MZ")), 200)["state"]) != "done":
        assert state != "failed" and time.monotonic() < deadline, state
        time.sleep(0.2)


def _run(gateway: GatewayProcess, identities: list[str]) -> list[dict[str, Any]]:
    citizen, spouse, company, stranger = identities[:4]
    mz, zj, sj, zwb = (gateway.auth(abbr) for abbr in ("MZ", "ZJ", "SJ", "ZWB"))
    document = _ok(gateway.client.post("/v1/certificates", headers=mz,
                                       json=marriage_request("PRIV-1", citizen)), 201)["certificate"]
    _batch(gateway, [spouse, company, citizen])

    key = new_holder_key()
    public_key = key.get_verifying_key().to_pem().decode()
    holder = _ok(gateway.client.post("/v1/holders/keys", headers=zwb,
                                     json={"holder": citizen, "publicKey": public_key}), 201)["holder"]
    _ok(gateway.client.post("/v1/holders/keys", headers=zwb, json={"holder": stranger, "publicKey": public_key}), 409)
    _ok(gateway.client.post("/v1/holders/keys", headers=zwb, json={
        "holder": company, "publicKey": new_holder_key().get_verifying_key().to_pem().decode()}), 201)

    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    for grantee, status in ((DEMO_DEPARTMENTS["ZJ"], 201), (DEMO_DEPARTMENTS["GA"], 422)):  # GA handles no ITEM
        record = new_consent(holder, grantee, ITEM, [MZ_MARRIAGE], not_before=start,
                             not_after=start + dt.timedelta(hours=1))
        _ok(gateway.client.post("/v1/consents", json={"record": record, "signature": sign_record(key, record)}), status)
    in_clear = new_consent(citizen, DEMO_DEPARTMENTS["ZJ"], ITEM, [MZ_MARRIAGE], not_before=start,
                           not_after=start + dt.timedelta(hours=1))
    _ok(gateway.client.post("/v1/consents", json={"record": in_clear, "signature": sign_record(key, in_clear)}), 422)

    _ok(gateway.client.post("/v1/sharing/requests", headers=zj, json={"serviceItem": ITEM, "holder": holder}), 200)
    for named in (citizen, citizen.partition(":")[2], company):
        _ok(gateway.client.post("/v1/sharing/requests", headers=zj, json={"serviceItem": ITEM, "holder": named}), 422)

    for invalid in identities[4:]:
        _ok(gateway.client.post("/v1/certificates", headers=mz, json=marriage_request("PRIV-X", invalid)), 422)
        _ok(gateway.client.post("/v1/holders/keys", headers=zwb, json={"holder": invalid, "publicKey": public_key}),
            422)
        _ok(gateway.client.post("/v1/verify", headers=sj, json={"document": document, "holder": invalid}), 422)
    _ok(gateway.client.post("/v1/batches", headers=mz, json={"type": MZ_MARRIAGE, "certificates": [
        {"holder": invalid, "subject": {"certificateNumber": "PRIV-BX", "issuedOn": "2026-11-24"}}
        for invalid in identities[4:]]}), 422)

    for url in (f"/v1/certificates/{citizen}", f"/v1/certificates/{company.partition(':')[2]}/history",
                f"/v1/audit/events?department={citizen.partition(':')[2]}", f"/v1/audit/log/entries?after={spouse}"):
        _ok(gateway.client.get(url, headers=sj), 422)  # identities where none belong: refused, and kept out of logs
    for disclosed, verdict in ((citizen, "valid"), (spouse, "invalid")):
        _ok(gateway.client.post("/v1/verify", headers=sj, json={"document": document, "holder": disclosed}), 200)
        report = _ok(gateway.client.post("/v1/verify", json={"document": document, "holder": disclosed}), 200)
        assert report["verdict"] == verdict, report
    gateway.wait_indexed()
    _ok(gateway.client.get(f"/v1/certificates/{document['proof']['certificateHash']}/history", headers=sj), 200)
    # 202: anchoring the head; 200 {"upToDate": true}: the periodic checkpoint got there first (a loaded machine)
    _ok(gateway.client.post("/v1/audit/log/checkpoints", headers=sj), 202, 200)
    return _ok(gateway.client.get("/v1/audit/log/entries", headers=sj, params={"limit": 1000}), 200)["entries"]


@pytest.fixture(scope="module")
def scenario(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    valid = [citizen_id(next(_numbers)), citizen_id(next(_numbers)), _credit_code(next(_numbers)),
             citizen_id(next(_numbers))]
    identities = valid + [_wrong_check_character(valid[0]), _wrong_check_character(valid[2])]
    gateway = GatewayProcess(devnet, tmp_path_factory.mktemp("privacy")).start()
    first_block = devnet.w3.eth.block_number + 1
    try:
        log = _run(gateway, identities)
    finally:
        gateway.stop()  # its log output complete, its database closed
    yield Scenario(gateway, identities, first_block, log)


def _found(numbers: list[str], text: str) -> list[str]:
    return [number for number in numbers if number in text.upper()]


def test_the_scenario_left_entries_of_every_kind(scenario: Scenario) -> None:
    """The scans below are not vacuous: the log has what the scenario did."""
    actions = {entry["action"] for entry in scenario.log}
    assert {"share", "verify", "history", "consent_give", "holder_key_register"} <= actions
    assert {entry["outcome"] for entry in scenario.log if entry["action"] == "share"} == {"shared"}


def test_no_id_number_in_the_access_log(scenario: Scenario) -> None:
    assert _found(scenario.numbers, repr(scenario.log)) == []


def test_no_id_number_in_any_table_of_the_database(scenario: Scenario) -> None:
    engine = create_engine(scenario.gateway.database_url)
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as connection:
        dump = "\n".join(repr(row) for table in tables.sorted_tables for row in connection.execute(select(table)))
    engine.dispose()
    assert "access_log" in tables.tables and len(dump) > 10_000
    assert _found(scenario.numbers, dump) == []


def test_no_id_number_in_the_gateways_files(scenario: Scenario) -> None:
    """The database's files as bytes (freed pages, the write-ahead log) and the process's log output."""
    files = [path for path in scenario.gateway.data_dir.rglob("*") if path.is_file()]
    assert {"gateway.log", "gateway.db"} <= {path.name for path in files}
    assert {str(path): _found(scenario.numbers, path.read_bytes().decode("latin-1")) for path in files} == {
        str(path): [] for path in files}


def test_no_id_number_in_the_transactions_sent(scenario: Scenario) -> None:
    w3 = scenario.gateway.devnet.w3
    calldata = "".join(tx["input"].hex() for number in range(scenario.first_block, w3.eth.block_number + 1)
                       for tx in w3.eth.get_block(number, full_transactions=True)["transactions"])
    assert calldata
    assert [n for n in scenario.numbers if n.encode("ascii").hex() in calldata.lower()] == []


def test_the_gateway_log_saw_the_refused_requests(scenario: Scenario) -> None:
    """The log output scanned is the real one: it has the refusals' request lines."""
    assert '"message": "POST /v1/sharing/requests 422 ' in (scenario.gateway.data_dir / "gateway.log").read_text()


# ----- what an auditor's query puts in the log -----

_AUDIT_ID = citizen_id(999).partition(":")[2]


@pytest.mark.parametrize(("path", "params"), [
    ("/v1/audit/events", {"department": _AUDIT_ID}),
    ("/v1/audit/events", {"type": _AUDIT_ID}),
    ("/v1/audit/events", {"action": _AUDIT_ID}),
    ("/v1/audit/log/entries", {"department": _AUDIT_ID}),
    ("/v1/audit/log/entries", {"action": _AUDIT_ID}),
], ids=["events-department", "events-type", "events-action", "log-department", "log-action"])
def test_an_audit_query_filtering_by_an_unknown_code_is_refused_before_it_is_logged(
        gateway_http: GatewayProcess, path: str, params: dict[str, str]) -> None:
    response = gateway_http.client.get(path, params=params, headers=gateway_http.auth("SJ"))
    assert response.status_code == 422, response.text
    assert _AUDIT_ID not in _whole_log(gateway_http)


@pytest.mark.parametrize(("path", "cursor"), [("/v1/audit/events", "cursor"), ("/v1/audit/log/entries", "after")])
def test_a_page_cursor_is_not_logged(gateway_http: GatewayProcess, path: str, cursor: str) -> None:
    """Any number is a cursor (an ID number without an X too): the log keeps the filters, not the page."""
    number = citizen_id(990).partition(":")[2][:15]  # as long as a first-generation ID number, within any cursor's range
    assert number.isdigit()
    response = gateway_http.client.get(path, params={cursor: number}, headers=gateway_http.auth("SJ"))
    assert response.status_code == 200, response.text
    assert number not in _whole_log(gateway_http)


def test_an_audit_query_by_known_codes_is_logged_with_them(gateway_http: GatewayProcess) -> None:
    params = {"department": DEMO_DEPARTMENTS["MZ"], "type": MZ_MARRIAGE, "action": "issued"}
    assert gateway_http.client.get("/v1/audit/events", params=params, headers=gateway_http.auth("SJ")).status_code == 200
    logged = gateway_http.client.get("/v1/audit/log/entries", params={"action": "audit_query", "limit": 1000},
                                     headers=gateway_http.auth("SJ")).json()["entries"]
    assert {"events": params} in [entry["query"] for entry in logged]


def _whole_log(gateway: GatewayProcess) -> str:
    pages, after = [], -1
    while after is not None:
        page = gateway.client.get("/v1/audit/log/entries", params={"after": after, "limit": 1000},
                                  headers=gateway.auth("SJ")).json()
        pages.append(repr(page["entries"]))
        after = page["next"]
    return "".join(pages)


@pytest.mark.parametrize(("line", "logged"), [
    ('"GET /v1/certificates/RIC:11010519491231002X HTTP/1.1" 422', '"GET /v1/certificates/RIC:[redacted] HTTP/1.1" 422'),
    ("GET /v1/x?holder=usc%3A1&who=uscc%3A91320100MA1000702C", "GET /v1/x?holder=usc%3A1&who=uscc%3A[redacted]"),
    ("department=11010519491231002x&after=320102199001019904", "department=[redacted]&after=[redacted]"),
    ("/v1/certificates/91320100MA1000702C/history", "/v1/certificates/[redacted]/history"),  # a company's
    ("/v1/catalog/snapshots/11320100MB0000051T", "/v1/catalog/snapshots/11320100MB0000051T"),  # an organ's code
    ("after=110105194912310021", "after=110105194912310021"),  # 18 digits, not a valid ID number
], ids=["schemed", "url-encoded", "bare", "bare-credit-code", "department-code", "not-an-id"])
def test_the_log_redacts_identities_and_nothing_else(line: str, logged: str) -> None:
    assert redact_identities(line) == logged
