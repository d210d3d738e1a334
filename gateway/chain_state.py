"""The chain state the gateway verifies from, derived by the event index from the contracts' events.

Per certificate or batch root its anchor, per certificate as anchored (hash and batch root, as the
registry keys them) its revocation and successor, per key its
department and life, per type version its schema hash (and per type its name, for readers): what `CertificateRegistry.verificationOf`
reads from storage, kept in tables the index writes in the same transaction as the events it
read, so that they always hold the state at the index's height (and a rewind after a
reorganisation removes what the lost blocks added). `IndexedState.read` answers what
`verificationOf` would answer at that height, from the database alone; `differences` compares
this state with the chain's storage (`certnet index verify`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Callable

from sqlalchemy import Connection, Engine, bindparam, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.certificates.verification import ChainFacts, CheckedAt, Lookup, facts_from_storage
from gateway.db import (AnchorRecord, ChainEvent, IndexedBlock, KeyRecord, Operation, RevocationRecord,
                        SupersessionRecord, TypeRecord, TypeVersionRecord)
from ledger_node.chainstate import code_text
from ledger_node.deploy import Deployment
from ledger_node.types import checksum_address, code32

#: Hashes per `IN (...)` query.
CHUNK = 500
#: The batch root of a single certificate (its own anchor) in the revocation and successor tables.
NO_BATCH = "0x" + "00" * 32


def _anchored(session: Session, row: ChainEvent) -> None:
    args = row.args
    session.add(AnchorRecord(hash=row.subject, issuer=row.department, certificate_type=row.certificate_type,
                             type_version=args["typeVersion"], issued_at=row.timestamp, issued_block=row.block_number,
                             valid_until=args["validUntil"], member_count=args.get("memberCount", 0)))


def _revoked(session: Session, row: ChainEvent, revoked_in: dict[tuple[str, str], str]) -> None:
    revoked_in[(row.tx_hash, row.subject)] = row.related
    session.add(RevocationRecord(certificate_hash=row.subject, batch_root=row.related, revoked_at=row.timestamp,
                                 reason=row.args["reason"], block_number=row.block_number))


def _superseded(session: Session, row: ChainEvent, revoked_in: dict[tuple[str, str], str]) -> None:
    # The revocation (reason superseded) comes from the CertificateRevoked event the same call emitted first,
    # which also names the batch root (CertificateSuperseded does not): same transaction, so same rows.
    session.add(SupersessionRecord(certificate_hash=row.subject, batch_root=revoked_in[(row.tx_hash, row.subject)],
                                   successor=row.related, block_number=row.block_number))


def _key_added(session: Session, row: ChainEvent) -> None:
    session.add(KeyRecord(key=row.args["key"], department=row.department, added_at=row.timestamp,
                          added_block=row.block_number))


def _key_removed(session: Session, row: ChainEvent) -> None:
    session.execute(update(KeyRecord).where(KeyRecord.key == row.args["key"])
                    .values(removed_at=row.timestamp, removed_block=row.block_number))


def _type_registered(session: Session, row: ChainEvent) -> None:
    # merge: revision 0003 already took the names from the indexed events when `rebuild_if_missing` replays them
    session.merge(TypeRecord(code=row.certificate_type, name=row.args["name"], block_number=row.block_number))
    session.add(TypeVersionRecord(certificate_type=row.certificate_type, version=1,
                                  schema_hash=row.args["schemaHash"], block_number=row.block_number))


def _type_version_published(session: Session, row: ChainEvent) -> None:
    session.add(TypeVersionRecord(certificate_type=row.certificate_type, version=row.args["version"],
                                  schema_hash=row.args["schemaHash"], block_number=row.block_number))


#: How each event changes the state (the events the registry, consortium and catalog write it with).
PROJECTIONS: dict[str, Callable[[Session, ChainEvent], None]] = {
    "CertificateIssued": _anchored,
    "BatchAnchored": _anchored,
    "KeyAdded": _key_added,
    "KeyRemoved": _key_removed,
    # SM2 keys (sm2-sm3 suite) share the table, under their 0x-hex id: a lookup's signer finds either kind
    "Sm2KeyAdded": _key_added,
    "Sm2KeyRemoved": _key_removed,
    "TypeRegistered": _type_registered,
    "TypeVersionPublished": _type_version_published,
}


#: The registry's revocation events, which also need the batch root each revocation named in its transaction.
REVOCATIONS: dict[str, Callable[[Session, ChainEvent, dict[tuple[str, str], str]], None]] = {
    "CertificateRevoked": _revoked,
    "CertificateSuperseded": _superseded,
}


def apply(session: Session, rows: Iterable[ChainEvent]) -> None:
    """Changes the state by `rows`, in chain order, in the caller's transaction. The rows of one
    transaction are always in one call (the index reads whole blocks)."""
    revoked_in: dict[tuple[str, str], str] = {}  # (transaction, certificate) -> the batch root revoked in it
    for row in rows:
        if row.event in REVOCATIONS:
            REVOCATIONS[row.event](session, row, revoked_in)
        elif row.event in PROJECTIONS:
            PROJECTIONS[row.event](session, row)
        else:
            continue
        session.flush()  # a key removed in the same range as it was added finds its row


def forget_above(session: Session, block: int) -> None:
    """Removes what blocks above `block` added (a reorganisation lost them)."""
    for table, column in ((AnchorRecord, AnchorRecord.issued_block), (RevocationRecord, RevocationRecord.block_number),
                          (SupersessionRecord, SupersessionRecord.block_number),
                          (TypeVersionRecord, TypeVersionRecord.block_number), (TypeRecord, TypeRecord.block_number),
                          (KeyRecord, KeyRecord.added_block)):
        session.execute(delete(table).where(column > block))
    session.execute(update(KeyRecord).where(KeyRecord.removed_block > block).values(removed_at=None, removed_block=None))


def rebuild_if_missing(session: Session) -> bool:
    """Derives the state from the indexed events when a gateway that indexed them before the state
    tables existed left them empty (every indexed chain has KeyAdded events); True when it did."""
    if session.scalar(select(KeyRecord.key).limit(1)) is not None or session.scalar(
            select(ChainEvent.id).where(ChainEvent.event == "KeyAdded").limit(1)) is None:
        return False  # (found, not counted: a count would read the whole event table at every start)
    apply(session, session.scalars(select(ChainEvent).where(ChainEvent.event.in_([*PROJECTIONS, *REVOCATIONS]))
                                   .order_by(ChainEvent.block_number, ChainEvent.log_index)))
    return True


#: The last block the index read (its hash and time).
HEIGHT = select(IndexedBlock.number, IndexedBlock.hash, IndexedBlock.timestamp).order_by(
    IndexedBlock.number.desc()).limit(1)
# The reads of `IndexedState.read`, built once: building a statement costs more than running it.
_CHANGED = select(Operation.subject).where(Operation.block_number > bindparam("block"),
                                           Operation.subject.in_(bindparam("keys", expanding=True)))
_BY_KEY = {table: select(*table.__table__.columns).where(column.in_(bindparam("keys", expanding=True)))
           for table, column in ((AnchorRecord, AnchorRecord.hash), (RevocationRecord, RevocationRecord.certificate_hash),
                                 (SupersessionRecord, SupersessionRecord.certificate_hash), (KeyRecord, KeyRecord.key))}
_VERSIONS = select(TypeVersionRecord.certificate_type, TypeVersionRecord.version, TypeVersionRecord.schema_hash).where(
    TypeVersionRecord.certificate_type.in_(bindparam("keys", expanding=True)))


def index_height(connection: Connection) -> CheckedAt | None:
    """The last block the index read, or None before its first round."""
    head = connection.execute(HEIGHT).first()
    if head is None:
        return None
    return CheckedAt(block=head.number, block_hash=head.hash, time=head.timestamp or 0, source="index")


class IndexedState:
    """What `verificationOf` answers at the index's height, read from the derived tables."""

    def __init__(self, sessions: sessionmaker) -> None:
        self.sessions = sessions
        self.engine: Engine = sessions.kw["bind"]
        # One snapshot for all reads of a request: PostgreSQL's default gives each statement its own.
        self._snapshot = {"isolation_level": "REPEATABLE READ"} if self.engine.dialect.name == "postgresql" else {}

    def read(self, lookups: Sequence[Lookup]) -> tuple[list[ChainFacts | None], CheckedAt] | None:
        """The facts of each lookup (None where the index knows no such anchor: not anchored, or
        anchored in a block it has not read yet) and the height they hold at; None when nothing is
        indexed yet. One transaction, so that every answer is of the same height."""
        with self.engine.connect().execution_options(**self._snapshot) as connection:
            height = index_height(connection)
            if height is None:
                return None
            certificates = {"0x" + lookup.certificate_hash.hex() for lookup in lookups}
            anchor_hashes = {"0x" + lookup.anchor_hash.hex() for lookup in lookups}
            changed = {row.subject for row in _read(connection, _CHANGED, certificates | anchor_hashes,
                                                    block=height.block)}
            anchors = _by_key(connection, AnchorRecord, anchor_hashes - changed)
            revocations = _by_anchoring(connection, RevocationRecord, certificates)
            successors = _by_anchoring(connection, SupersessionRecord, certificates)
            keys = _by_key(connection, KeyRecord, {lookup.signer for lookup in lookups})
            versions = {(row.certificate_type, row.version): row.schema_hash for row in _read(
                connection, _VERSIONS, {anchor.certificate_type for anchor in anchors.values()})}
        return [_facts(lookup, changed, anchors, revocations, successors, keys, versions, height)
                for lookup in lookups], height


    def type_name(self, code: str) -> str | None:
        """The name `code` was registered under in the catalog, once the index has read it."""
        with self.sessions() as session:
            return session.scalar(select(TypeRecord.name).where(TypeRecord.code == code))


def _read(connection: Connection, statement: Any, keys: set[str], **params: Any) -> list[Any]:
    """The rows `statement` finds for `keys`, CHUNK keys per query."""
    ordered, rows = sorted(keys), []
    for start in range(0, len(ordered), CHUNK):
        rows += connection.execute(statement, {"keys": ordered[start:start + CHUNK], **params}).all()
    return rows


def _by_key(connection: Connection, table: Any, keys: set[str]) -> dict[str, Any]:
    """The rows of `table` whose primary key is one of `keys`, by key."""
    name = table.__table__.primary_key.columns[0].name
    return {getattr(row, name): row for row in _read(connection, _BY_KEY[table], keys)}


def _by_anchoring(connection: Connection, table: Any, certificates: set[str]) -> dict[tuple[str, str], Any]:
    """The rows of `table` (revocations or successors) about one of `certificates`, by (hash, batch root)."""
    return {(row.certificate_hash, row.batch_root): row for row in _read(connection, _BY_KEY[table], certificates)}


def _facts(lookup: Lookup, changed: set[str], anchors: dict[str, Any], revocations: dict[tuple[str, str], Any],
           successors: dict[tuple[str, str], Any], keys: dict[str, Any], versions: dict[tuple[str, int], str],
           height: CheckedAt) -> ChainFacts | None:
    """`verificationOf`'s answer from the rows read (`CertificateRegistry.certificateState`,
    `Consortium.wasKeyOf`, `Catalog.schemaHash`)."""
    anchor = anchors.get("0x" + lookup.anchor_hash.hex())
    certificate = "0x" + lookup.certificate_hash.hex()
    if anchor is None or certificate in changed or (anchor.member_count == 0) != (not any(lookup.batch_root)):
        return None  # unknown here, or a single certificate named as a batch root (or the reverse)
    anchored_as = (certificate, "0x" + lookup.batch_root.hex())
    revocation, successor = revocations.get(anchored_as), successors.get(anchored_as)
    key = keys.get(lookup.signer)
    signer_was_key = key is not None and key.department == anchor.issuer and key.added_at <= anchor.issued_at and (
        key.removed_block is None or anchor.issued_at < (key.removed_at or 0))
    schema_hash = versions.get((anchor.certificate_type, anchor.type_version))
    return facts_from_storage(
        issuer=code32(anchor.issuer), certificate_type=code32(anchor.certificate_type),
        type_version=anchor.type_version, issued_at=anchor.issued_at, issued_block=anchor.issued_block,
        valid_until=anchor.valid_until, batch_root=lookup.batch_root,
        revoked_at=revocation.revoked_at if revocation else 0, revocation_reason=revocation.reason if revocation else 0,
        superseded_by=bytes.fromhex(successor.successor[2:]) if successor else bytes(32),
        signer_was_issuer_key=signer_was_key,
        schema_hash=bytes.fromhex(schema_hash[2:]) if schema_hash else bytes(32), now=height.time)


# ----- checking -----

def differences(deployment: Deployment, sessions: sessionmaker) -> list[str]:
    """Every way the derived state differs from the chain's storage at the chain's head: each
    anchor, revocation, successor, key and schema hash the index holds is read back from the
    contracts, and each department's keys on chain are compared with the index's. Meant for the
    index's height at the head (a quiet chain); what the head added since shows as missing. Each fact
    is read from the registry version that holds it (the newest one for what none holds)."""
    consortium, catalog = deployment.consortium.functions, deployment.catalog.functions

    def holding(read: Callable[[Any], Any]) -> Any:
        """`read`'s answer from the newest registry whose answer is not empty (its first field is not 0),
        asking the registries newest first and stopping there; the newest one's when none holds it."""
        newest = None
        for registry in reversed(deployment.registries):
            answer = read(registry.functions)
            if answer[0] != 0:
                return answer
            newest = answer if newest is None else newest
        return newest

    def anchor_of(hash_text: str) -> Any:
        return holding(lambda registry: registry.anchorOf(bytes.fromhex(hash_text[2:])).call())

    def single_state(hash_text: str) -> Any:
        return holding(lambda registry: registry.certificateState(bytes.fromhex(hash_text[2:]), bytes(32), []).call())

    found: list[str] = []
    with sessions() as session:
        for anchor in session.scalars(select(AnchorRecord)):
            stored = anchor_of(anchor.hash)
            issuer_id, _type_id, version, issued_at, issued_block, valid_until, members = stored
            on_chain = (code_text(consortium.departmentCode(issuer_id).call()) if issuer_id else None, version,
                        issued_at, issued_block, valid_until, members)
            if on_chain != (anchor.issuer, anchor.type_version, anchor.issued_at, anchor.issued_block,
                            anchor.valid_until, anchor.member_count):
                found.append(f"anchor {anchor.hash}: index {anchor.issuer} v{anchor.type_version} at {anchor.issued_at}, "
                             f"chain {on_chain}")
        # Members' revocations and successors are not checked: their proofs are not in the index.
        for revocation in session.scalars(select(RevocationRecord).where(RevocationRecord.batch_root == NO_BATCH)):
            single = single_state(revocation.certificate_hash)
            if single[0] != 0 and (single[8], single[9]) != (revocation.revoked_at, revocation.reason):
                found.append(f"revocation of {revocation.certificate_hash}: index at {revocation.revoked_at} "
                             f"reason {revocation.reason}, chain at {single[8]} reason {single[9]}")
        for successor in session.scalars(select(SupersessionRecord).where(SupersessionRecord.batch_root == NO_BATCH)):
            chain_successor = "0x" + single_state(successor.certificate_hash)[10].hex()
            if chain_successor != successor.successor and chain_successor != "0x" + "00" * 32:
                found.append(f"successor of {successor.certificate_hash}: index {successor.successor}, "
                             f"chain {chain_successor}")
        indexed_keys = {key.key: key for key in session.scalars(select(KeyRecord))}
        for key in indexed_keys.values():
            department_id, added_at, removed_at, *_ = (consortium.sm2KeyRecord(bytes.fromhex(key.key[2:])).call()[0]
                                                       if len(key.key) == 66 else consortium.keyRecord(key.key).call())
            department = code_text(consortium.departmentCode(department_id).call()) if department_id else None
            if (department, added_at, removed_at or None) != (key.department, key.added_at, key.removed_at):
                found.append(f"key {key.key}: index {key.department} added {key.added_at} removed {key.removed_at}, "
                             f"chain {department} added {added_at} removed {removed_at or None}")
        for version in session.scalars(select(TypeVersionRecord)):
            chain_hash = "0x" + catalog.schemaHash(code32(version.certificate_type), version.version).call().hex()
            if chain_hash != version.schema_hash:
                found.append(f"schema of {version.certificate_type} v{version.version}: index {version.schema_hash}, "
                             f"chain {chain_hash}")
    for index in range(1, consortium.departmentCount().call() + 1):
        code = consortium.departmentCode(index).call()
        on_chain = [checksum_address(key) for key in consortium.keysOf(code).call()]
        on_chain += ["0x" + key.hex() for key in consortium.sm2KeysOf(code).call()]
        for key in on_chain:
            if key not in indexed_keys:
                found.append(f"key {key} of {code_text(code)} is on the chain, not in the index")
    return found
