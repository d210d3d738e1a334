"""The durable outbox: every state-changing request becomes an `Operation` row before anything
is sent, and one dispatcher thread takes it to the chain.

The dispatcher signs prepared operations with consecutive nonces per account and *stores the raw
transaction before sending it*, so after a crash every transaction that may be on the chain is
known. Its loop is also the restart reconciliation: signed operations are sent again (the node
recognises the same bytes, or has mined them), sent ones have their receipts collected, prepared
ones are signed.

Any number of gateway processes share the outbox through one database; the operations of each
sending account are dispatched by the one process holding that account's lease (`gateway.leases`):
every write of a round is fenced by it, and nonces come from the chain and the stored operations in
the round's fenced transaction, never from what a process remembers.

An operation is `done` only once its block is `confirmations` deep, and even then the dispatcher
keeps checking that the blocks of its operations are still on the chain (`reopen_lost`): when a
node restarts from an older state or the chain reorganises, every operation of a lost block goes
back to `signed` and its stored transaction is sent again. Accounts' nonces heal (`heal_nonces`):
transactions the node does not have are sent again in nonce order, and when no stored transaction
can fill a gap, the operations above it are signed again from the chain's nonce. A transaction sent
twice cannot anchor twice: the registry refuses a second anchor of a hash, and that refusal tells
the outbox the first one is on the chain (`Landed`). So an operation ends final exactly once or
failed with the contract's reason; none is dropped or duplicated.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from anyio import to_thread
from hexbytes import HexBytes
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from web3.contract.contract import ContractFunction
from web3.exceptions import TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from gateway.chain import OUTAGES, Chain
from gateway.db import IN_BLOCK_STATES, OPEN_STATES, Operation, OperationState
from gateway.errors import Conflict, TooManyRequests
from gateway.leases import OUTBOX_DUTY_PREFIX, Leases, LeaseLost, outbox_duty
from ledger_node.chainstate import block_hash
from ledger_node.sender import Sender, explain_failure
from ledger_node.transactions import ContractReverted

log = logging.getLogger(__name__)

#: A sent transaction without a receipt after this long is sent again (a node may have dropped it).
RESEND_AFTER_SECONDS = 30.0
#: How often the dispatcher re-checks mined blocks and accounts' nonces against the chain.
RECONCILE_SECONDS = 1.0
#: How many operations one dispatcher round signs and sends before collecting receipts.
ROUND_SIZE = 256
MAX_BACKOFF_SECONDS = 8.0
#: How often a process looks in the database for the operations its requests wait for (another process
#: may dispatch them).
WATCH_SECONDS = 0.2
#: How often the dispatcher asks for receipts while transactions are out; with none out it sleeps up
#: to IDLE_SECONDS (new work wakes it), so an idle gateway costs next to no CPU.
RECEIPT_POLL_SECONDS = 0.05
IDLE_SECONDS = 1.0
FINAL_STATES = (OperationState.DONE.value, OperationState.FAILED.value)
#: What nodes say when a transaction's fees are too low for them (geth, anvil, Besu).
FEE_REFUSALS = ("underpriced", "less than block base fee", "gas price below", "fee too low")

#: Builds an operation's contract call from its stored request.
TransactionBuilder = Callable[[Operation], ContractFunction]
#: Brings an accepted operation to `prepared` (composes a batch's documents), in its own thread; it
#: returns early, leaving the operation `accepted` to resume later, once the event is set (shutdown).
Preparer = Callable[[Operation, threading.Event], None]
#: The block in which an operation's effect already is on the chain (an earlier transaction of it
#: anchored the same hash), or None; asked when its transaction reverted.
Landed = Callable[[Operation], int | None]


def sent_transactions(operation: Operation) -> list[str]:
    """The hashes of every transaction sent for the operation with its current nonce, its current one
    first: the one it has now and those it replaced (history's newest `replaced` note lists them)."""
    replaced = next((note for note in reversed(operation.history or [])
                     if note["event"] == "replaced" and note.get("nonce") == operation.nonce), {})
    return list(dict.fromkeys(tx for tx in [operation.tx_hash, replaced.get("by"), *replaced.get("transactions", [])]
                              if tx))


def refused_for_its_fees(error: Exception) -> bool:
    """Whether a node refused a transaction because it offers too little: below the block's base fee
    (geth, anvil), below the node's minimum gas price (Besu), or too little over one it would replace."""
    text = str(error).lower()
    return any(reason in text for reason in FEE_REFUSALS)


@dataclass
class AccountBacklog:
    """One signing account's open operations: how many in each state, their nonces, the oldest's age."""

    sender: str
    states: dict[str, int] = field(default_factory=dict)
    nonces: list[int] = field(default_factory=list)  # the lowest and highest of each state's operations
    oldest: float = float("inf")  # created_at of the oldest open operation
    mined_nonce: int = 0  # the chain's nonce for the account at its latest block
    pending_nonce: int = 0  # ... counting the node's pool


class Outbox:
    def __init__(self, sessions: sessionmaker, chain: Chain, sender: Sender, leases: Leases, *, max_pending: int,
                 confirmations: int, replace_after: float) -> None:
        self.sessions = sessions
        self.chain = chain
        self.sender = sender
        self.leases = leases
        self.max_pending = max_pending
        self.confirmations = confirmations
        self.replace_after = replace_after
        self.builders: dict[str, TransactionBuilder] = {}
        self.preparers: dict[str, Preparer] = {}
        self.landed: dict[str, Landed] = {}
        self._reconciled_at = 0.0
        self._wake = threading.Event()
        self._awaiting_receipts = self._awaiting_depth = False  # as the last round found
        self._prepare_wake = threading.Event()
        self._unmined_since: dict[str, float] = {}  # transaction hash -> when a round first found no receipt
        self._waiters: dict[int, list[Callable[[], None]]] = {}  # operation id -> wake-ups of its waiting requests
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
        (self._prepare_wake if operation.state == OperationState.ACCEPTED.value else self._wake).set()
        return operation

    async def settled(self, operation_id: int, timeout: float) -> Operation:
        """Its row once the operation is done or failed, or when `timeout` passed. The wait holds no
        thread and no database connection (the pool is shared with the dispatcher): the dispatcher
        wakes it through the event loop."""
        loop = asyncio.get_running_loop()
        finished = asyncio.Event()

        def wake() -> None:
            with suppress(RuntimeError):  # the waiter's loop has closed: nobody is left to wake
                loop.call_soon_threadsafe(finished.set)

        with self._watching(operation_id, wake):
            operation = await to_thread.run_sync(self._load, operation_id)
            if operation.state in FINAL_STATES:
                return operation
            with suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), timeout)
        return await to_thread.run_sync(self._load, operation_id)

    @contextmanager
    def _watching(self, operation_id: int, wake: Callable[[], None]) -> Iterator[None]:
        """`wake` is called when the operation finishes, until the block ends; then it is forgotten."""
        with self._lock:
            self._waiters.setdefault(operation_id, []).append(wake)
        try:
            yield
        finally:
            with self._lock:
                waiting = self._waiters.get(operation_id, [])
                if wake in waiting:
                    waiting.remove(wake)
                if not waiting:
                    self._waiters.pop(operation_id, None)

    def run_watcher(self, stop: threading.Event) -> None:
        """Wakes the requests of this process whose operations another process finished: one query per
        WATCH_SECONDS while any request waits."""
        while not stop.wait(WATCH_SECONDS):
            with self._lock:
                waited = list(self._waiters)
            try:
                with self.sessions() as session:
                    finished = session.scalars(select(Operation.id).where(
                        Operation.id.in_(waited[:1000]), Operation.state.in_(FINAL_STATES))).all() if waited else []
            except OUTAGES:
                continue  # the waits time out; the dispatcher says what is wrong
            for operation_id in finished:
                self._notify(operation_id)

    def _load(self, operation_id: int) -> Operation:
        with self.sessions() as session:
            operation = session.get(Operation, operation_id)
        assert operation is not None
        return operation

    def backlog(self) -> list[AccountBacklog]:
        """Open operations per signing account, with the chain's nonces for it (`certnet outbox status`)."""
        with self.sessions() as session:
            rows = session.execute(select(Operation.sender, Operation.state, func.count(), func.min(Operation.nonce),
                                          func.max(Operation.nonce), func.min(Operation.created_at))
                                   .where(Operation.state.in_([s.value for s in OPEN_STATES]))
                                   .group_by(Operation.sender, Operation.state)).all()
        accounts: dict[str, AccountBacklog] = {}
        for sender, state, count, lowest, highest, oldest in rows:
            account = accounts.setdefault(sender, AccountBacklog(sender))
            account.states[state] = count
            account.nonces += [nonce for nonce in (lowest, highest) if nonce is not None]
            account.oldest = min(account.oldest, oldest)
        for account in accounts.values():
            account.mined_nonce = self.chain.w3.eth.get_transaction_count(account.sender, "latest")
            account.pending_nonce = self.chain.w3.eth.get_transaction_count(account.sender, "pending")
        return sorted(accounts.values(), key=lambda account: account.oldest)

    def pending_count(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(Operation)
                                  .where(Operation.state.in_([s.value for s in OPEN_STATES])))

    # ----- the dispatcher thread -----

    def _accounts(self) -> list[str]:
        """The sending accounts whose operations this process dispatches (it holds their leases)."""
        return sorted(duty.removeprefix(OUTBOX_DUTY_PREFIX) for duty in self.leases.held()
                      if duty.startswith(OUTBOX_DUTY_PREFIX))

    def _fence(self, session: Session, accounts: Iterable[str]) -> None:
        self.leases.fence(session, {outbox_duty(account) for account in accounts})

    def fence(self, session: Session, operation: Operation) -> None:
        """`LeaseLost` unless this process still dispatches `operation`'s account (for a preparer's commits)."""
        self._fence(session, [operation.sender])

    @property
    def _in_flight(self) -> bool:
        return self._awaiting_receipts or self._awaiting_depth

    def run_dispatcher(self, stop: threading.Event) -> None:
        backoff = 0.25
        while not stop.is_set():
            if self.leases.changed.is_set():  # accounts gained: reconcile what their last holder left
                self.leases.changed.clear()
                self._reconciled_at = 0.0
            try:
                worked = self.reconcile_if_due() + self.sign_prepared() + self.send_signed() + \
                    self.collect_receipts() + self.confirm_mined()
                backoff = 0.25
            except StaleDataError:  # `certnet outbox retry` changed an operation this round had read
                continue
            except LeaseLost as lost:  # another process dispatches the account now; this round's writes rolled back
                log.warning("outbox round stopped: %s", lost)
                continue
            except Exception as error:  # an outage, or a bug: the queue waits and retries, never dies
                if isinstance(error, OUTAGES):
                    if backoff == 0.25:  # the first failed round of this outage
                        log.warning("outbox waits for the chain or the database: %s", error)
                else:
                    log.exception("outbox round failed; retrying")
                self._reconciled_at = 0.0  # ... and without blocks it had: check as soon as it answers
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            if not worked:  # accepting an operation wakes the round at once; receipts are polled
                self._wake.wait(RECEIPT_POLL_SECONDS if self._in_flight else IDLE_SECONDS)
                self._wake.clear()

    def run_preparer(self, stop: threading.Event) -> None:
        waiting = False
        while not stop.is_set():
            try:
                prepared = self._prepare_next(stop)
            except LeaseLost as lost:
                log.warning("preparing stopped: %s", lost)
                continue
            except OUTAGES as error:
                if not waiting:  # once per outage
                    log.warning("preparing waits for the chain or the database: %s", error)
                waiting = True
                stop.wait(1.0)  # resumes where it stopped once both answer
                continue
            waiting = False
            if prepared:
                self._wake.set()
            else:
                self._prepare_wake.wait(IDLE_SECONDS)  # accepting a batch wakes it at once
                self._prepare_wake.clear()

    def _prepare_next(self, stop: threading.Event) -> bool:
        """Prepares the oldest accepted operation of an account this process dispatches; False when there
        is none."""
        accounts = self._accounts()
        with self.sessions() as session:
            operation = session.scalar(select(Operation).where(Operation.state == OperationState.ACCEPTED.value,
                                                               Operation.sender.in_(accounts))
                                       .order_by(Operation.id).limit(1)) if accounts else None
        if operation is None:
            return False
        try:
            self.preparers[operation.kind](operation, stop)
        except (LeaseLost, *OUTAGES):
            raise
        except Exception as error:  # a bug in preparation must not stop the queue behind it
            log.exception("preparing operation %s failed", operation.id)
            self._finish(operation, OperationState.FAILED, error_code="preparation_failed",
                         error_message=str(error))
        return True

    def sign_prepared(self) -> int:
        """Signs up to ROUND_SIZE prepared operations with each account's next nonces, read in the
        round's fenced transaction: from the chain's pending nonce and the stored signed transactions."""
        if not (accounts := self._accounts()):
            return 0
        nonces: dict[str, int] = {}
        with self.sessions() as session:
            self._fence(session, accounts)
            operations = session.scalars(select(Operation).where(Operation.state == OperationState.PREPARED.value,
                                                                 Operation.sender.in_(accounts))
                                         .order_by(Operation.id).limit(ROUND_SIZE)).all()
            for operation in operations:
                nonce = self._next_nonce(session, operation.sender, nonces)
                signed = self.sender.sign(self.builders[operation.kind](operation), operation.sender, nonce=nonce,
                                          gas=operation.gas)
                operation.nonce = nonce
                operation.raw_tx = bytes(signed.raw_transaction)
                operation.tx_hash = signed.hash.to_0x_hex()
                operation.state = OperationState.SIGNED.value
                if operation.history:  # signed before: say with what the new transaction replaces the old
                    operation.note("signed", nonce=nonce, transaction=operation.tx_hash)
            session.commit()  # durable before the first byte leaves
        return len(operations)

    def send_signed(self) -> int:
        """Sends signed transactions in nonce order, each in a transaction fenced by its account's lease:
        a takeover waits until the send is recorded, and a holder that lost the lease sends nothing more."""
        if not (accounts := self._accounts()):
            return 0
        with self.sessions() as session:
            operations = session.scalars(select(Operation).where(Operation.state == OperationState.SIGNED.value,
                                                                 Operation.sender.in_(accounts))
                                         .order_by(Operation.sender, Operation.nonce).limit(ROUND_SIZE)).all()
            session.commit()
            for operation in operations:
                self._fence(session, [operation.sender])
                self._send(operation)
                session.commit()
        return len(operations)

    def _send(self, operation: Operation) -> None:
        assert operation.raw_tx is not None and operation.tx_hash is not None
        operation.attempts += 1
        try:
            self.chain.w3.eth.send_raw_transaction(operation.raw_tx)
        except Web3RPCError as error:
            if any(self._known_to_node(tx_hash) for tx_hash in sent_transactions(operation)):
                pass  # sent before a crash or restart (the same bytes are there), or one it replaces is
            elif refused_for_its_fees(error) and self._replace(operation, "fees_refused"):
                return  # the base fee rose past what it offers (the node dropped it, or never took it)
            elif "nonce" in str(error).lower():
                # Our nonce went to another transaction (another process used the key, or a gap was
                # filled by signing again): this one can never be mined, so it is signed again.
                log.warning("operation %s: nonce %s taken, signing again", operation.id, operation.nonce)
                self._sign_again(operation, "nonce_taken")
                return
            else:
                self._fail(operation, "transaction_refused", f"the node refused the transaction: {error}")
                return
        operation.state = OperationState.SENT.value
        operation.updated_at = time.time()

    def _sign_again(self, operation: Operation, reason: str, **details: Any) -> None:
        """Back to `prepared`: the next round signs it with a fresh nonce."""
        operation.note(reason, nonce=operation.nonce, transaction=operation.tx_hash, **details)
        operation.state, operation.raw_tx, operation.tx_hash, operation.nonce = \
            OperationState.PREPARED.value, None, None, None

    def _known_to_node(self, tx_hash: str) -> bool:
        try:
            self.chain.w3.eth.get_transaction(HexBytes(tx_hash))
            return True
        except TransactionNotFound:
            return False

    def collect_receipts(self) -> int:
        finished = 0
        if not (accounts := self._accounts()):
            self._awaiting_receipts = False
            return 0
        with self.sessions() as session:
            self._fence(session, accounts)
            operations = session.scalars(select(Operation).where(Operation.state == OperationState.SENT.value,
                                                                 Operation.sender.in_(accounts))
                                         .order_by(Operation.id).limit(4 * ROUND_SIZE)).all()
            self._awaiting_receipts = bool(operations)
            head = self.chain.w3.eth.block_number if operations else 0
            for operation in operations:
                try:
                    receipt = self._receipt(operation)
                except TransactionNotFound:
                    if self._replace_if_stuck(operation):
                        continue
                    if time.time() - operation.updated_at > RESEND_AFTER_SECONDS:
                        operation.state = OperationState.SIGNED.value  # the next round sends it again
                        operation.updated_at = time.time()
                    continue
                if receipt["status"] == 1:
                    self._mined(operation, receipt["blockNumber"], HexBytes(receipt["blockHash"]).to_0x_hex(), head)
                else:
                    self._reverted(operation, receipt, head)
                finished += 1
            session.commit()
        if len(operations) < 4 * ROUND_SIZE:  # the round saw every sent transaction: forget the others' clocks
            out = {operation.tx_hash for operation in operations  # (`signed`: to be sent again as it is)
                   if operation.state in (OperationState.SENT.value, OperationState.SIGNED.value)}
            self._unmined_since = {tx: since for tx, since in self._unmined_since.items() if tx in out}
        for operation in operations:
            if operation.state in FINAL_STATES:
                self._notify(operation.id)
        return finished

    def _receipt(self, operation: Operation) -> TxReceipt:
        """The receipt of the operation's transaction or of one it replaced (same nonce: at most one of
        them is mined; the operation then names that one); `TransactionNotFound` while none is mined."""
        current = operation.tx_hash
        for tx_hash in sent_transactions(operation):
            try:
                receipt = self.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                continue
            if tx_hash != current:
                operation.note("replaced_one_mined", transaction=tx_hash, replacement=current)
                operation.tx_hash = tx_hash
            return receipt
        raise TransactionNotFound(f"no receipt for the transactions of operation {operation.id}")

    def _replace_if_stuck(self, operation: Operation) -> bool:
        """Whether the operation's transaction, without a receipt for `replace_after` seconds, was
        replaced (`_replace`)."""
        assert operation.tx_hash is not None
        now = time.monotonic()
        if now - self._unmined_since.setdefault(operation.tx_hash, now) < self.replace_after:
            return False
        return self._replace(operation, "no_receipt")

    def _replace(self, operation: Operation, reason: str) -> bool:
        """Whether the operation's transaction was replaced: signed again with the same nonce and higher
        fees (`Sender.replacement_fees`), stored, and left `signed` for the next sending. Not where
        raising fees cannot help (a chain without fees, fees at the cap)."""
        assert operation.tx_hash is not None and operation.raw_tx is not None and operation.nonce is not None
        fees = self.sender.replacement_fees(operation.raw_tx)
        if fees is None:
            return False
        earlier = sent_transactions(operation)
        signed = self.sender.sign(self.builders[operation.kind](operation), operation.sender, nonce=operation.nonce,
                                  gas=operation.gas, fees=fees)
        log.warning("operation %s: transaction %s replaced with higher fees (%s)", operation.id, operation.tx_hash,
                    reason)
        self._unmined_since.pop(operation.tx_hash, None)
        operation.note("replaced", reason=reason, nonce=operation.nonce, transactions=earlier,
                       by=signed.hash.to_0x_hex(), **fees)
        operation.raw_tx, operation.tx_hash = bytes(signed.raw_transaction), signed.hash.to_0x_hex()
        operation.state, operation.updated_at = OperationState.SIGNED.value, time.time()
        return True

    def _mined(self, operation: Operation, block_number: int, block_hash: str, head: int) -> None:
        operation.block_number, operation.block_hash = block_number, block_hash
        operation.subject = operation.request.get("certificateHash") or operation.request.get("root")
        operation.state = OperationState.DONE.value if head - block_number >= self.confirmations \
            else OperationState.MINED.value
        if operation.history:
            operation.note("mined", block=block_number, blockHash=block_hash)

    def _reverted(self, operation: Operation, receipt: Any, head: int) -> None:
        """A reverted transaction fails its operation with the contract's reason, unless the reason is
        that an earlier transaction of the same operation anchored it already (sent again after a
        rollback): then the operation is mined where that one is."""
        reason = explain_failure(self.builders[operation.kind](operation), operation.sender, receipt,
                                 label=f"operation {operation.id}")
        landed = self.landed.get(operation.kind)
        block_number = landed(operation) if landed and isinstance(reason, ContractReverted) else None
        if block_number is None:
            self._fail(operation, getattr(reason, "error", reason.code), str(reason))
            return
        operation.note("already_anchored", transaction=operation.tx_hash, reason=reason.error)
        self._mined(operation, block_number, self._block_hash(block_number) or "", head)

    def confirm_mined(self) -> int:
        """`mined` operations `confirmations` deep become `done`, if their block is still the chain's."""
        if not (accounts := self._accounts()):
            self._awaiting_depth = False
            return 0
        with self.sessions() as session:
            self._fence(session, accounts)
            operations = session.scalars(select(Operation).where(Operation.state == OperationState.MINED.value,
                                                                 Operation.sender.in_(accounts))
                                         .order_by(Operation.block_number).limit(4 * ROUND_SIZE)).all()
            self._awaiting_depth = bool(operations)
            if not operations:
                return 0
            deep = self.chain.w3.eth.block_number - self.confirmations
            hashes: dict[int, str | None] = {}
            confirmed = []
            for operation in operations:
                if operation.block_number is None or operation.block_number > deep:
                    break  # ordered by block: the rest are younger
                if operation.block_number not in hashes:
                    hashes[operation.block_number] = self._block_hash(operation.block_number)
                if hashes[operation.block_number] == operation.block_hash:  # else `reopen_lost` takes it back
                    operation.state = OperationState.DONE.value
                    confirmed.append(operation)
            session.commit()
        for operation in confirmed:
            self._notify(operation.id)
        return len(confirmed)

    # ----- reconciliation with the chain -----

    def reconcile_if_due(self) -> int:
        """`reconcile` at most every RECONCILE_SECONDS (0: it did not run or changed nothing)."""
        if time.monotonic() - self._reconciled_at < RECONCILE_SECONDS:
            return 0
        changed = self.reconcile()
        self._reconciled_at = time.monotonic()
        return changed

    def reconcile_soon(self) -> None:
        """Asks the dispatcher to reconcile in its next round (the event index saw blocks go)."""
        self._reconciled_at = 0.0
        self._wake.set()

    def reconcile(self) -> int:
        """Operations of lost blocks back to `signed`, nonce gaps healed; how many operations changed."""
        return self.reopen_lost() + self.heal_nonces()

    def reopen_lost(self) -> int:
        """Every `mined` or `done` operation whose block is no longer the chain's goes back to `signed`.

        Block hashes chain: if the newest block holding one of our transactions is still the chain's,
        every older one is too. So this costs one block read while nothing is lost, and walks back over
        the blocks of our operations, newest first, to the newest one still on the chain when
        something is."""
        if not (accounts := self._accounts()):
            return 0
        with self.sessions() as session:
            self._fence(session, accounts)
            kept = self._newest_kept_block(session, accounts)
            lost = Operation.state.in_(IN_BLOCK_STATES) & Operation.block_hash.is_not(None) & \
                Operation.sender.in_(accounts)
            if kept is not None:
                lost &= or_(Operation.block_number > kept[0],
                            and_(Operation.block_number == kept[0], Operation.block_hash != kept[1]))
            operations = session.scalars(select(Operation).where(lost).order_by(Operation.sender, Operation.nonce)).all()
            for operation in operations:
                log.warning("operation %s: block %s left the chain; its transaction is sent again", operation.id,
                            operation.block_number)
                operation.note("rolled_back", block=operation.block_number, blockHash=operation.block_hash)
                operation.state, operation.block_number, operation.block_hash = \
                    OperationState.SIGNED.value, None, None
            session.commit()
        return len(operations)

    def heal_nonces(self) -> int:
        """Per account with signed or sent operations: those the node does not have (nonce at or above
        the chain's pending nonce, yet sent) are sent again, in nonce order; when no stored transaction
        holds the chain's next nonce (a gap: a refused or lost transaction), the operations above it
        are signed again from that nonce."""
        changed = 0
        if not (accounts := self._accounts()):
            return 0
        with self.sessions() as session:
            self._fence(session, accounts)
            unfinished = (Operation.state.in_([OperationState.SIGNED.value, OperationState.SENT.value]),
                          Operation.nonce.is_not(None), Operation.sender.in_(accounts))
            for sender in session.scalars(select(Operation.sender).distinct().where(*unfinished)).all():
                chain_nonce = self.chain.w3.eth.get_transaction_count(sender, "pending")
                operations = session.scalars(select(Operation).where(Operation.sender == sender, *unfinished,
                                                                     Operation.nonce >= chain_nonce)
                                             .order_by(Operation.nonce)).all()
                gap = bool(operations) and operations[0].nonce > chain_nonce
                for operation in operations:
                    if gap:
                        self._sign_again(operation, "nonce_gap", chainNonce=chain_nonce)
                    elif operation.state == OperationState.SENT.value:
                        operation.note("unknown_to_node", nonce=operation.nonce, chainNonce=chain_nonce)
                        operation.state = OperationState.SIGNED.value
                    else:
                        continue
                    changed += 1
            session.commit()
        if changed:
            log.warning("outbox: %s operations sent or signed again to heal accounts' nonces", changed)
        return changed

    def _newest_kept_block(self, session: Session, accounts: list[str]) -> tuple[int, str] | None:
        """The newest (number, hash) among the blocks of `accounts`' operations that the chain still has;
        None: none."""
        in_block = (Operation.state.in_(IN_BLOCK_STATES), Operation.block_hash.is_not(None),
                    Operation.sender.in_(accounts))
        below = session.scalar(select(func.max(Operation.block_number)).where(*in_block))
        while below is not None:
            blocks = session.execute(select(Operation.block_number, Operation.block_hash).distinct()
                                     .where(*in_block, Operation.block_number <= below)
                                     .order_by(Operation.block_number.desc()).limit(64)).all()
            for number, stored_hash in blocks:
                if self._block_hash(number) == stored_hash:
                    return number, stored_hash
            below = blocks[-1][0] - 1 if blocks else None
        return None

    def _block_hash(self, number: int) -> str | None:
        return block_hash(self.chain.w3, number)

    def _next_nonce(self, session: Session, sender: str, nonces: dict[str, int]) -> int:
        """`sender`'s next nonce in this round (`nonces`: those the round assigned so far)."""
        if sender not in nonces:
            on_chain = self.chain.w3.eth.get_transaction_count(sender, "pending")
            stored = session.scalar(select(func.max(Operation.nonce)).where(
                Operation.sender == sender,
                Operation.state.in_([OperationState.SIGNED.value, OperationState.SENT.value])))
            nonces[sender] = max(on_chain, stored + 1 if stored is not None else 0)
        nonce = nonces[sender]
        nonces[sender] = nonce + 1
        return nonce

    def _fail(self, operation: Operation, code: str, message: str) -> None:
        operation.state = OperationState.FAILED.value
        operation.error_code, operation.error_message = code, message[:2000]
        log.warning("operation %s failed: %s", operation.id, message)

    def _finish(self, operation: Operation, state: OperationState, **fields: object) -> None:
        with self.sessions.begin() as session:
            self.fence(session, operation)
            session.execute(update(Operation).where(Operation.id == operation.id).values(state=state.value, **fields))
        self._notify(operation.id)

    def _notify(self, operation_id: int) -> None:
        """Wakes the requests waiting for the operation and forgets them: one that comes later finds
        the operation finished in the database."""
        with self._lock:
            waiting = self._waiters.pop(operation_id, [])
        for wake in waiting:
            wake()
