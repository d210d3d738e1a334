"""The gateway database: a file made by an older gateway is brought up to date when opened."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, select, text

from gateway.db import IssuedCertificate, make_engine, session_factory

DOCUMENT = {"credentialSubject": {"id": "urn:certnet:holder:" + "ab" * 32},
            "credentialSchema": {"id": "urn:certnet:type:320100-MZ-001"}, "proof": {"certificateHash": "0x" + "01" * 32}}


def test_an_older_database_gets_the_new_columns_filled_from_the_documents(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        session.add(IssuedCertificate(certificate_hash="0x" + "01" * 32, operation_id=1, position=0,
                                      document=DOCUMENT))
    with engine.begin() as connection:  # what the issue-6 gateway created
        connection.execute(text("DROP INDEX ix_issued_certificates_holder"))
        connection.execute(text("ALTER TABLE issued_certificates DROP COLUMN holder"))
        connection.execute(text("ALTER TABLE issued_certificates DROP COLUMN certificate_type"))
    engine.dispose()

    reopened = make_engine(url)
    assert "ix_issued_certificates_holder" in {i["name"] for i in inspect(reopened).get_indexes("issued_certificates")}
    with session_factory(reopened)() as session:
        row = session.scalars(select(IssuedCertificate)).one()
    assert (row.holder, row.certificate_type) == (DOCUMENT["credentialSubject"]["id"], "320100-MZ-001")


def test_a_current_database_is_left_as_it_is(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    columns = {c["name"] for c in inspect(make_engine(url)).get_columns("issued_certificates")}
    assert {c["name"] for c in inspect(make_engine(url)).get_columns("issued_certificates")} == columns
