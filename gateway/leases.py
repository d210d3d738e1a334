"""Leadership of background duties across the gateway processes sharing one database.

A duty (`outbox:<account>`, `event-index`, `audit-checkpoints`) runs in exactly one process at a time:
the one holding its row in `leases` until `expires_at` (the database's clock, so that machines' clocks
do not matter). The holder renews every third of a lease; any other process takes a lease that
expired, which bumps its `token`. A holder's writes for the duty call `fence` in their transaction:
it fails (`LeaseLost`) unless the row still names this holder and token, and on PostgreSQL it
share-locks the row until the transaction ends, so a takeover (an update of that row) waits for a
fenced write in progress and every later write of the old holder fails. A process paused past its
lease (SIGSTOP, a long GC, a frozen VM) therefore writes nothing when it resumes; one killed leaves
its lease to expire. A process paused inside a fenced transaction holds the row lock: PostgreSQL ends
its session after `gateway.db.IDLE_IN_TRANSACTION_SECONDS`, and the lease then passes as for any
other expiry.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Iterable, Iterator

from sqlalchemy import Float, and_, false, func, literal, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import ColumnElement

from gateway.db import Lease
from gateway.errors import GatewayError

log = logging.getLogger(__name__)


class LeaseLost(GatewayError):
    """This process no longer holds a duty it was doing; what it was writing is rolled back."""

    code = "lease_lost"


class DutyTaken(GatewayError):
    """Another process holds the lease of a duty a command wanted to do."""

    code = "duty_taken"


def this_process() -> str:
    """A holder name unique to this process: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


OUTBOX_DUTY_PREFIX = "outbox:"
INDEX_DUTY = "event-index"
CHECKPOINT_DUTY = "audit-checkpoints"


def outbox_duty(account: str) -> str:
    """The duty of dispatching the operations signed by `account`."""
    return OUTBOX_DUTY_PREFIX + account


class Leases:
    """The duties this process wants and those it holds, renewed by `run` in one thread."""

    def __init__(self, sessions: sessionmaker, duties: Iterable[str], *, lease_seconds: float,
                 holder: str | None = None) -> None:
        """`lease_seconds`: how long a lease lasts unless renewed (CERTNET_LEASE_SECONDS): a dead holder's
        duties wait this long (plus a third of it) before another process takes them."""
        self.sessions = sessions
        self.duties = tuple(duties)
        self.holder = holder or this_process()
        self.lease_seconds = lease_seconds
        self._tokens: dict[str, int] = {}  # duty -> token, while held
        self._lock = threading.Lock()
        #: Set whenever the held duties change (a duty's thread resets what it cached of the duty).
        self.changed = threading.Event()

    def held(self) -> set[str]:
        with self._lock:
            return set(self._tokens)

    def holds(self, duty: str) -> bool:
        with self._lock:
            return duty in self._tokens

    def run(self, stop: threading.Event) -> None:
        """Takes and renews leases every third of a lease until `stop`, then releases them."""
        while not stop.is_set():
            try:
                self.renew()
            except Exception as error:  # the database is away: our leases run out; others take them
                log.warning("leases not renewed: %s", error)
                self._drop(self.held())
            stop.wait(self.lease_seconds / 3)
        self.release()

    def renew(self, *, take_over: bool = False) -> set[str]:
        """Renews the leases held and takes those free or expired, or all with `take_over` (when no other
        process can be alive: one that claimed a SQLite database); the duties held now."""
        gained, lost = set(), set()
        for duty in self.duties:
            with self.sessions.begin() as session:
                token = self._take(session, duty, take_over=take_over)
            with self._lock:
                before = self._tokens.get(duty)
                if token is None:
                    self._tokens.pop(duty, None)
                else:
                    self._tokens[duty] = token
            if before != token:
                (gained if token is not None else lost).add(duty)
                if before is not None and token is not None:
                    lost.add(duty)  # taken by another process and back again: what was cached is stale
        if gained or lost:
            if gained:
                log.info("leading %s", ", ".join(sorted(gained)))
            if lost - gained:
                log.warning("no longer leading %s", ", ".join(sorted(lost - gained)))
            self.changed.set()
        return self.held()

    def _take(self, session: Session, duty: str, *, take_over: bool) -> int | None:
        """This process's token for `duty` after renewing or taking its lease; None when another holds it."""
        now = _now(session)
        _insert_missing(session, duty)
        with self._lock:
            mine = self._tokens.get(duty)
        ours = and_(Lease.holder == self.holder, Lease.token == mine) if mine is not None else false()
        free = true() if take_over else or_(Lease.holder.is_(None), Lease.expires_at < now)
        return session.scalar(
            update(Lease).where(Lease.duty == duty, or_(ours, free))
            .values(holder=self.holder, token=Lease.token + (0 if mine is not None else 1),
                    expires_at=now + self.lease_seconds)
            .returning(Lease.token))

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Holds every duty for a command run beside the gateway (`certnet outbox retry`): `DutyTaken`
        naming their holder when a running gateway does them."""
        held = self.renew()
        try:
            if missing := set(self.duties) - held:
                with self.sessions() as session:
                    holders = sorted(set(session.scalars(select(Lease.holder).where(Lease.duty.in_(missing)))))
                raise DutyTaken(f"a running gateway ({', '.join(h for h in holders if h)}) does this now; it "
                                f"reconciles and indexes on its own, or stop it first")
            yield
        finally:
            self.release()

    def fence(self, session: Session, duties: Iterable[str]) -> None:
        """`LeaseLost` unless this process still holds every one of `duties` with its token, in the
        caller's transaction; on PostgreSQL their rows stay share-locked until it ends."""
        duties = set(duties)
        with self._lock:
            tokens = {duty: self._tokens.get(duty) for duty in duties}
        if None in tokens.values():
            raise LeaseLost(f"not leading {', '.join(sorted(d for d, t in tokens.items() if t is None))}")
        now = _now(session)
        rows = session.execute(select(Lease.duty, Lease.token).where(
            Lease.duty.in_(duties), Lease.holder == self.holder, Lease.expires_at > now)
            .with_for_update(read=True)).all()
        still = {duty for duty, token in rows if tokens[duty] == token}
        if still != duties:
            self._drop(duties - still)
            raise LeaseLost(f"the lease of {', '.join(sorted(duties - still))} was taken over or expired")

    def release(self) -> None:
        """Gives up every lease held, so that another process takes the duties at once (shutdown)."""
        held = self.held()
        if not held:
            return
        try:
            with self.sessions.begin() as session:
                session.execute(update(Lease).where(Lease.duty.in_(held), Lease.holder == self.holder)
                                .values(holder=None, expires_at=0.0))
        except Exception as error:  # they expire on their own
            log.warning("leases not released: %s", error)
        self._drop(held)

    def _drop(self, duties: set[str]) -> None:
        """Forgets the tokens of `duties`; says which of them this process was leading (whatever the cause:
        a takeover seen by a fence, a database that did not answer, a release)."""
        with self._lock:
            dropped = {duty for duty in duties if self._tokens.pop(duty, None) is not None}
        if dropped:
            log.warning("no longer leading %s", ", ".join(sorted(dropped)))
            self.changed.set()


def _now(session: Session) -> ColumnElement[float]:
    """Now, in seconds since the epoch, by the database's clock where it has one that all processes share
    (PostgreSQL), else this machine's: an expression the statement itself evaluates, so that a fence
    or a renewal costs no round trip to read the clock first."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", func.clock_timestamp())
    return literal(time.time(), Float)


def _insert_missing(session: Session, duty: str) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(Lease).values(duty=duty, holder=None, token=0, expires_at=0.0)
                    .on_conflict_do_nothing(index_elements=[Lease.duty]))
