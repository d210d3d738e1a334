"""The audit trail service: records accesses in the access log, anchors its checkpoints through the
outbox (as the log-operator department), and answers proofs against those checkpoints."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit import access_log
from gateway.audit.merkle_log import consistency_proof, inclusion_proof, root, verify_inclusion
from gateway.certificates.document import to_datetime_text
from gateway.chain import OUTAGES, Chain, Custody
from gateway.db import AccessLogEntry, Operation
from gateway.errors import Forbidden, GatewayError, InvalidInput, NotFound
from gateway.outbox import Outbox
from ledger_node.chainstate import code_text
from ledger_node.types import Role, code32

log = logging.getLogger(__name__)
#: The checkpoint thread's first wait after an error; it doubles per further error, up to the interval.
CHECKPOINT_FIRST_RETRY_SECONDS = 1.0


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


class AuditTrail:
    def __init__(self, chain: Chain, custody: Custody, outbox: Outbox, sessions: sessionmaker, *,
                 durable_sessions: sessionmaker, log_id: str) -> None:
        self.log_id = code32(log_id)  # the log's id in the AuditCheckpoints contract
        self.chain = chain
        self.custody = custody
        self.outbox = outbox
        self.sessions = sessions
        self.durable_sessions = durable_sessions  # changes of state with their entry, checkpoint operations
        self.log = access_log.GroupCommit(sessions)
        checkpoints = chain.deployment.checkpoints.functions
        outbox.builders["checkpoint"] = lambda op: checkpoints.appendCheckpoint(
            self.log_id, op.request["treeSize"], bytes.fromhex(op.request["root"][2:]))

    def record(self, department: str | None, action: access_log.Action, **entry: Any) -> int:
        """Appends one access (who, what, outcome; never personal data in clear); its position once
        committed, together with the entries other requests record meanwhile (`GroupCommit`)."""
        return self.log.append(department, action, entry)

    @contextmanager
    def recorded(self, department: str | None, action: access_log.Action,
                 **entry: Any) -> Iterator[tuple[Session, dict[str, Any]]]:
        """A transaction for a change of state that commits together with its entry, durably (it is
        a promise to a holder): the caller changes rows in the session and completes the entry (an
        `outcome` at least). A `GatewayError` rolls the change back and is recorded as the outcome,
        in a transaction of its own, before it propagates."""
        try:
            with self.log.writing, self.durable_sessions.begin() as session:
                yield session, entry
                access_log.append(session, department, action, entry)
        except GatewayError as error:
            self.record(department, action, **{**entry, "outcome": error.code})
            raise

    # ----- checkpoints -----

    def operator(self) -> Any:
        """The department governance registered to checkpoint this log (AuditCheckpoints.setLogOperator),
        which must hold the log-operator role and one of whose keys this gateway must hold."""
        registered = self.chain.deployment.checkpoints.functions.logOperator(self.log_id).call()
        log_id = code_text(self.log_id)
        if registered == bytes(32):
            raise Forbidden(f"access log {log_id!r} is not registered on chain: governance registers it with its "
                            "operator (AuditCheckpoints.setLogOperator; the spec's access_logs)", log_id=log_id)
        department = self.chain.require_active(code_text(registered), Role.LOG_OPERATOR)
        self.custody.key_for(department)  # Forbidden when this gateway holds none of its keys
        return department

    def request_checkpoint(self) -> Operation | None:
        """Queues a checkpoint of the current tree head, unless the chain already has this size."""
        with self.durable_sessions() as session:  # accepting the operation syncs the entries it covers too
            last = session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.position.desc()).limit(1)).first()
            if last is None or last.position + 1 <= self.anchored_size():
                return None
            department = self.operator()
            call = {"treeSize": last.position + 1, "root": last.tree_head}
            idempotency_key = f"checkpoint:{call['treeSize']}"
            if found := self.outbox.existing(session, department.code, idempotency_key, call["root"]):
                return found
            return self.outbox.accept(session, self.outbox.operation(
                "checkpoint", department.code, self.custody.key_for(department).address, idempotency_key,
                call["root"], call))

    def checkpoints(self) -> list[dict[str, Any]]:
        contract = self.chain.deployment.checkpoints.functions
        count = contract.checkpointCount(self.log_id).call()
        result = []
        for index in range(count):
            tree_size, anchored_at, anchored_block, root_hash = contract.checkpoint(self.log_id, index).call()
            result.append({"index": index, "treeSize": tree_size, "root": _hex(root_hash),
                           "anchoredAt": anchored_at, "anchoredBlock": anchored_block})
        return result

    def anchored_size(self) -> int:
        return self._last_checkpoint()[0]

    def _last_checkpoint(self) -> tuple[int, int | None]:
        """The tree size and chain time of the newest checkpoint on chain; (0, None) before the first."""
        contract = self.chain.deployment.checkpoints.functions
        count = contract.checkpointCount(self.log_id).call()
        return tuple(contract.checkpoint(self.log_id, count - 1).call()[:2]) if count else (0, None)

    def run_checkpoints(self, stop: threading.Event, interval_seconds: float,
                        leading: Callable[[], bool] = lambda: True) -> None:
        """Anchors the tree head every `interval_seconds` when it grew, while `leading` (this process
        holds the duty among the gateways on its database). Any error is logged and retried after a
        backoff (1 s doubling, at most the interval): the thread only ends with `stop`."""
        delay, failures = interval_seconds, 0
        while not stop.wait(delay):
            if not leading():
                continue
            try:
                self.request_checkpoint()
            except Exception as error:  # whatever it is, a dead thread would leave the log unanchored unnoticed
                failures += 1
                delay = min(interval_seconds, CHECKPOINT_FIRST_RETRY_SECONDS * 2 ** min(failures - 1, 16))
                log.log(logging.WARNING if isinstance(error, OUTAGES) else logging.ERROR,
                        "anchoring the access log failed (%d time(s) in a row); retrying in %.0f s", failures, delay,
                        exc_info=not isinstance(error, OUTAGES))
            else:
                delay, failures = interval_seconds, 0

    def checkpoint_status(self, interval_seconds: float) -> dict[str, Any]:
        """When the last checkpoint was anchored (chain time), and whether anchoring is overdue: an entry
        has waited more than two intervals (one to be queued, one to be mined) without a checkpoint.
        With no interval (on demand only) nothing is overdue: `overdue` is None."""
        anchored_size, anchored_at = self._last_checkpoint()
        with self.sessions() as session:
            last = session.scalar(select(func.max(AccessLogEntry.position)))
            oldest_unanchored = session.get(AccessLogEntry, anchored_size)
        overdue = None if interval_seconds <= 0 else (
            oldest_unanchored is not None and time.time() - oldest_unanchored.recorded_at > 2 * interval_seconds)
        return {"lastAnchoredAt": to_datetime_text(dt.datetime.fromtimestamp(anchored_at, dt.timezone.utc))
                if anchored_at else None,
                "anchoredSize": anchored_size, "logSize": 0 if last is None else last + 1,
                "intervalSeconds": interval_seconds, "overdue": overdue}

    # ----- reading and proving -----

    def entries(self, *, department: str | None = None, action: access_log.Action | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None, after: int = -1,
                limit: int = 100) -> dict[str, Any]:
        query = select(AccessLogEntry).where(AccessLogEntry.position > after)
        if department:
            query = query.where(AccessLogEntry.department == department)
        if action:
            query = query.where(AccessLogEntry.action == action)
        if since:
            query = query.where(AccessLogEntry.recorded_at >= since.timestamp())
        if until:
            query = query.where(AccessLogEntry.recorded_at < until.timestamp())
        with self.sessions() as session:
            rows = session.scalars(query.order_by(AccessLogEntry.position).limit(limit + 1)).all()
        page = rows[:limit]
        return {"entries": [access_log.entry_view(row) for row in page],
                "next": page[-1].position if len(rows) > limit else None}

    def _leaves(self, size: int) -> list[bytes]:
        with self.sessions() as session:
            stored = session.scalar(select(func.count()).select_from(AccessLogEntry))
            if not 0 < size <= stored:
                raise InvalidInput(f"the log has {stored} entries; no tree of size {size}")
            return [bytes.fromhex(h[2:]) for h in session.scalars(
                select(AccessLogEntry.leaf_hash).order_by(AccessLogEntry.position).limit(size))]

    def inclusion(self, position: int, tree_size: int) -> dict[str, Any]:
        """The entry and its RFC 6962 audit path to the root of the first `tree_size` entries."""
        leaves = self._leaves(tree_size)
        if not 0 <= position < tree_size:
            raise NotFound(f"no entry {position} in the tree of size {tree_size}")
        with self.sessions() as session:
            entry = session.get(AccessLogEntry, position)
        return {"position": position, "treeSize": tree_size, "entry": entry.entry if entry else None,
                "leafHash": _hex(leaves[position]), "root": _hex(root(leaves)),
                "proof": [_hex(p) for p in inclusion_proof(leaves, position)]}

    def check_inclusion(self, proof: dict[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
        """Problems with an inclusion proof (as `inclusion` returns it) against the checkpoint of its
        tree size read from the chain, and that checkpoint: the entry must hash to the leaf and the
        audit path lead to the anchored root, whatever the proof's own `root` says."""
        try:
            size, position = int(proof["treeSize"]), int(proof["position"])
            leaf, path = bytes.fromhex(proof["leafHash"][2:]), [bytes.fromhex(p[2:]) for p in proof["proof"]]
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInput(f"not an inclusion proof from GET /v1/audit/log/entries/{{position}}/inclusion: "
                               f"{error}") from None
        anchored = next((c for c in self.checkpoints() if c["treeSize"] == size), None)
        if anchored is None:
            return [f"no checkpoint of tree size {size} is anchored on chain"], None
        problems = []
        if access_log.readable_leaf(proof.get("entry")) != leaf:
            problems.append(f"entry {position} does not hash to the leaf {proof['leafHash']}")
        if not verify_inclusion(leaf, position, size, path, bytes.fromhex(anchored["root"][2:])):
            problems.append(f"the audit path of entry {position} does not lead to the root anchored in block "
                            f"{anchored['anchoredBlock']}")
        return problems, anchored

    def consistency(self, old_size: int, new_size: int) -> dict[str, Any]:
        leaves = self._leaves(new_size)
        if not 0 < old_size <= new_size:
            raise InvalidInput("the old size must be between 1 and the new size")
        return {"oldSize": old_size, "newSize": new_size, "oldRoot": _hex(root(leaves[:old_size])),
                "newRoot": _hex(root(leaves)), "proof": [_hex(p) for p in consistency_proof(leaves, old_size)]}

    def verify(self) -> list[access_log.Problem]:
        """The log recomputed from its rows against every checkpoint on chain."""
        with self.sessions() as session:
            rows, links = access_log.read_stored(session)
        anchored = [(c["treeSize"], bytes.fromhex(c["root"][2:])) for c in self.checkpoints()]
        return access_log.check(rows, links, anchored)
