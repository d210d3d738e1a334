"""The gateway database: a database that cannot take a write says so as `StorageUnavailable`; SQLite
commits what a power cut must not take back with synchronous=FULL, the rest with NORMAL. How a database
made by an older gateway is brought up to date: tests/gateway/test_migrations.py."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from gateway.db import IssuedCertificate, durable_engine, make_engine, session_factory
from gateway.errors import StorageUnavailable
from gateway.service import Gateway
from ledger_node.engines import free_port

DOCUMENT = {"credentialSubject": {"id": "urn:certnet:holder:" + "ab" * 32},
            "credentialSchema": {"id": "urn:certnet:type:320100-MZ-001"}, "proof": {"certificateHash": "0x" + "01" * 32}}


def test_a_current_database_is_left_as_it_is(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    columns = {c["name"] for c in inspect(make_engine(url)).get_columns("issued_certificates")}
    assert {c["name"] for c in inspect(make_engine(url)).get_columns("issued_certificates")} == columns


def test_a_database_that_cannot_take_a_write_raises_storage_unavailable_without_the_statement(
        tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    writable = make_engine(f"sqlite:///{path}")
    with writable.connect():  # keeps the WAL's shared-memory file for the read-only connection
        read_only = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
        with pytest.raises(StorageUnavailable) as refused, session_factory(read_only).begin() as session:
            session.add(IssuedCertificate(certificate_hash="0x" + "01" * 32, operation_id=1, position=0,
                                          document=DOCUMENT))
    assert refused.value.code == "storage_unavailable" and "readonly database" in refused.value.message
    assert "INSERT" not in refused.value.message and "holder" not in refused.value.message  # no parameters


def test_a_statement_the_database_rejects_stays_an_operational_error(tmp_path: Path) -> None:
    with pytest.raises(OperationalError), make_engine(f"sqlite:///{tmp_path / 'gateway.db'}").connect() as db:
        db.execute(text("SELECT * FROM no_such_table"))


def test_a_postgresql_server_out_of_reach_raises_storage_unavailable() -> None:
    with pytest.raises(StorageUnavailable, match="Connection refused"):
        make_engine(f"postgresql+psycopg://certnet:certnet@127.0.0.1:{free_port()}/certnet")


def test_sqlite_commits_in_wal_mode_with_normal_sync_and_the_durable_engine_with_full(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    with engine.connect() as normal, durable_engine(engine).connect() as durable:
        modes = [db.execute(text(pragma)).scalar() for db, pragma in (
            (normal, "PRAGMA journal_mode"), (normal, "PRAGMA synchronous"), (durable, "PRAGMA journal_mode"),
            (durable, "PRAGMA synchronous"))]
    assert modes == ["wal", 1, "wal", 2]  # 1: NORMAL, 2: FULL


@pytest.mark.slow
def test_the_outbox_issuance_and_holders_changes_commit_durably_and_read_entries_do_not(
        gateway_on_own_devnet: Callable[..., Gateway]) -> None:
    gateway = gateway_on_own_devnet()
    synchronous = {name: _synchronous(sessions) for name, sessions in (
        ("outbox", gateway.outbox.sessions), ("issuance", gateway.issuance.sessions),
        ("holders' changes", gateway.audit.durable_sessions), ("access log", gateway.audit.log.sessions))}
    assert synchronous == {"outbox": 2, "issuance": 2, "holders' changes": 2, "access log": 1}


def _synchronous(sessions: sessionmaker) -> int:
    with sessions() as session:
        return session.execute(text("PRAGMA synchronous")).scalar()
