"""Schema migrations (`gateway.migrations`): an empty database and one made by the release before
migrations (0bd6bcb) both reach the schema the models declare, keeping their rows, on SQLite and on
PostgreSQL; processes upgrading one database at once upgrade it once; a database newer than the
gateway is refused untouched.

`release_0bd6bcb_schema.json` holds the DDL that release's `create_all` ran, per dialect: generated once
from `git show 0bd6bcb:gateway/db.py`'s metadata (each table's CREATE TABLE, then its CREATE INDEXes, as
SQLAlchemy compiles them), so that the test needs neither the git history nor the old module."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, Engine, Float, Integer, String, column, inspect, select, table, text
from typer.testing import CliRunner

from gateway import migrations
from gateway.cli import app
from gateway.db import (AccessLogEntry, Base, IssuedCertificate, Operation, TypeRecord, connect, make_engine,
                        session_factory)
from gateway.errors import UnknownSchema
from tests.conftest import DATABASE_BACKENDS

#: A gateway process starting: it connects, and upgrades when its standard input ends.
UPGRADE_WHEN_TOLD = """
import sys
from gateway import migrations
from gateway.db import connect
engine = connect(sys.argv[1])
print("connected", flush=True)
sys.stdin.read()  # until the test closes it
print(*migrations.upgrade(engine))
"""
RELEASE_DDL = json.loads((Path(__file__).with_name("release_0bd6bcb_schema.json")).read_text())
DOCUMENT = {"credentialSubject": {"id": "urn:certnet:holder:" + "ab" * 32},
            "credentialSchema": {"id": "urn:certnet:type:320100-MZ-001"}, "proof": {"certificateHash": "0x" + "01" * 32}}
#: Rows as the release wrote them, in its columns (not the models', which move on).
RELEASE_ROWS = {
    table("operations", column("id", Integer), column("kind", String), column("department", String),
          column("idempotency_key", String), column("request_hash", String), column("request", JSON),
          column("state", String), column("sender", String), column("gas", Integer), column("attempts", Integer),
          column("progress", Integer), column("total", Integer), column("version", Integer),
          column("created_at", Float), column("updated_at", Float)):
        {"id": 1, "kind": "issue", "department": "11320100MB0000027A", "idempotency_key": "key-1",
         "request_hash": "0x" + "02" * 32, "request": {"certificateHash": "0x" + "01" * 32}, "state": "done",
         "sender": "0x" + "03" * 20, "gas": 90_000, "attempts": 1, "progress": 1, "total": 1, "version": 4,
         "created_at": 1_700_000_000.0, "updated_at": 1_700_000_001.0},
    table("issued_certificates", column("id", Integer), column("certificate_hash", String),
          column("operation_id", Integer), column("position", Integer), column("document", JSON),
          column("holder", String), column("certificate_type", String)):
        {"id": 1, "certificate_hash": "0x" + "01" * 32, "operation_id": 1, "position": 0, "document": DOCUMENT,
         "holder": DOCUMENT["credentialSubject"]["id"], "certificate_type": "320100-MZ-001"},
    table("access_log", column("position", Integer), column("recorded_at", Float), column("department", String),
          column("action", String), column("entry", JSON), column("leaf_hash", String), column("tree_head", String),
          column("frontier", JSON)):
        {"position": 0, "recorded_at": 1_700_000_002.0, "department": "11320100MB0000027A", "action": "verify",
         "entry": {"outcome": "ok"}, "leaf_hash": "0x" + "04" * 32, "tree_head": "0x" + "04" * 32,
         "frontier": [[1, "0x" + "04" * 32]]},
}


def release_database(url: str) -> None:
    """Makes at `url` the database the release at 0bd6bcb made: its tables, no version table, and rows."""
    engine = connect(url)
    with engine.begin() as connection:
        for statement in RELEASE_DDL[connection.dialect.name]:
            connection.execute(text(statement))
        for rows, values in RELEASE_ROWS.items():
            connection.execute(rows.insert().values(**values))
    engine.dispose()


def differences_from_the_models(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)


def reflected_schema(engine: Engine) -> dict[str, Any]:
    """Every table's columns (name, type, nullability, default), keys, indexes and unique constraints, as the
    database reports them; the version table left out."""
    schema = inspect(engine)
    return {name: {"columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default"))
                               for c in schema.get_columns(name)],
                   "primary key": schema.get_pk_constraint(name)["constrained_columns"],
                   "foreign keys": sorted((tuple(k["constrained_columns"]), k["referred_table"])
                                          for k in schema.get_foreign_keys(name)),
                   "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                     for i in schema.get_indexes(name)),
                   "unique": sorted(tuple(u["column_names"]) for u in schema.get_unique_constraints(name))}
            for name in schema.get_table_names() if name != "alembic_version"}


@pytest.mark.parametrize("empty_database_url", DATABASE_BACKENDS, indirect=True)
def test_an_empty_database_is_upgraded_to_the_schema_the_models_declare(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    assert (migrations.current(engine), differences_from_the_models(engine)) == (migrations.head(), [])


@pytest.mark.parametrize("empty_database_url", DATABASE_BACKENDS, indirect=True)
def test_a_database_of_the_release_before_migrations_is_upgraded_to_the_schema_the_models_declare(
        empty_database_url: str) -> None:
    release_database(empty_database_url)
    engine = make_engine(empty_database_url)
    assert (migrations.current(engine), differences_from_the_models(engine)) == (migrations.head(), [])


@pytest.mark.parametrize("empty_database_url", DATABASE_BACKENDS, indirect=True)
def test_a_database_of_the_release_before_migrations_keeps_its_rows(empty_database_url: str) -> None:
    release_database(empty_database_url)
    with session_factory(make_engine(empty_database_url))() as session:
        operation = session.get(Operation, 1)
        certificate = session.scalars(select(IssuedCertificate)).one()
        entry = session.get(AccessLogEntry, 0)
    assert operation is not None and entry is not None
    assert (operation.idempotency_key, operation.state, operation.request, operation.version) == \
        ("key-1", "done", {"certificateHash": "0x" + "01" * 32}, 4)
    assert (certificate.document, certificate.holder) == (DOCUMENT, DOCUMENT["credentialSubject"]["id"])
    assert (entry.entry, entry.frontier) == ({"outcome": "ok"}, [[1, "0x" + "04" * 32]])


@pytest.mark.parametrize("empty_database_url", DATABASE_BACKENDS, indirect=True)
def test_a_database_indexed_before_type_names_were_kept_gets_them_from_its_indexed_events(
        empty_database_url: str) -> None:
    engine = connect(empty_database_url)
    with engine.connect() as connection:
        command.upgrade(migrations.alembic_config(connection), "0002")
        connection.commit()
    events = table("chain_events", column("id", Integer), column("block_number", Integer), column("log_index", Integer),
                   column("block_hash", String), column("tx_hash", String), column("timestamp", Integer),
                   column("contract", String), column("event", String), column("certificate_type", String),
                   column("args", JSON))
    with engine.begin() as connection:
        connection.execute(events.insert().values(
            id=1, block_number=7, log_index=0, block_hash="0x" + "05" * 32, tx_hash="0x" + "06" * 32,
            timestamp=1_700_000_000, contract="CertificateCatalog", event="TypeRegistered",
            certificate_type="320100-MZ-001", args={"name": "结婚证", "schemaHash": "0x" + "07" * 32}))
    migrations.upgrade(engine)
    with session_factory(engine)() as session:
        assert [(t.code, t.name, t.block_number) for t in session.scalars(select(TypeRecord))] == \
            [("320100-MZ-001", "结婚证", 7)]


@pytest.mark.parametrize("empty_database_url", DATABASE_BACKENDS, indirect=True)
def test_a_database_made_with_the_leases_table_before_migrations_is_upgraded_to_the_models(
        empty_database_url: str) -> None:
    release_database(empty_database_url)
    engine = connect(empty_database_url)
    with engine.begin() as connection:  # what `create_all` added at a gateway's start between cb79177 and migrations
        Base.metadata.tables["leases"].create(connection)
    assert (migrations.upgrade(engine), differences_from_the_models(engine)) == ((None, migrations.head()), [])


@pytest.mark.parametrize("empty_database_url", DATABASE_BACKENDS, indirect=True)
def test_revision_0001_builds_the_schema_of_the_release_before_migrations(empty_database_url: str) -> None:
    engine = connect(empty_database_url)
    with engine.connect() as connection:
        command.upgrade(migrations.alembic_config(connection), migrations.RELEASE_REVISION)
        connection.commit()
    built = reflected_schema(engine)
    with engine.begin() as connection:
        for name in reversed(Base.metadata.sorted_tables):
            connection.execute(text(f"DROP TABLE IF EXISTS {name.name}"))
        connection.execute(text("DROP TABLE alembic_version"))
    release_database(empty_database_url)
    assert built == reflected_schema(engine)


@pytest.mark.parametrize("empty_database_url", DATABASE_BACKENDS, indirect=True)
def test_processes_starting_at_once_upgrade_the_database_once(empty_database_url: str) -> None:
    starters = [subprocess.Popen([sys.executable, "-c", UPGRADE_WHEN_TOLD, empty_database_url], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    assert [starter.stdout.readline() for starter in starters if starter.stdout] == ["connected\n"] * 4
    for starter in starters:  # all told before any is waited for
        assert starter.stdin is not None
        starter.stdin.close()
    outcomes = [starter.stdout.read() for starter in starters if starter.stdout]
    assert [starter.wait(timeout=120) for starter in starters] == [0] * 4, outcomes
    head = migrations.head()
    assert sorted(outcomes) == [f"{head} {head}\n"] * 3 + [f"None {head}\n"], outcomes


@pytest.mark.parametrize("empty_database_url", DATABASE_BACKENDS, indirect=True)
def test_a_database_newer_than_the_gateway_is_refused_and_left_as_it_is(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    before = reflected_schema(engine)
    with pytest.raises(UnknownSchema, match="revision 9999, which this gateway does not know"):
        make_engine(empty_database_url)
    assert reflected_schema(engine) == before


def test_a_database_at_head_is_opened_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    make_engine(f"sqlite:///{path}").dispose()
    engine = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert migrations.current(engine) == migrations.head()


def test_db_upgrade_brings_the_data_dirs_database_to_the_newest_revision(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert result.output == f"database schema upgraded from no revision to {migrations.head()}\n"
    assert migrations.current(connect(f"sqlite:///{tmp_path / 'data' / 'gateway.db'}")) == migrations.head()


def test_db_current_names_a_revision_behind_and_the_command_that_upgrades_it(tmp_path: Path) -> None:
    release_database(f"sqlite:///{tmp_path / 'gateway.db'}")
    result = CliRunner().invoke(app, ["db", "current", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("no revision") and "`certnet db upgrade`" in result.output


def test_db_history_lists_every_revision_oldest_first() -> None:
    result = CliRunner().invoke(app, ["db", "history"])
    assert [line.split()[0] for line in result.output.splitlines()] == \
        [revision.revision for revision in migrations.history()]
    assert result.output.splitlines()[0].startswith(migrations.RELEASE_REVISION)


def test_db_upgrade_of_a_database_newer_than_the_gateway_fails_with_one_line(tmp_path: Path) -> None:
    with make_engine(f"sqlite:///{tmp_path / 'gateway.db'}").begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    result = CliRunner().invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert (result.exit_code, result.output.count("\n")) == (1, 1)
    assert result.output.startswith("error (unknown_schema): the database's schema is at revision 9999")
