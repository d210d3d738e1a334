"""The durable outbox: every state-changing request becomes an `Operation` row before anything
is sent, and one dispatcher thread takes it to the chain.

The dispatcher signs prepared operations with consecutive nonces per account and *stores the raw
transaction before sending it*, so after a crash every transaction that may be on the chain is
known. Its loop is also the restart reconciliation: signed operations are sent again (the node
recognises the same bytes, or has mined them), sent ones have their receipts collected, prepared
ones are signed. An operation therefore ends mined exactly once or failed with the contract's
reason; none is dropped or duplicated.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from hexbytes import HexBytes
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from web3.contract.contract import ContractFunction
from web3.exceptions import TransactionNotFound, Web3RPCError

from gateway.chain import CONNECTION_ERRORS, Chain
from gateway.db import OPEN_STATES, Operation, OperationState
from gateway.errors import Conflict, StorageUnavailable, TooManyRequests
from ledger_node.sender import Sender, explain_failure

log = logging.getLogger(__name__)

#: A sent transaction without a receipt after this long is sent again (a node may have dropped it).
RESEND_AFTER_SECONDS = 30.0
#: How many operations one dispatcher round signs and sends before collecting receipts.
ROUND_SIZE = 256
MAX_BACKOFF_SECONDS = 8.0

#: Builds an operation's contract call from its stored request.
TransactionBuilder = Callable[[Operation], ContractFunction]
#: Brings an accepted operation to `prepared` (composes a batch's documents), in its own thread; it
#: returns early, leaving the operation `accepted` to resume later, once the event is set (shutdown).
Preparer = Callable[[Operation, threading.Event], None]


class Outbox:
    def __init__(self, sessions: sessionmaker, chain: Chain, sender: Sender, *, max_pending: int) -> None:
        self.sessions = sessions
        self.chain = chain
        self.sender = sender
        self.max_pending = max_pending
        self.builders: dict[str, TransactionBuilder] = {}
        self.preparers: dict[str, Preparer] = {}
        self.chain_reachable = True
        self.mined_block = 0  # the newest block in which this process saw one of its transactions mined
        self._nonces: dict[str, int] = {}
        self._wake = threading.Event()
        self._prepare_wake = threading.Event()
        self._finished: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    # ----- accepting (request threads) -----

    def existing(self, session: Session, department: str, idempotency_key: str | None,
                 request_hash: str, *, retry_failed: bool = False) -> Operation | None:
        """The operation an earlier request with this idempotency key created, if any; `Conflict`
        when that request differed. With `retry_failed`, a failed one is set aside (its key
        renamed) so that the request is tried again."""
        if idempotency_key is None:
            return None
        found = session.scalar(select(Operation).where(Operation.department == department,
                                                       Operation.idempotency_key == idempotency_key))
        if found is not None and retry_failed and found.state == OperationState.FAILED.value:
            found.idempotency_key = f"{idempotency_key}#failed-{found.id}"
            session.commit()
            return None
        if found is not None and found.request_hash != request_hash:
            raise Conflict("this Idempotency-Key was used for a different request", idempotency_key=idempotency_key,
                           operation=found.id)
        return found

    def dry_run(self, kind: str, sender: str, call: dict[str, Any], *, total: int = 1) -> int:
        """The gas `kind`'s call needs from `sender` now; the contract's error if it would revert."""
        probe = Operation(kind=kind, request=call, total=total)
        return self.sender.gas_limit(self.builders[kind](probe), sender, label=kind)

    def operation(self, kind: str, department: str, sender: str, idempotency_key: str | None, request_hash: str,
                  call: dict[str, Any], *, state: OperationState = OperationState.PREPARED,
                  total: int = 1) -> Operation:
        """A new operation, not yet stored; a prepared one is dry-run now (its gas, or the refusal)."""
        operation = Operation(kind=kind, department=department, idempotency_key=idempotency_key,
                              request_hash=request_hash, request=call, state=state.value, sender=sender, total=total,
                              progress=0, attempts=0, gas=0)
        if state is OperationState.PREPARED:
            operation.gas = self.dry_run(kind, sender, call, total=total)
        return operation

    def accept(self, session: Session, operation: Operation, *rows: object) -> Operation:
        """Stores `operation` (and rows that belong to it) in one transaction, then wakes the
        dispatcher. Returns the earlier operation when a concurrent request with the same
        idempotency key won the race."""
        pending = session.scalar(select(func.count()).select_from(Operation)
                                 .where(Operation.state.in_([s.value for s in OPEN_STATES])))
        if pending >= self.max_pending:
            raise TooManyRequests(f"{pending} operations are waiting for the chain; retry later",
                                  retry_after_seconds=10)
        try:
            session.add(operation)
            session.flush()
            for row in rows:
                row.operation_id = operation.id  # type: ignore[attr-defined]
                session.add(row)
            session.commit()
        except IntegrityError:
            session.rollback()
            earlier = self.existing(session, operation.department, operation.idempotency_key, operation.request_hash)
            if earlier is None:
                raise
            return earlier
        with self._lock:
            self._finished.setdefault(operation.id, threading.Event())
        (self._prepare_wake if operation.state == OperationState.ACCEPTED.value else self._wake).set()
        return operation

    def wait(self, operation_id: int, timeout: float) -> Operation:
        """Blocks until the operation is done or failed, or `timeout` passed; returns its row."""
        with self._lock:
            finished = self._finished.setdefault(operation_id, threading.Event())
        # No database connection is held while waiting: the pool is shared with the dispatcher.
        if self._state(operation_id) not in (OperationState.DONE.value, OperationState.FAILED.value):
            finished.wait(timeout)
        with self._lock:
            self._finished.pop(operation_id, None)
        with self.sessions() as session:
            operation = session.get(Operation, operation_id)
        assert operation is not None
        return operation

    def _state(self, operation_id: int) -> str | None:
        with self.sessions() as session:
            return session.scalar(select(Operation.state).where(Operation.id == operation_id))

    def pending_count(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(Operation)
                                  .where(Operation.state.in_([s.value for s in OPEN_STATES])))

    # ----- the dispatcher thread -----

    def run_dispatcher(self, stop: threading.Event) -> None:
        backoff = 0.25
        while not stop.is_set():
            try:
                worked = self.sign_prepared() + self.send_signed() + self.collect_receipts()
                self.chain_reachable, backoff = True, 0.25
            except Exception as error:  # the chain is down, or a bug: the queue waits and retries, never dies
                if isinstance(error, CONNECTION_ERRORS):
                    if self.chain_reachable:
                        log.warning("chain unreachable, outbox waits: %s", error)
                    self.chain_reachable = False
                else:
                    log.exception("outbox round failed; retrying")
                self._nonces.clear()  # the node may come back with another view of pending transactions
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            if not worked:
                self._wake.wait(0.05)
                self._wake.clear()

    def run_preparer(self, stop: threading.Event) -> None:
        waiting = False
        while not stop.is_set():
            try:
                prepared = self._prepare_next(stop)
            except (*CONNECTION_ERRORS, StorageUnavailable) as error:
                if not waiting:  # once per outage
                    log.warning("preparing waits for the chain or the database: %s", error)
                waiting = True
                stop.wait(1.0)  # resumes where it stopped once both answer
                continue
            waiting = False
            if prepared:
                self._wake.set()
            else:
                self._prepare_wake.wait(0.2)
                self._prepare_wake.clear()

    def _prepare_next(self, stop: threading.Event) -> bool:
        """Prepares the oldest accepted operation; False when there is none."""
        with self.sessions() as session:
            operation = session.scalar(select(Operation).where(Operation.state == OperationState.ACCEPTED.value)
                                       .order_by(Operation.id).limit(1))
        if operation is None:
            return False
        try:
            self.preparers[operation.kind](operation, stop)
        except (*CONNECTION_ERRORS, StorageUnavailable):
            raise
        except Exception as error:  # a bug in preparation must not stop the queue behind it
            log.exception("preparing operation %s failed", operation.id)
            self._finish(operation.id, OperationState.FAILED, error_code="preparation_failed",
                         error_message=str(error))
        return True

    def sign_prepared(self) -> int:
        with self.sessions() as session:
            operations = session.scalars(select(Operation).where(Operation.state == OperationState.PREPARED.value)
                                         .order_by(Operation.id).limit(ROUND_SIZE)).all()
            for operation in operations:
                nonce = self._next_nonce(session, operation.sender)
                signed = self.sender.sign(self.builders[operation.kind](operation), operation.sender, nonce=nonce,
                                          gas=operation.gas)
                operation.nonce = nonce
                operation.raw_tx = bytes(signed.raw_transaction)
                operation.tx_hash = signed.hash.to_0x_hex()
                operation.state = OperationState.SIGNED.value
            session.commit()  # durable before the first byte leaves
        return len(operations)

    def send_signed(self) -> int:
        with self.sessions() as session:
            operations = session.scalars(select(Operation).where(Operation.state == OperationState.SIGNED.value)
                                         .order_by(Operation.sender, Operation.nonce).limit(ROUND_SIZE)).all()
            for operation in operations:
                self._send(operation)
                session.commit()
        return len(operations)

    def _send(self, operation: Operation) -> None:
        assert operation.raw_tx is not None and operation.tx_hash is not None
        operation.attempts += 1
        try:
            self.chain.w3.eth.send_raw_transaction(operation.raw_tx)
        except Web3RPCError as error:
            if self._known_to_node(operation.tx_hash):
                pass  # sent before a crash or restart: the same bytes are already there
            elif "nonce" in str(error).lower():
                # Our nonce went to another transaction (another process used the key): this one can
                # never be mined, so it is signed again with a fresh nonce.
                log.warning("operation %s: nonce %s taken, signing again", operation.id, operation.nonce)
                self._nonces.pop(operation.sender, None)
                operation.state, operation.raw_tx, operation.tx_hash = OperationState.PREPARED.value, None, None
                return
            else:
                self._fail(operation, "transaction_refused", f"the node refused the transaction: {error}")
                return
        operation.state = OperationState.SENT.value
        operation.updated_at = time.time()

    def _known_to_node(self, tx_hash: str) -> bool:
        try:
            self.chain.w3.eth.get_transaction(HexBytes(tx_hash))
            return True
        except TransactionNotFound:
            return False

    def collect_receipts(self) -> int:
        finished = 0
        with self.sessions() as session:
            operations = session.scalars(select(Operation).where(Operation.state == OperationState.SENT.value)
                                         .order_by(Operation.id).limit(4 * ROUND_SIZE)).all()
            for operation in operations:
                try:
                    receipt = self.chain.w3.eth.get_transaction_receipt(HexBytes(operation.tx_hash))
                except TransactionNotFound:
                    if time.time() - operation.updated_at > RESEND_AFTER_SECONDS:
                        operation.state = OperationState.SIGNED.value  # the next round sends it again
                        operation.updated_at = time.time()
                    continue
                operation.block_number = receipt["blockNumber"]
                self.mined_block = max(self.mined_block, receipt["blockNumber"])
                if receipt["status"] == 1:
                    operation.state = OperationState.DONE.value
                else:
                    reason = explain_failure(self.builders[operation.kind](operation), operation.sender, receipt,
                                             label=f"operation {operation.id}")
                    self._fail(operation, getattr(reason, "error", reason.code), str(reason))
                finished += 1
            session.commit()
        for operation in operations:
            if operation.state in (OperationState.DONE.value, OperationState.FAILED.value):
                self._notify(operation.id)
        return finished

    def _next_nonce(self, session: Session, sender: str) -> int:
        if sender not in self._nonces:
            on_chain = self.chain.w3.eth.get_transaction_count(sender, "pending")
            stored = session.scalar(select(func.max(Operation.nonce)).where(
                Operation.sender == sender,
                Operation.state.in_([OperationState.SIGNED.value, OperationState.SENT.value])))
            self._nonces[sender] = max(on_chain, stored + 1 if stored is not None else 0)
        nonce = self._nonces[sender]
        self._nonces[sender] = nonce + 1
        return nonce

    def _fail(self, operation: Operation, code: str, message: str) -> None:
        operation.state = OperationState.FAILED.value
        operation.error_code, operation.error_message = code, message[:2000]
        log.warning("operation %s failed: %s", operation.id, message)

    def _finish(self, operation_id: int, state: OperationState, **fields: object) -> None:
        with self.sessions.begin() as session:
            operation = session.get(Operation, operation_id)
            assert operation is not None
            operation.state = state.value
            for name, value in fields.items():
                setattr(operation, name, value)
        self._notify(operation_id)

    def _notify(self, operation_id: int) -> None:
        with self._lock:
            finished = self._finished.get(operation_id)
        if finished:
            finished.set()
