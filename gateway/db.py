"""The gateway database: the durable outbox of chain operations, the certificates the gateway
issued, API tokens, seen request nonces, the event index, the access log, holders' keys and
consents, the leases of background duties and the web console's sessions. SQLite file by default,
PostgreSQL by URL; the same models serve both.
"""

from __future__ import annotations

import sqlite3
import time
from enum import Enum
from typing import Any, Literal

from sqlalchemy import (JSON, BigInteger, Float, ForeignKey, Index, Integer, LargeBinary, String, Text,
                        UniqueConstraint, create_engine, event, text)
from sqlalchemy.engine import URL, Engine, ExceptionContext, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from gateway import migrations
from gateway.certificates.document import IDENTIFIER, type_code
from gateway.errors import StorageUnavailable

#: SQLite's words for a database that cannot take a request now, though nothing is wrong with the
#: request: its file system is full or read-only, its file cannot be opened, or it stays locked.
SQLITE_UNAVAILABLE = ("database or disk is full", "readonly database", "unable to open database file",
                      "disk i/o error", "database is locked")


class Base(DeclarativeBase):
    pass


class OperationState(str, Enum):
    """accepted → prepared → signed → sent → mined → done | failed. `signed` is written (with the raw
    transaction) before the transaction is sent, so a restart knows of every transaction that
    may be on the chain. A `mined` or `done` operation whose block leaves the chain (reorganisation,
    a node restarted from an older state) goes back to `signed`; one whose nonce went to another
    transaction back to `prepared`."""

    ACCEPTED = "accepted"  # stored; a batch's documents are still being composed
    PREPARED = "prepared"  # everything to send is stored; no transaction yet
    SIGNED = "signed"  # raw transaction stored, maybe sent
    SENT = "sent"  # the node took it; awaiting the receipt
    MINED = "mined"  # in a block fewer than CONFIRMATIONS deep
    DONE = "done"  # in a block at least CONFIRMATIONS deep
    FAILED = "failed"


OPEN_STATES = (OperationState.ACCEPTED, OperationState.PREPARED, OperationState.SIGNED, OperationState.SENT,
               OperationState.MINED)
#: Operations whose transaction is in a block: the outbox re-checks that the block is still on the chain.
IN_BLOCK_STATES = (OperationState.MINED.value, OperationState.DONE.value)
#: How many events an operation's history keeps (the newest).
MAX_HISTORY = 32


class Operation(Base):
    __tablename__ = "operations"
    __table_args__ = (UniqueConstraint("department", "idempotency_key"), Index("ix_operations_state", "state", "id"),
                      Index("ix_operations_block", "block_number"),
                      # a department's newest mined operation, which its provenance reads wait for
                      Index("ix_operations_department_block", "department", "block_number"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # issue | batch | revoke | supersede | snapshot
    department: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(66))  # of the request that created it
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # what the transaction needs
    state: Mapped[str] = mapped_column(String(16), default=OperationState.ACCEPTED.value)
    sender: Mapped[str] = mapped_column(String(42))
    gas: Mapped[int] = mapped_column(Integer, default=0)
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    tx_hash: Mapped[str | None] = mapped_column(String(66), index=True)
    raw_tx: Mapped[bytes | None] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=1)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    #: The certificate hash or batch root its mined transaction changed: verification reads these from the
    #: chain until the event index has read the block (read-your-writes, `gateway.chain_state`).
    subject: Mapped[str | None] = mapped_column(String(66), index=True)
    #: What happened to it beyond the happy path: signed with which nonce, mined where, rolled back, sent again.
    history: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    #: Optimistic locking: the dispatcher and `certnet outbox retry` may change the same row.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    updated_at: Mapped[float] = mapped_column(Float, default=time.time, onupdate=time.time)

    __mapper_args__ = {"version_id_col": version}

    def note(self, event: str, **details: Any) -> None:
        """Adds `event` to the operation's history (a new list, so that the ORM sees the change)."""
        self.history = [*(self.history or []), {"at": round(time.time(), 3), "event": event, **details}][-MAX_HISTORY:]


class IssuedCertificate(Base):
    """A certificate the gateway signed for a department: the document as signed (its evidence is
    added from the operation when it is mined)."""

    __tablename__ = "issued_certificates"
    __table_args__ = (UniqueConstraint("operation_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    certificate_hash: Mapped[str] = mapped_column(String(66), unique=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # within a batch, 0 for singles
    batch_root: Mapped[str | None] = mapped_column(String(66), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    holder: Mapped[str | None] = mapped_column(String(96), index=True)  # the pseudonym, for sharing
    certificate_type: Mapped[str | None] = mapped_column(String(32))
    #: The national e-certificate identifier (None in rows of gateways before it existed): unique, so that two
    #: documents can never carry one, and the key of `GET /v1/certificates/by-identifier/{identifier}`.
    identifier: Mapped[str | None] = mapped_column(String(128), index=True, unique=True)

    @classmethod
    def of(cls, document: dict[str, Any], **placement: Any) -> IssuedCertificate:
        """The row of a signed document; `placement`: operation_id, position."""
        return cls(certificate_hash=document["proof"]["certificateHash"], document=document,
                   holder=document["credentialSubject"]["id"], certificate_type=type_code(document),
                   identifier=document.get(IDENTIFIER), **placement)


class IdentifierSerial(Base):
    """The last serial allocated for the identifiers of one department's certificates of one type (by the
    identifier's type segment): the gateway processes sharing the database count on this row, each allocation
    one atomic increment (`gateway.issuance.allocate_serials`)."""

    __tablename__ = "identifier_serials"

    issuer: Mapped[str] = mapped_column(String(32), primary_key=True)
    type_segment: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_serial: Mapped[int] = mapped_column(BigInteger, default=0)


class ApiToken(Base):
    """A development credential of one department; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    revoked_at: Mapped[float | None] = mapped_column(Float)


class RequestNonce(Base):
    """Nonces of signed requests seen within the accepted clock skew: a second use is a replay."""

    __tablename__ = "request_nonces"

    signer: Mapped[str] = mapped_column(String(42), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[float] = mapped_column(Float, index=True)


class IndexedBlock(Base):
    """Hashes of the blocks the index has read (those with events and each range's last), to
    notice a reorganisation."""

    __tablename__ = "indexed_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(66))
    timestamp: Mapped[int | None] = mapped_column(BigInteger)  # None in rows of gateways before it was kept


class ChainEvent(Base):
    """One contract event, decoded. `subject` is the certificate hash, batch root, type or
    department it is about; `related` the other hash it names (successor, batch root)."""

    __tablename__ = "chain_events"
    __table_args__ = (
        UniqueConstraint("block_number", "log_index"),
        Index("ix_chain_events_department_time", "department", "timestamp"),
        Index("ix_chain_events_time", "timestamp"),
        # a certificate's history in chain order, page by page, without sorting (`gateway.provenance`)
        Index("ix_chain_events_subject_order", "subject", "block_number", "log_index"),
        Index("ix_chain_events_related_order", "related", "block_number", "log_index"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)
    block_hash: Mapped[str] = mapped_column(String(66))
    tx_hash: Mapped[str] = mapped_column(String(66))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    contract: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(48))
    department: Mapped[str | None] = mapped_column(String(32))
    certificate_type: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(66))
    related: Mapped[str | None] = mapped_column(String(66))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)


class AnchorRecord(Base):
    """The registry's anchor of a single certificate or a batch root, as its event told it: the
    chain state the gateway verifies from (`gateway.chain_state`)."""

    __tablename__ = "anchors"

    hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(32))
    certificate_type: Mapped[str] = mapped_column(String(32))
    type_version: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    issued_block: Mapped[int] = mapped_column(BigInteger, index=True)
    valid_until: Mapped[int] = mapped_column(BigInteger)  # 0: does not expire
    member_count: Mapped[int] = mapped_column(BigInteger)  # 0: a single certificate


class RevocationRecord(Base):
    """A certificate's revocation (supersession revokes too, with reason 4), per anchor as the registry
    keeps it: one hash may be a member of several batches (or also a single certificate), and a
    revocation by one anchor's issuer does not reach the others."""

    __tablename__ = "revocations"

    certificate_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    batch_root: Mapped[str] = mapped_column(String(66), primary_key=True)  # zeros: a single certificate
    revoked_at: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)


class SupersessionRecord(Base):
    """A certificate's successor, per anchor as `RevocationRecord`."""

    __tablename__ = "supersessions"

    certificate_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    batch_root: Mapped[str] = mapped_column(String(66), primary_key=True)  # zeros: a single certificate
    successor: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)


class KeyRecord(Base):
    """A department key's life: added, and maybe removed (a key is never registered twice)."""

    __tablename__ = "department_keys"

    key: Mapped[str] = mapped_column(String(66), primary_key=True)  # an address, or the 0x-hex id of an SM2 key
    department: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[int] = mapped_column(BigInteger)
    added_block: Mapped[int] = mapped_column(BigInteger, index=True)
    removed_at: Mapped[int | None] = mapped_column(BigInteger)
    removed_block: Mapped[int | None] = mapped_column(BigInteger, index=True)


class TypeRecord(Base):
    """The name the catalog registered a certificate type under (its `TypeRegistered` event), for readers."""

    __tablename__ = "certificate_types"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)


class TypeVersionRecord(Base):
    """The schema hash the catalog published for a certificate type's version."""

    __tablename__ = "type_versions"

    certificate_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    schema_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)


class AccessLogEntry(Base):
    """One entry of the RFC 6962 access log (`gateway.audit.access_log`); rows are only appended."""

    __tablename__ = "access_log"

    position: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                          autoincrement=False)
    recorded_at: Mapped[float] = mapped_column(Float)
    department: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(32))
    entry: Mapped[dict[str, Any]] = mapped_column(JSON)
    leaf_hash: Mapped[str] = mapped_column(String(66))
    tree_head: Mapped[str] = mapped_column(String(66))  # root of the tree of positions 0..position
    frontier: Mapped[list[Any]] = mapped_column(JSON)  # [size, hash] of the perfect subtrees after it


class AccessedCertificate(Base):
    """Which access log entries name which certificate: a certificate's history reads its accesses here."""

    __tablename__ = "accessed_certificates"

    certificate_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    position: Mapped[int] = mapped_column(ForeignKey("access_log.position"), primary_key=True)


class HolderKey(Base):
    """A holder's ECDSA P-256 public key, registered for the holder's pseudonym by a department
    with the holder-channel role (`gateway.sharing`)."""

    __tablename__ = "holder_keys"

    key_id: Mapped[str] = mapped_column(String(66), primary_key=True)  # SHA-256 of the DER public key
    holder: Mapped[str] = mapped_column(String(96), index=True)
    public_key: Mapped[str] = mapped_column(Text)  # PEM
    registered_by: Mapped[str] = mapped_column(String(32))
    registered_at: Mapped[float] = mapped_column(Float, default=time.time)
    revoked_at: Mapped[float | None] = mapped_column(Float)


class Consent(Base):
    """A holder's signed consent (`gateway.sharing.consent`), as received; `withdrawn_at` is final."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_use", "holder", "grantee", "service_item"),)

    id: Mapped[str] = mapped_column(String(66), primary_key=True)  # SHA-256 of the record's RFC 8785 JSON
    holder: Mapped[str] = mapped_column(String(96))
    grantee: Mapped[str] = mapped_column(String(32))
    service_item: Mapped[str] = mapped_column(String(32))
    not_before: Mapped[float] = mapped_column(Float)
    not_after: Mapped[float] = mapped_column(Float)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(ForeignKey("holder_keys.key_id"))
    received_at: Mapped[float] = mapped_column(Float, default=time.time)
    withdrawn_at: Mapped[float | None] = mapped_column(Float)
    withdrawal: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the signed withdrawal record


class Lease(Base):
    """Who runs one background duty (the outbox of one sending account, the event index, the access
    log's checkpoints) across the gateway processes sharing this database, until when. `token` grows by
    one at every change of holder: a holder's writes for the duty check it (fencing), so one that was
    paused past its lease finds it taken and writes nothing."""

    __tablename__ = "leases"

    duty: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(128))
    token: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[float] = mapped_column(Float, default=0.0)  # seconds since the epoch, the database's clock


class ConsoleSession(Base):
    """A signed-in auditor of the web console (`gateway.web.console_sessions`): the cookie's value is kept
    only as its SHA-256, so that a copy of the database signs nobody in; every gateway process on the
    database knows the session."""

    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    department: Mapped[str] = mapped_column(String(32))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


#: A PostgreSQL session idle inside a transaction this long is ended by the server. No gateway
#: transaction waits on anything but the chain's answers, which time out sooner (10 s by default).
IDLE_IN_TRANSACTION_SECONDS = 60

#: How SQLite commits (`PRAGMA synchronous`). In WAL mode NORMAL syncs the write-ahead log only when
#: it is checkpointed into the database: a commit is atomic and the file stays consistent, but a
#: power cut may take back the last transactions (always a tail: the log is replayed up to the first
#: frame not on disk). FULL syncs the log at every commit: a commit survives a power cut.
Synchronous = Literal["NORMAL", "FULL"]


def make_engine(url: str, *, synchronous: Synchronous = "NORMAL") -> Engine:
    """An engine for `url`, its schema upgraded to the newest revision (`gateway.migrations`: a new database
    gets every table, an older one the revisions it lacks). SQLite gets WAL, a busy timeout (the HTTP
    threads, the outbox dispatcher and the indexer share one file) and `synchronous`; PostgreSQL its
    server's settings (durable commits by default)."""
    engine = connect(url, synchronous)
    migrations.upgrade(engine)
    return engine


def durable_engine(engine: Engine) -> Engine:
    """An engine for the writes a power cut must not take back (`make_engine`'s tables): for SQLite a
    second pool of connections on the same file that commit with synchronous=FULL, else `engine`.
    A FULL commit syncs the whole write-ahead log, so it also makes every earlier commit durable."""
    return connect(engine.url, "FULL") if engine.dialect.name == "sqlite" else engine


def background_engine(engine: Engine) -> Engine:
    """An engine on `engine`'s database with a connection of its own, for a background thread that must
    not wait behind requests for a pooled connection (the leases' renewal: a lease not renewed in time
    passes to another process)."""
    return connect(engine.url, "NORMAL", pool_size=1)


def connect(url: str | URL, synchronous: Synchronous = "NORMAL", *, pool_size: int = 0) -> Engine:
    """An engine for `url` as `make_engine` configures it, its schema left as it is: SQLite's pragmas or
    PostgreSQL's session settings; `pool_size` 0: the default pools (SQLite 20 + 40 overflow, PostgreSQL
    10 + 20), else that many connections and no overflow."""
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               **_pool(pool_size, 20, 40))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.close()
    else:
        # A process paused inside a transaction (SIGSTOP) holds its locks, a lease's among them
        # (`gateway.leases`): the server ends such a session after a while, and the lease passes.
        engine = create_engine(url, **_pool(pool_size, 10, 20), pool_pre_ping=True, connect_args={
            "options": f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_SECONDS * 1000}"})
    event.listen(engine, "handle_error", _storage_unavailable)
    return engine


def _pool(size: int, default: int, overflow: int) -> dict[str, int]:
    return {"pool_size": size, "max_overflow": 0} if size else {"pool_size": default, "max_overflow": overflow}


def _storage_unavailable(context: ExceptionContext) -> StorageUnavailable | None:
    """A database error that passes (see SQLITE_UNAVAILABLE; for a server, a lost connection or any
    operational error: disk full, shutting down) as `StorageUnavailable`, raised in its place, so that
    requests answer 503 and the background threads wait; anything else stays as SQLAlchemy raised it.
    The message is the driver's first line only: the statement's parameters may hold documents."""
    error = context.original_exception
    if isinstance(error, sqlite3.Error):
        passes = any(words in str(error).lower() for words in SQLITE_UNAVAILABLE)
    else:
        passes = context.is_disconnect or isinstance(context.sqlalchemy_exception, OperationalError)
    if not passes:
        return None
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
    return StorageUnavailable(f"the gateway's database cannot take the request now ({reason}); nothing was "
                              "changed, retry later")


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
