"""The event index: the contracts' events, decoded into SQL, `confirmations` blocks behind the head.

Each round first checks that the last indexed block is still on the chain; if its hash changed
(a reorganisation) or the chain is shorter, the index walks back over the block hashes it stored
to the newest one the chain still has, deletes everything above it, tells the outbox (whose
operations in those blocks go back to be sent again), and reads forward again. It resumes where it
stopped after a restart. `verify` re-reads the chain and lists what differs. Of several gateway
processes on one database, the one holding the `event-index` lease follows the chain (its rounds
are fenced by it); the others read what it wrote.

It follows every registry version of the deployment (a retired registry still records revocations).
A successor registry that joined the manifest after the index had passed its takeover (the gateway
was restarted after `certnet contracts upgrade`) is read back from its deployment block once: it
emits nothing before its RegistryTookOver event, so an index without that event has none of its
events.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Callable

from hexbytes import HexBytes
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.contract import Contract

from gateway import chain_state
from gateway.chain import OUTAGES
from ledger_node.chainstate import block_hash, code_text, events_by_topic
from ledger_node.deploy import Deployment
from ledger_node.rpc import JsonRpc
from gateway.db import ChainEvent, IndexedBlock
from gateway.leases import INDEX_DUTY, LeaseLost, Leases

log = logging.getLogger(__name__)

#: Blocks per `eth_getLogs` request.
RANGE = 2_000
#: Stored block hashes compared per query while looking for where a reorganisation began.
REWIND_PAGE = 64

#: Which argument of an event names its department, type, subject and related hash.
DEPARTMENT_ARGS = ("issuer", "department", "owner", "proposer", "governor", "executor", "operator")
TYPE_ARGS = ("certificateType",)
#: The events that name only the anchor (the hash or batch root argument): the rest is read from the anchor.
ANCHORED = {"CertificateIssued": "certificateHash", "BatchAnchored": "batchRoot"}
SUBJECT_ARGS = ("certificateHash", "batchRoot", "serviceItem", "logId")
RELATED_ARGS = {"CertificateSuperseded": "successor", "CertificateRevoked": "batchRoot"}
CODE_ARGS = set(DEPARTMENT_ARGS) | set(TYPE_ARGS) | {"serviceItem", "logId", "requiredTypes", "previousOwner",
                                                     "previousOperator", "canceller"}


@dataclass(frozen=True)
class Difference:
    block_number: int
    log_index: int
    problem: str  # "missing from the index", "not on the chain", "differs"


class EventIndex:
    def __init__(self, deployment: Deployment, sessions: sessionmaker, *, confirmations: int,
                 on_rewind: Callable[[], None] = lambda: None, leases: Leases | None = None) -> None:
        self.w3: Web3 = deployment.registry.w3
        self.sessions = sessions
        self.confirmations = confirmations
        self.on_rewind = on_rewind  # the outbox re-checks its operations' blocks at once
        self.leases = leases  # None: this index is the only one (a test's, the benchmark's)
        self.first_block = deployment.first_block
        self._state_checked = False  # whether an older gateway's index lacks the derived state (once)
        self._rpc = JsonRpc.of(self.w3)
        contracts = [("Consortium", deployment.consortium), ("Catalog", deployment.catalog),
                     ("AuditCheckpoints", deployment.checkpoints),
                     *(("CertificateRegistry", registry) for registry in deployment.registries)]
        self._names = {contract.address: name for name, contract in contracts}
        self._events = {contract.address: events_by_topic(contract) for _name, contract in contracts}
        #: Each successor registry (all but the first version): its predecessor's address and its deployment block.
        blocks = [*(block for _registry, block in deployment.retired_registries),
                  deployment.blocks["CertificateRegistry"]]
        self._successors = [(registry.address, predecessor.address, block) for predecessor, registry, block
                            in zip(deployment.registries, deployment.registries[1:], blocks[1:])]
        self._registries = {registry.address: registry for registry in deployment.registries}
        self._consortium, self._catalog = deployment.consortium, deployment.catalog
        self._department_codes: dict[int, bytes] = {}  # department id -> code (an id is never reused)
        self._type_codes: dict[int, bytes] = {}  # type id -> code
        #: Notified after each round that changed what the index holds, for the queries in `wait_for`.
        self._advanced = threading.Condition()

    # ----- following -----

    def indexed_block(self, session: Session | None = None) -> int:
        """The last block the index has read (the block before the deployment when none)."""
        with self.sessions() as own:
            latest = (session or own).scalar(select(func.max(IndexedBlock.number)))
        return latest if latest is not None else self.first_block - 1

    def run(self, stop: threading.Event, poll_seconds: float) -> None:
        """Follows the chain while this process holds the index's lease; otherwise wakes the queries
        waiting for a block (`wait_for`) every `poll_seconds` to look at what the leader indexed."""
        while not stop.is_set():
            if self.leases is not None and not self.leases.holds(INDEX_DUTY):
                self._notify_waiters()
                stop.wait(poll_seconds)
                continue
            try:
                caught_up = self.sync_once()
            except LeaseLost as lost:  # another process follows the chain now; this round was rolled back
                log.warning("indexing stopped: %s", lost)
                continue
            except OUTAGES as error:
                log.warning("index waits for the chain or the database: %s", error)
                caught_up = True
            except Exception:  # keep following; the lag in /healthz shows that it is stuck
                log.exception("indexing failed; retrying")
                caught_up = True
            if caught_up:
                stop.wait(poll_seconds)

    def wait_for(self, block: int, timeout: float) -> bool:
        """Waits at most `timeout` seconds for the index to have read `block`, so that a query right
        after a transaction sees it; False when it has not (the index answers with what it has).
        It wakes when this process's index commits a round, or, when another process indexes, at
        each of `run`'s polls. With CONFIRMATIONS > 0 the index stays behind on
        purpose: no wait."""
        if self.confirmations > 0:
            return False
        with self._advanced:
            return self._advanced.wait_for(lambda: self.indexed_block() >= block, timeout)

    def _notify_waiters(self) -> None:
        with self._advanced:
            self._advanced.notify_all()

    def sync_once(self) -> bool:
        """Rewinds if the chain reorganised, then indexes up to one range; True when caught up."""
        with self.sessions() as session:
            if self.leases is not None:
                self.leases.fence(session, [INDEX_DUTY])
            if not self._state_checked:
                if chain_state.rebuild_if_missing(session):
                    log.warning("derived the chain state from the events indexed before it was kept")
                self._read_late_successors(session)
                session.commit()
                self._state_checked = True
            stored = session.execute(chain_state.HEIGHT).first()
            head, stored_hash = self._head_and_hash(stored.number if stored else None)
            if stored is not None and stored_hash != stored.hash:
                self._rewind(session, stored.number)
            target = head - self.confirmations
            start = self.indexed_block(session) + 1
            if start > target:
                return True
            end = min(target, start + RANGE - 1)
            rows, blocks = self._read(start, end, also_block=end)
            session.add_all(rows)
            chain_state.apply(session, rows)
            session.add_all(blocks)
            session.commit()
        self._notify_waiters()
        return end == target

    def _read_late_successors(self, session: Session) -> None:
        """Reads the events of each successor registry whose takeover the index passed without following it."""
        indexed = self.indexed_block(session)
        took_over = {row.args["predecessor"] for row in session.scalars(
            select(ChainEvent).where(ChainEvent.event == "RegistryTookOver"))}
        for address, predecessor, block in self._successors:
            if block > indexed or predecessor in took_over:
                continue
            log.warning("reading the events of registry %s, blocks %s to %s: it joined the manifest after the index "
                        "had passed them", address, block, indexed)
            for start in range(block, indexed + 1, RANGE):
                rows, _blocks = self._read(start, min(indexed, start + RANGE - 1), addresses=[address])
                session.add_all(rows)
                chain_state.apply(session, rows)

    def _head_and_hash(self, number: int | None) -> tuple[int, str | None]:
        """The chain's head and the hash of its block `number` (None: no such block any more), in one
        JSON-RPC request where the node is reached over HTTP: a round of an idle index is this one
        request, whatever the chain's length (web3.py's two calls cost ≈25 ms of CPU)."""
        if self._rpc is None:
            return self.w3.eth.block_number, block_hash(self.w3, number) if number is not None else None
        if number is None:
            return int(self._rpc.batch([("eth_blockNumber", [])])[0], 16), None
        head, block = self._rpc.batch([("eth_blockNumber", []), ("eth_getBlockByNumber", [hex(number), False])])
        return int(head, 16), block["hash"] if block else None

    def _rewind(self, session: Session, newest: int) -> None:
        """After a reorganisation (the newest stored block is no longer the chain's): walks the stored
        blocks back, a page at a time, to the newest the chain still has and forgets everything above."""
        keep, below = self.first_block - 1, newest + 1
        while below > self.first_block - 1:
            page = session.scalars(select(IndexedBlock).where(IndexedBlock.number < below)
                                   .order_by(IndexedBlock.number.desc()).limit(REWIND_PAGE)).all()
            kept = next((block for block in page if self._on_chain(block)), None)
            if kept is not None or len(page) < REWIND_PAGE:
                keep = kept.number if kept is not None else keep
                break
            below = page[-1].number
        log.warning("chain reorganised below block %s: index rewinds to block %s", newest, keep)
        session.execute(delete(ChainEvent).where(ChainEvent.block_number > keep))
        session.execute(delete(IndexedBlock).where(IndexedBlock.number > keep))
        chain_state.forget_above(session, keep)
        session.commit()
        self.on_rewind()

    def _on_chain(self, block: IndexedBlock) -> bool:
        return block_hash(self.w3, block.number) == block.hash

    def _read(self, start: int, end: int, *, also_block: int | None = None,
              addresses: list[str] | None = None) -> tuple[list[ChainEvent], list[IndexedBlock]]:
        """The contracts' events (of `addresses` only, when given) in blocks start..end as rows, and the
        blocks they are in (and `also_block`) with their hashes and times; each block header is read once."""
        logs = self.w3.eth.get_logs({"fromBlock": start, "toBlock": end, "address": addresses or list(self._names)})
        numbers = {entry["blockNumber"] for entry in logs} | ({also_block} if also_block is not None else set())
        headers = {number: self.w3.eth.get_block(number) for number in numbers}
        rows = []
        for entry in logs:
            event = self._events[entry["address"]].get(HexBytes(entry["topics"][0]).to_0x_hex())
            if event is not None:
                decoded = event.process_log(entry)
                if decoded["event"] in ANCHORED:
                    decoded = self._with_anchor(self._registries[entry["address"]], decoded)
                rows.append(event_row(self._names[entry["address"]], decoded,
                                      headers[entry["blockNumber"]]["timestamp"]))
        return rows, [IndexedBlock(number=number, hash=HexBytes(header["hash"]).to_0x_hex(), timestamp=header["timestamp"])
                      for number, header in sorted(headers.items())]

    def _with_anchor(self, registry: Contract, decoded: Any) -> dict[str, Any]:
        """A CertificateIssued or BatchAnchored event with what its anchor in `registry` holds: the event
        carries only the hash or root (CertificateIssued costs what DocumentStore's does), the anchor slot the
        issuer, type, version, validity and a batch's member count, by id; ids name the same department or
        type forever, so their codes are read once.
        Those four fields are written once, with the anchor (a revocation changes only the slot's
        other fields), so they are read at the latest block, not the event's: nodes that keep no
        old state (Besu's Bonsai storage) serve it, and an index rebuilt from genesis can read them."""
        anchored = ANCHORED[decoded["event"]]
        anchor = registry.functions.anchorOf(decoded["args"][anchored]).call()
        issuer_id, type_id, type_version, valid_until, member_count = anchor[0], anchor[1], anchor[2], anchor[5], anchor[6]
        if issuer_id not in self._department_codes:
            self._department_codes[issuer_id] = self._consortium.functions.departmentCode(issuer_id).call()
        if type_id not in self._type_codes:
            self._type_codes[type_id] = self._catalog.functions.typeCode(type_id).call()
        args = {**decoded["args"], "issuer": self._department_codes[issuer_id],
                "certificateType": self._type_codes[type_id], "typeVersion": type_version, "validUntil": valid_until,
                **({"memberCount": member_count} if decoded["event"] == "BatchAnchored" else {})}
        return {**decoded, "args": args}

    # ----- checking -----

    def verify(self) -> list[Difference]:
        """Re-reads every event up to the indexed block and compares it with the index."""
        last = self.indexed_block()
        on_chain: dict[tuple[int, int], ChainEvent] = {}
        for start in range(self.first_block, last + 1, RANGE):
            rows, _blocks = self._read(start, min(last, start + RANGE - 1))
            on_chain.update({(row.block_number, row.log_index): row for row in rows})
        differences = []
        with self.sessions() as session:
            indexed = {(r.block_number, r.log_index): r for r in session.scalars(select(ChainEvent))}
        for position in sorted(on_chain.keys() | indexed.keys()):
            chain_row, index_row = on_chain.get(position), indexed.get(position)
            if index_row is None:
                differences.append(Difference(*position, "missing from the index"))
            elif chain_row is None:
                differences.append(Difference(*position, "not on the chain"))
            elif _fingerprint(chain_row) != _fingerprint(index_row):
                differences.append(Difference(*position, "differs"))
        return differences


def event_row(contract: str, decoded: Any, timestamp: int) -> ChainEvent:
    args = {name: _plain(name, value) for name, value in decoded["args"].items()}
    name = decoded["event"]
    return ChainEvent(
        block_number=decoded["blockNumber"], log_index=decoded["logIndex"],
        block_hash=HexBytes(decoded["blockHash"]).to_0x_hex(), tx_hash=HexBytes(decoded["transactionHash"]).to_0x_hex(),
        timestamp=timestamp, contract=contract, event=name,
        department=next((args[a] for a in DEPARTMENT_ARGS if a in args), None),
        certificate_type=next((args[a] for a in TYPE_ARGS if a in args), None),
        subject=next((args[a] for a in SUBJECT_ARGS if a in args), None),
        related=args.get(RELATED_ARGS[name]) if name in RELATED_ARGS else None,
        args=args,
    )


def _plain(name: str, value: Any) -> Any:
    """An event argument as JSON: codes as text, hashes as 0x hex."""
    if isinstance(value, bytes):
        return code_text(value) if name in CODE_ARGS else "0x" + value.hex()
    if isinstance(value, Mapping):
        return {key: _plain(key, v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(name, v) for v in value]
    return value


def _fingerprint(row: ChainEvent) -> tuple[Any, ...]:
    return (row.block_hash, row.tx_hash, row.event, row.contract, row.args, row.timestamp)

