"""National e-certificate identifiers (证照标识) in the gateway: every certificate it issues carries one, serials
never given twice (concurrent requests to a gateway process over HTTP; concurrent processes on one database),
successors take the next version, and `GET /v1/certificates/by-identifier/{identifier}` answers the issuing
department only."""

from __future__ import annotations

import multiprocessing
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from gateway.certificates.identifier import MAX_SERIAL, CertificateIdentifier, new_identifier, type_segment
from gateway.db import make_engine, session_factory
from gateway.errors import Conflict
from gateway.issuance import allocate_serials
from tests.conftest import (DATABASE_BACKENDS, DEMO_DEPARTMENTS, MZ_MARRIAGE, GatewayProcess, issued_marriage,
                            marriage_request, wait_done)

ERROR_SHAPE = {"code", "message", "details"}
CIVIL_AFFAIRS = DEMO_DEPARTMENTS["MZ"]
CONCURRENT_SINGLES = 12
BATCH_SIZE = 30
ALLOCATING_PROCESSES = 4
ALLOCATIONS_PER_PROCESS = 40


def _identifier(document: dict[str, Any]) -> CertificateIdentifier:
    return CertificateIdentifier.parse(document["certificateIdentifier"])


def _by_identifier(gateway: GatewayProcess, identifier: str, department: str | None = "MZ") -> httpx.Response:
    return gateway.client.get(f"/v1/certificates/by-identifier/{identifier}",
                              headers=gateway.auth(department) if department else {})


def _superseded(gateway: GatewayProcess, certificate: dict[str, Any]) -> dict[str, Any]:
    """`certificate`'s successor once anchored (so that it can be superseded in turn)."""
    replacement = {k: v for k, v in marriage_request(f"V-{uuid.uuid4().hex[:8]}").items() if k != "type"}
    response = gateway.client.post(f"/v1/certificates/{certificate['proof']['certificateHash']}/supersede",
                                   json=replacement, headers=gateway.auth("MZ"))
    assert response.status_code in (201, 202), response.text
    return wait_done(gateway, f"/v1/operations/{response.json()['operation']['id']}")["certificate"]


def _allocate_many(url: str, sizes: list[int]) -> list[int]:
    """In a process of its own: `allocate_serials` once per size; every serial it got."""
    sessions = session_factory(make_engine(url))
    return [first + offset for size in sizes
            for first in [allocate_serials(sessions, CIVIL_AFFAIRS, MZ_MARRIAGE, size)] for offset in range(size)]


# ----- allocation -----

@pytest.mark.parametrize("empty_database_url", DATABASE_BACKENDS, indirect=True)
def test_processes_allocating_at_once_never_get_a_serial_twice_nor_skip_one(empty_database_url: str) -> None:
    make_engine(empty_database_url)  # upgraded once, before the processes start
    sizes = [[1 + (n + p) % 3 for n in range(ALLOCATIONS_PER_PROCESS)] for p in range(ALLOCATING_PROCESSES)]
    with multiprocessing.get_context("spawn").Pool(ALLOCATING_PROCESSES) as pool:
        serials = [serial for got in pool.starmap(_allocate_many, [(empty_database_url, s) for s in sizes])
                   for serial in got]
    assert sorted(serials) == list(range(1, sum(map(sum, sizes)) + 1))


@pytest.mark.parametrize("empty_database_url", ["sqlite"], indirect=True)
def test_serials_are_counted_per_department_and_type(empty_database_url: str) -> None:
    sessions = session_factory(make_engine(empty_database_url))
    allocate_serials(sessions, CIVIL_AFFAIRS, MZ_MARRIAGE, 5)
    assert (allocate_serials(sessions, DEMO_DEPARTMENTS["GA"], MZ_MARRIAGE, 1),
            allocate_serials(sessions, CIVIL_AFFAIRS, "320100-GA-001", 1)) == (1, 1)


@pytest.mark.parametrize("empty_database_url", ["sqlite"], indirect=True)
def test_an_allocation_past_the_last_serial_is_refused_and_spends_nothing(empty_database_url: str) -> None:
    sessions = session_factory(make_engine(empty_database_url))
    allocate_serials(sessions, CIVIL_AFFAIRS, MZ_MARRIAGE, MAX_SERIAL - 1)
    with pytest.raises(Conflict, match="used up"):
        allocate_serials(sessions, CIVIL_AFFAIRS, MZ_MARRIAGE, 2)
    assert allocate_serials(sessions, CIVIL_AFFAIRS, MZ_MARRIAGE, 1) == MAX_SERIAL


# ----- issuance over HTTP -----

@pytest.mark.slow
def test_concurrent_singles_and_a_batch_get_distinct_identifiers_of_their_issuer_and_type(
        gateway_http: GatewayProcess) -> None:
    tag, auth = uuid.uuid4().hex[:8], gateway_http.auth("MZ")

    def issue(n: int) -> dict[str, Any]:
        with httpx.Client(base_url=gateway_http.client.base_url, timeout=120) as client:
            response = client.post("/v1/certificates", json=marriage_request(f"ID-{tag}-{n}"), headers=auth)
        assert response.status_code in (201, 202), response.text
        return response.json()["certificate"]

    members = [{k: v for k, v in marriage_request(f"ID-{tag}-B{n}").items() if k != "type"} for n in range(BATCH_SIZE)]
    batch = gateway_http.client.post("/v1/batches", json={"type": MZ_MARRIAGE, "certificates": members}, headers=auth)
    with ThreadPoolExecutor(CONCURRENT_SINGLES) as pool:
        singles = list(pool.map(issue, range(CONCURRENT_SINGLES)))
    batch_members = wait_done(gateway_http, f"/v1/batches/{batch.json()['id']}")["certificates"]
    identifiers = [_identifier(document) for document in singles + batch_members]
    assert Counter((i.issuer, i.type_segment, i.version) for i in identifiers) == {
        (CIVIL_AFFAIRS, type_segment(MZ_MARRIAGE), 1): CONCURRENT_SINGLES + BATCH_SIZE}
    assert len({i.serial for i in identifiers}) == CONCURRENT_SINGLES + BATCH_SIZE


@pytest.mark.slow
def test_a_successor_carries_the_next_version_of_its_predecessors_identifier(
        document_kinds: dict[str, dict[str, Any]]) -> None:
    assert _identifier(document_kinds["successor"]) == _identifier(document_kinds["single"]).next_version()


@pytest.mark.slow
def test_the_successor_of_a_successor_takes_version_three(gateway_http: GatewayProcess) -> None:
    first = issued_marriage(gateway_http, number=f"V-{uuid.uuid4().hex[:8]}")["certificate"]
    third = _superseded(gateway_http, _superseded(gateway_http, first))
    assert (_identifier(third).serial, _identifier(third).version) == (_identifier(first).serial, 3)


# ----- GET /v1/certificates/by-identifier/{identifier} -----

@pytest.mark.slow
def test_the_issuer_reads_a_certificate_by_its_identifier_with_its_evidence(gateway_http: GatewayProcess) -> None:
    issued = issued_marriage(gateway_http)
    response = _by_identifier(gateway_http, issued["certificate"]["certificateIdentifier"])
    assert (response.status_code, response.json()["certificate"]) == (200, issued["certificate"])


@pytest.mark.slow
def test_a_batch_member_is_read_by_its_identifier_with_its_merkle_proof(
        gateway_http: GatewayProcess, document_kinds: dict[str, dict[str, Any]]) -> None:
    member = document_kinds["batch member"]
    response = _by_identifier(gateway_http, member["certificateIdentifier"])
    assert (response.status_code, response.json()["certificate"]) == (200, member)


# 401 without credentials, 403 for another department and 200 for the issuer: the permission matrix
# (tests/gateway/test_permissions.py)

@pytest.mark.slow
def test_another_department_gets_403_for_an_identifier_never_issued_too(gateway_http: GatewayProcess) -> None:
    never_issued = new_identifier(MZ_MARRIAGE, CIVIL_AFFAIRS, MAX_SERIAL)
    response = _by_identifier(gateway_http, str(never_issued), department="GA")
    assert (response.status_code, set(response.json())) == (403, ERROR_SHAPE)


@pytest.mark.slow
def test_an_identifier_this_gateway_did_not_issue_is_404(gateway_http: GatewayProcess) -> None:
    response = _by_identifier(gateway_http, str(new_identifier(MZ_MARRIAGE, CIVIL_AFFAIRS, MAX_SERIAL)))
    assert (response.status_code, set(response.json())) == (404, ERROR_SHAPE)


@pytest.mark.slow
def test_a_wrong_check_character_is_422_invalid_identifier(gateway_http: GatewayProcess) -> None:
    text = issued_marriage(gateway_http)["certificate"]["certificateIdentifier"]
    response = _by_identifier(gateway_http, text[:-1] + ("0" if text[-1] != "0" else "1"))
    assert (response.status_code, response.json()["code"]) == (422, "invalid_identifier")


@pytest.mark.slow
@pytest.mark.parametrize("malformed", ["1.2.156.3005.2", "not-an-identifier", "1" * 200])
def test_a_malformed_identifier_is_422_in_the_error_shape(gateway_http: GatewayProcess, malformed: str) -> None:
    response = _by_identifier(gateway_http, malformed)
    assert (response.status_code, set(response.json())) == (422, ERROR_SHAPE)
