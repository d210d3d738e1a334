"""The append-only access log: one row per sharing request, verification by a department or audit
query, each a leaf of an RFC 6962 tree (leaf = SHA-256(0x00 || RFC 8785 JSON of the entry)).

Each row keeps its leaf hash and the tree head after it was appended. `check` recomputes both
from the entries' content and positions, and compares the heads with the checkpoints anchored on
chain, naming the first entry that was altered, deleted or moved. Entries hold their position and
time, department codes, certificate hashes, service item codes, holder pseudonyms and outcomes — no
personal data in clear.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit.merkle_log import EMPTY_ROOT, leaf_hash, node_hash
from gateway.db import AccessedCertificate, AccessLogEntry


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


def append(session: Session, department: str, action: str, entry: dict[str, Any]) -> AccessLogEntry:
    """Appends one entry in the caller's transaction (the caller commits), in O(log n): the last
    row carries the frontier. Two concurrent appends cannot take the same position (primary key)."""
    last = session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.position.desc()).limit(1)).first()
    position = last.position + 1 if last else 0
    frontier = Frontier.of_row(last)
    now = time.time()
    recorded = dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat().replace("+00:00", "Z")
    content = {"position": position, "recordedAt": recorded, "department": department, "action": action, **entry}
    leaf = entry_leaf(content)
    frontier.append(leaf)
    row = AccessLogEntry(position=position, recorded_at=now, department=department, action=action,
                         entry=content, leaf_hash="0x" + leaf.hex(), tree_head="0x" + frontier.root.hex(),
                         frontier=frontier.as_json())
    session.add(row)
    session.flush()  # the entry before the rows that point at it
    session.add_all(AccessedCertificate(certificate_hash=h, position=position)
                    for h in dict.fromkeys(entry.get("certificates", ())))
    return row


@dataclass(frozen=True)
class Problem:
    position: int
    what: str


def check(rows: Iterable[AccessLogEntry], checkpoints: Sequence[tuple[int, bytes]]) -> list[Problem]:
    """Recomputes every leaf and tree head from the entries' content; returns what does not match
    (the first problem names the first tampered entry), then any anchored checkpoint the log no
    longer reproduces. `checkpoints` are (tree size, root) pairs read from the chain."""
    problems: list[Problem] = []
    heads: dict[int, bytes] = {0: EMPTY_ROOT}
    frontier = Frontier()
    expected = 0
    for row in rows:
        if row.position != expected:
            problems.append(Problem(expected, f"entry {expected} is missing (the next stored is {row.position})"))
            expected = row.position
        leaf = entry_leaf(row.entry)
        if row.entry.get("position") != row.position:
            problems.append(Problem(row.position, f"entry {row.position} was moved from position "
                                                  f"{row.entry.get('position')}"))
        elif "0x" + leaf.hex() != row.leaf_hash:
            problems.append(Problem(row.position, f"entry {row.position} was altered (its content no longer "
                                                  "hashes to its leaf)"))
        frontier.append(leaf)
        heads[row.position + 1] = frontier.root
        if "0x" + frontier.root.hex() != row.tree_head and not problems:
            problems.append(Problem(row.position, f"the tree head after entry {row.position} differs from the "
                                                  "one recorded when it was appended"))
        expected = row.position + 1
    anchored_size = max((size for size, _root in checkpoints), default=0)
    if anchored_size > expected:
        problems.append(Problem(expected, f"entry {expected} is missing: the log ends there, but a checkpoint of "
                                          f"size {anchored_size} is anchored on chain"))
    for size, anchored_root in checkpoints:
        if heads.get(size) != anchored_root:
            problems.append(Problem(size - 1, f"the log does not reproduce the checkpoint of size {size} "
                                              "anchored on chain"))
    return problems
