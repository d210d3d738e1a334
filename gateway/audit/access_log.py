"""The append-only access log: one row per sharing request, verification by a department, audit
query, holder-key registration or revocation, consent given or withdrawn, each a leaf of an RFC
6962 tree (leaf = SHA-256(0x00 || RFC 8785 JSON of the entry)).

Each row keeps its leaf hash and the tree head after it was appended, and, for queries, copies of
the entry's department, action and time and the certificates it names (`accessed_certificates`).
`check` recomputes the leaves and heads from the entries' content and positions, compares every
copy with the hashed content, and compares the heads with the checkpoints anchored on chain,
naming each entry that was altered, deleted, moved or made unreadable. Entries hold their position
and time, department codes, certificate hashes, service item codes, holder pseudonyms, key and
consent ids and outcomes — no personal data in clear.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Sequence, get_args

import rfc8785
from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit.merkle_log import EMPTY_ROOT, leaf_hash, node_hash
from gateway.certificates.document import nested_deeper_than
from gateway.db import AccessedCertificate, AccessLogEntry
from gateway.errors import StorageUnavailable

#: What an entry records; docs/gateway.md and docs/sharing.md say what each entry holds.
Action = Literal["share", "verify", "history", "audit_query", "consent_read", "consent_give", "consent_withdraw",
                 "holder_key_register", "holder_key_revoke"]
ACTIONS: tuple[str, ...] = get_args(Action)
#: The PostgreSQL advisory lock of the log's writer (any fixed 64-bit number no other part uses).
LOG_WRITER_LOCK = 0x6365_7274_6C6F_67  # "certlog"


class Frontier:
    """The roots of the perfect subtrees covering a tree's leaves, left to right: enough to append
    a leaf and to compute the tree head in O(log n)."""

    def __init__(self, nodes: Iterable[tuple[int, bytes]] = ()) -> None:
        self._nodes: list[tuple[int, bytes]] = list(nodes)  # (leaf count, hash), counts strictly decreasing

    @classmethod
    def of_row(cls, row: AccessLogEntry | None) -> Frontier:
        return cls((size, bytes.fromhex(node[2:])) for size, node in row.frontier) if row else cls()

    def as_json(self) -> list[list[Any]]:
        return [[size, "0x" + node.hex()] for size, node in self._nodes]

    def append(self, leaf: bytes) -> None:
        size, node = 1, leaf
        while self._nodes and self._nodes[-1][0] == size:
            left_size, left = self._nodes.pop()
            size, node = left_size + size, node_hash(left, node)
        self._nodes.append((size, node))

    @property
    def root(self) -> bytes:
        if not self._nodes:
            return EMPTY_ROOT
        head = self._nodes[-1][1]
        for _size, node in reversed(self._nodes[:-1]):
            head = node_hash(node, head)
        return head


def entry_leaf(entry: dict[str, Any]) -> bytes:
    return leaf_hash(rfc8785.dumps(entry))


def entry_view(row: AccessLogEntry) -> dict[str, Any]:
    """An entry as the API shows it: its hashed content (who, when, what, outcome) and leaf hash."""
    return {**row.entry, "leafHash": row.leaf_hash}


def time_text(seconds: float) -> str:
    """An entry's time as its content carries it: UTC ISO 8601 to the microsecond."""
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _department_column(department: str | None) -> str:
    """The department column's copy: "" for an entry no department made (a holder's signed act)."""
    return department or ""


def append(session: Session, department: str | None, action: Action, entry: dict[str, Any]) -> AccessLogEntry:
    """Appends one entry in the caller's transaction (the caller commits): `append_all` of one."""
    return append_all(session, [(department, action, entry)])[0]


def append_all(session: Session, entries: Sequence[tuple[str | None, Action, dict[str, Any]]]
               ) -> list[AccessLogEntry]:
    """Appends entries (department, action, content) in order in the caller's transaction (the
    caller commits), in O(log n) each: the last row carries the frontier. The log has one writer at
    a time across processes: on PostgreSQL the transaction takes the log's advisory lock first (held
    until it ends), so gateway processes sharing the database append one after the other; a SQLite
    database has one process. A department is None for what a holder does by signature, with no
    department's credential."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(LOG_WRITER_LOCK)))
    last = session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.position.desc()).limit(1)).first()
    position = last.position + 1 if last else 0
    frontier = Frontier.of_row(last)
    rows, links = [], []
    for department, action, entry in entries:
        now = time.time()
        content = {"position": position, "recordedAt": time_text(now), "department": department,
                   "action": action, **entry}
        leaf = entry_leaf(content)
        frontier.append(leaf)
        rows.append(AccessLogEntry(position=position, recorded_at=now, department=_department_column(department),
                                   action=action, entry=content, leaf_hash="0x" + leaf.hex(),
                                   tree_head="0x" + frontier.root.hex(), frontier=frontier.as_json()))
        links += [AccessedCertificate(certificate_hash=h, position=position)
                  for h in dict.fromkeys(entry.get("certificates", ()))]
        position += 1
    session.add_all(rows)
    session.flush()  # the entries before the rows that point at them
    session.add_all(links)
    return rows


#: The most entries one group commit writes; the rest wait for the next group.
MAX_GROUP = 512


@dataclass
class _Queued:
    """An entry handed to the group commit, and its position once committed."""

    department: str | None
    action: Action
    entry: dict[str, Any]
    position: Future[int] = field(default_factory=Future)


class GroupCommit:
    """Appends entries for many threads, many in one transaction: a commit's cost (a sync to disk
    with synchronous=FULL or on PostgreSQL) is shared by every entry that arrived while the previous
    one was written, and the log has one writer in this process (`writing`) however many ask.

    Each entry joins a queue; whoever holds `writing` writes every queued entry (at most MAX_GROUP)
    in one transaction and answers each with its position. A caller waiting meanwhile finds its
    entry written when it gets the lock, or writes the next group itself: nobody is answered before
    the transaction holding their entry has committed."""

    def __init__(self, sessions: sessionmaker) -> None:
        self.sessions = sessions
        self.writing = threading.Lock()  # held by whoever writes the log in this process
        self._queue: deque[_Queued] = deque()

    def append(self, department: str | None, action: Action, entry: dict[str, Any]) -> int:
        """Appends one entry; its position once committed."""
        queued = _Queued(department, action, entry)
        self._queue.append(queued)
        while not queued.position.done():
            with self.writing:
                if not queued.position.done():
                    self._commit([self._queue.popleft() for _ in range(min(MAX_GROUP, len(self._queue)))])
        return queued.position.result()

    def _commit(self, group: list[_Queued]) -> None:
        """Writes `group` in one transaction and answers each entry. An entry that cannot be written
        fails alone; a database that cannot take the write fails them all."""
        try:
            with self.sessions.begin() as session:
                rows = append_all(session, [(q.department, q.action, q.entry) for q in group])
        except StorageUnavailable as error:
            for queued in group:
                queued.position.set_exception(error)
        except Exception as error:
            if len(group) == 1:
                group[0].position.set_exception(error)
            else:
                for queued in group:
                    self._commit([queued])
        else:
            for queued, row in zip(group, rows):
                queued.position.set_result(row.position)


@dataclass(frozen=True)
class Problem:
    position: int
    what: str


@dataclass(frozen=True)
class StoredEntry:
    """One row as stored, read without trusting it: `text` is the entry's JSON as the database has
    it, the other fields whatever the columns hold."""

    position: int
    text: str | None
    leaf_hash: Any
    tree_head: Any
    department: Any
    action: Any
    recorded_at: Any


def read_stored(session: Session) -> tuple[list[StoredEntry], dict[int, set[str]]]:
    """Every row in position order, and which certificates the links name for which position."""
    links: dict[int, set[str]] = defaultdict(set)
    for certificate_hash, position in session.execute(select(AccessedCertificate.certificate_hash,
                                                             AccessedCertificate.position)):
        links[position].add(certificate_hash)
    rows = [StoredEntry(*row) for row in session.execute(
        select(AccessLogEntry.position, cast(AccessLogEntry.entry, Text), AccessLogEntry.leaf_hash,
               AccessLogEntry.tree_head, AccessLogEntry.department, AccessLogEntry.action,
               AccessLogEntry.recorded_at).order_by(AccessLogEntry.position))]
    return rows, links


#: How deeply the JSON this module reads (stored entries, inclusion proofs) may nest; both nest 3 deep.
MAX_READ_DEPTH = 64


def parse_json(text: str) -> Any:
    """`json.loads`, refusing text nested deeper than MAX_READ_DEPTH (ValueError) before it is
    parsed (`nested_deeper_than` says why)."""
    if nested_deeper_than(text.encode(), MAX_READ_DEPTH):
        raise ValueError(f"JSON nested deeper than {MAX_READ_DEPTH} levels")
    return json.loads(text)


def readable_leaf(content: Any) -> bytes | None:
    """The leaf of an entry's content, or None when it is not a JSON object RFC 8785 can serialise."""
    try:
        return entry_leaf(content) if isinstance(content, dict) else None
    except (TypeError, ValueError, RecursionError):
        return None


def _content(text: str | None) -> tuple[dict[str, Any], bytes] | None:
    """A stored entry's content and leaf, or None when it is unreadable."""
    try:
        content = parse_json(text or "")
    except (TypeError, ValueError, RecursionError):
        return None
    leaf = readable_leaf(content)
    return (content, leaf) if leaf is not None else None


def _hash_bytes(text: Any) -> bytes:
    """A stored `0x` + 64 hex hash as bytes; anything else as the hash of nothing, which no tree holds."""
    try:
        raw = bytes.fromhex(text[2:]) if isinstance(text, str) and text.startswith("0x") else b""
    except ValueError:
        raw = b""
    return raw if len(raw) == 32 else EMPTY_ROOT


def _same_time(column: Any, hashed: Any) -> bool:
    try:
        return time_text(float(column)) == hashed
    except (TypeError, ValueError, OverflowError, OSError):
        return False


def _copy_problems(row: StoredEntry, content: dict[str, Any], linked: set[str]) -> list[Problem]:
    """Where the columns and links that queries filter by differ from the entry's hashed content."""
    problems = []
    for name, column, hashed in (("department", row.department, _department_column(content.get("department"))),
                                 ("action", row.action, content.get("action"))):
        if column != hashed:
            problems.append(Problem(row.position, f"entry {row.position}'s {name} column ({column!r}) differs from "
                                                  f"its hashed content ({hashed!r})"))
    if not _same_time(row.recorded_at, content.get("recordedAt")):
        problems.append(Problem(row.position, f"entry {row.position}'s time column ({row.recorded_at!r}) differs from "
                                              f"its hashed content ({content.get('recordedAt')!r})"))
    named = content.get("certificates")
    if linked != (set(named) if isinstance(named, list) and all(isinstance(h, str) for h in named) else set()):
        problems.append(Problem(row.position, f"entry {row.position}'s certificate links differ from the "
                                              "certificates its hashed content names"))
    return problems


def _entry_problems(row: StoredEntry, linked: set[str]) -> tuple[list[Problem], bytes]:
    """What is wrong with one row by itself, and the leaf its content hashes to (the stored leaf
    for an unreadable entry, so that the entries after it are still checked)."""
    readable = _content(row.text)
    if readable is None:
        return [Problem(row.position, f"entry {row.position} is unreadable (not a JSON object)")], \
            _hash_bytes(row.leaf_hash)
    content, leaf = readable
    if content.get("position") != row.position:
        problems = [Problem(row.position, f"entry {row.position} was moved from position {content.get('position')}")]
    elif "0x" + leaf.hex() != row.leaf_hash:
        problems = [Problem(row.position, f"entry {row.position} was altered (its content no longer hashes to its "
                                          "leaf)")]
    else:
        problems = []
    return problems + _copy_problems(row, content, linked), leaf


def check(rows: Iterable[StoredEntry], links: dict[int, set[str]],
          checkpoints: Sequence[tuple[int, bytes]]) -> list[Problem]:
    """Every problem, in position order: entries missing, unreadable, moved or altered, columns or
    certificate links that differ from the hashed content, a stored tree head that differs from
    the recomputed one; then each checkpoint anchored on chain (`checkpoints`: (tree size, root)
    pairs) the log no longer reproduces, and where the first entry that differs from what the
    checkpoints prove lies. A rewrite that recomputed every hash after it passes the first checks
    and fails only the last."""
    problems: list[Problem] = []
    sizes = {size for size, _root in checkpoints}
    heads: dict[int, bytes] = {0: EMPTY_ROOT}  # at the checkpoints' sizes
    links = {position: set(hashes) for position, hashes in links.items()}
    frontier = Frontier()
    heads_agree = True
    expected = 0
    for row in rows:
        if row.position != expected:
            problems.append(Problem(expected, f"entry {expected} is missing (the next stored is {row.position})"))
            expected = row.position
        found, leaf = _entry_problems(row, links.pop(row.position, set()))
        problems.extend(found)
        frontier.append(leaf)
        if row.position + 1 in sizes:
            heads[row.position + 1] = frontier.root
        head_agrees = "0x" + frontier.root.hex() == row.tree_head
        if heads_agree and not head_agrees and not found:  # the head column itself, not a cascade
            problems.append(Problem(row.position, f"the tree head after entry {row.position} differs from the "
                                                  "one recorded when it was appended"))
        heads_agree = head_agrees
        expected = row.position + 1
    anchored_size = max(sizes, default=0)
    if anchored_size > expected:
        problems.append(Problem(expected, f"entry {expected} is missing: the log ends there, but a checkpoint of "
                                          f"size {anchored_size} is anchored on chain"))
    for position in sorted(links):
        problems.append(Problem(position, f"certificate links name entry {position}, which is not in the log"))
    reproduced = {size: heads.get(size) == anchored_root for size, anchored_root in checkpoints}
    for size in sorted(sizes):
        if not reproduced[size]:
            problems.append(Problem(size - 1, f"the log does not reproduce the checkpoint of size {size} "
                                              "anchored on chain"))
    if first_difference := _first_difference(reproduced):
        problems.append(first_difference)
    return problems


def _first_difference(reproduced: dict[int, bool]) -> Problem | None:
    """Where the first entry that differs from what the checkpoints prove lies: after the largest
    reproduced checkpoint below the smallest one not reproduced (each proves its whole prefix)."""
    failed = min((size for size, ok in reproduced.items() if not ok), default=None)
    if failed is None:
        return None
    proven = max((size for size, ok in reproduced.items() if ok and size < failed), default=0)
    if failed - proven == 1:
        return Problem(proven, f"entry {proven} differs from what the checkpoint of size {failed} proves "
                               f"(the first {proven} entries are as anchored)")
    return Problem(proven, f"the first entry that differs from what the checkpoints prove is one of entries {proven} "
                           f"to {failed - 1} (the checkpoint of size {failed} is not reproduced"
                           + (f", the one of size {proven} is)" if proven else ")"))
