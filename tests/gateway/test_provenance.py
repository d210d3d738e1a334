"""Provenance queries: every ORDER BY read along an index (no sort, whatever a certificate's
popularity), cursors that only their own list takes, and a read-your-writes wait for the caller's
own operations only."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker

from gateway.audit import access_log
from gateway.db import ChainEvent, IssuedCertificate, Operation, make_engine, session_factory
from gateway.errors import InvalidInput
from gateway.provenance import Provenance, decode_cursor, encode_cursor
from gateway.service import Gateway
from tests.conftest import DEMO_DEPARTMENTS, Devnet, issued_by_hand

MZ, GA = DEMO_DEPARTMENTS["MZ"], DEMO_DEPARTMENTS["GA"]
CERTIFICATE, SUCCESSOR, ROOT = ("0x" + digit * 64 for digit in "abc")


class NothingAwaited:
    """An index no query may wait for: the caller has no operation in a block."""

    def wait_for(self, block: int, timeout: float) -> bool:
        raise AssertionError(f"waited for block {block}")


def _event(block: int, name: str, subject: str, related: str | None = None, tx: str = "0") -> ChainEvent:
    return ChainEvent(block_number=block, log_index=0, block_hash="0x" + "00" * 32, tx_hash="0x" + tx * 64,
                      timestamp=block, contract="CertificateRegistry", event=name, department=MZ,
                      certificate_type=None, subject=subject, related=related, args={})


@pytest.fixture
def populated(tmp_path: Path) -> sessionmaker:
    """A batch member with its batch's anchoring, its revocation and its supersession, read 30 times."""
    sessions = session_factory(make_engine(f"sqlite:///{tmp_path / 'gateway.db'}"))
    with sessions.begin() as session:
        session.add_all([_event(1, "BatchAnchored", ROOT), _event(2, "CertificateRevoked", CERTIFICATE, ROOT),
                         _event(3, "CertificateSuperseded", CERTIFICATE, SUCCESSOR),
                         IssuedCertificate(certificate_hash=CERTIFICATE, operation_id=1, position=0, batch_root=ROOT,
                                           document={})])
        for _ in range(30):
            access_log.append(session, GA, "history", {"certificates": [CERTIFICATE], "outcome": "read"})
    return sessions


def test_every_provenance_query_is_ordered_by_an_index_without_a_temporary_b_tree(populated: sessionmaker) -> None:
    provenance = Provenance(populated, NothingAwaited())  # type: ignore[arg-type]
    engine = populated.kw["bind"]
    executed: list[tuple[str, Any]] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, parameters, _context, _many: executed.append((statement,
                                                                                                parameters)))
    events = provenance.certificate_events(GA, CERTIFICATE, limit=1)
    provenance.certificate_events(GA, CERTIFICATE, cursor=events.next, limit=1)
    accesses = provenance.certificate_accesses(GA, CERTIFICATE, limit=7)
    provenance.certificate_accesses(GA, CERTIFICATE, cursor=accesses.next, limit=7)
    provenance.history(GA, CERTIFICATE)
    ordered = {statement: parameters for statement, parameters in executed if "ORDER BY" in statement}
    assert [any(part in statement for statement in ordered) for part in ("UNION ALL", "accessed_certificates",
                                                                         "FROM operations")] == [True] * 3
    with engine.connect() as connection:
        plans = {statement: [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                          parameters)]
                 for statement, parameters in ordered.items()}
    assert {statement: plan for statement, plan in plans.items() if any("TEMP B-TREE" in step for step in plan)} \
        == {}


def test_pages_of_a_batch_members_events_hold_each_event_once_in_chain_order(populated: sessionmaker) -> None:
    provenance = Provenance(populated, NothingAwaited())  # type: ignore[arg-type]
    events, cursor = [], None
    while True:
        page = provenance.certificate_events(GA, CERTIFICATE, cursor=cursor, limit=2)
        events += [(e["blockNumber"], e["event"]) for e in page.items]
        if (cursor := page.next) is None:
            break
    assert events == [(1, "BatchAnchored"), (2, "CertificateRevoked"), (3, "CertificateSuperseded")]


def test_another_departments_revocation_of_the_hash_under_its_own_batch_is_not_in_the_history(
        populated: sessionmaker) -> None:
    """The registry keeps revocations per anchor: housing revoking and superseding the hash under a batch of its
    own (block 4 and 5, another transaction) does not touch this certificate, so its history does not show it."""
    other_root = "0x" + "d" * 64
    with populated.begin() as session:
        session.add_all([_event(4, "CertificateRevoked", CERTIFICATE, other_root, tx="1"),
                         _event(5, "CertificateSuperseded", CERTIFICATE, SUCCESSOR, tx="1")])
    page = Provenance(populated, NothingAwaited()).certificate_events(GA, CERTIFICATE, limit=10)  # type: ignore[arg-type]
    assert [(e["blockNumber"], e["event"]) for e in page.items] == [
        (1, "BatchAnchored"), (2, "CertificateRevoked"), (3, "CertificateSuperseded")]


def test_the_history_summarises_accesses_as_their_count_and_the_newest(populated: sessionmaker) -> None:
    history = Provenance(populated, NothingAwaited()).history(GA, CERTIFICATE)  # type: ignore[arg-type]
    assert history.access_count == 30
    assert [a["position"] for a in history.latest_accesses.items] == list(range(29, 9, -1))
    assert decode_cursor("accesses", history.latest_accesses.next or "") == (10,)


@pytest.mark.parametrize("cursor", ["", "not-base64!", encode_cursor("accesses", 5), encode_cursor("events", 5),
                                    encode_cursor("events", 1, -2), encode_cursor("events", 10**19, 0)],
                         ids=["empty", "not-base64", "other-list", "short", "negative", "too-large"])
def test_a_cursor_not_made_for_the_list_is_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInput):
        decode_cursor("events", cursor)


# ----- read-your-writes -----

def _mined_issuance(devnet: Devnet, gateway: Gateway, number: str) -> Operation:
    """MZ's issuance, mined (the devnet mines by hand) but not yet read by the index."""
    mined = issued_by_hand(gateway, devnet, number)
    assert gateway.index.indexed_block() < (mined.block_number or 0)
    return mined


@pytest.fixture
def unindexed(own_devnet: Devnet, gateway_on_own_devnet: Callable[..., Gateway]) -> tuple[Gateway, Operation]:
    """An in-process gateway (no background threads) with MZ's issuance mined, the index behind it."""
    own_devnet.mine_by_hand()
    gateway = gateway_on_own_devnet(confirmations=0)
    gateway.index.sync_once()
    return gateway, _mined_issuance(own_devnet, gateway, "RYW-1")


@pytest.mark.slow
def test_another_departments_mined_issuance_makes_no_query_wait(unindexed: tuple[Gateway, Operation]) -> None:
    gateway, operation = unindexed
    gateway.provenance.index = NothingAwaited()  # type: ignore[assignment]  # fails the test if asked to wait
    assert (gateway.provenance.awaited_block(MZ), gateway.provenance.awaited_block(GA)) == (operation.block_number,
                                                                                           None)
    gateway.provenance.events(GA, action="issued")


@pytest.mark.slow
def test_the_callers_own_issuance_is_in_its_history_once_the_index_reads_its_block(
        unindexed: tuple[Gateway, Operation]) -> None:
    gateway, operation = unindexed
    certificate_hash = gateway.issuance.certificates_of(operation)[0]["proof"]["certificateHash"]
    assert gateway.provenance.awaited_block(MZ) == operation.block_number
    answered: list[Any] = []
    reader = threading.Thread(target=lambda: answered.append(gateway.provenance.history(MZ, certificate_hash)))
    reader.start()  # it waits for the index, which reads the block on the next round and wakes it
    gateway.index.sync_once()
    reader.join(timeout=30)
    assert [e["event"] for e in answered[0].events.items] == ["CertificateIssued"]
