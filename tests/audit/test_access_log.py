"""The access log: O(log n) appends give the RFC 6962 tree heads, and `check` names the first
entry that was altered, deleted or moved directly in the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, select, update
from sqlalchemy.orm import sessionmaker

from gateway.audit.access_log import Frontier, append, check, entry_leaf
from gateway.audit.merkle_log import leaf_hash, root
from gateway.db import AccessedCertificate, AccessLogEntry, make_engine, session_factory


@pytest.fixture
def log_db(tmp_path: Path) -> sessionmaker:
    sessions = session_factory(make_engine(f"sqlite:///{tmp_path / 'log.db'}"))
    with sessions.begin() as session:
        for n in range(10):
            append(session, "11320100MB0000051T", "share", {"certificates": [f"0x{n:064x}"], "outcome": "allowed"})
    return sessions


def _rows(sessions: sessionmaker) -> list[AccessLogEntry]:
    with sessions() as session:
        return list(session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.position)))


@given(st.lists(st.binary(max_size=4), max_size=40))
def test_the_frontier_gives_the_rfc_6962_root_after_every_append(entries: list[bytes]) -> None:
    frontier, leaves = Frontier(), []
    for entry in entries:
        leaves.append(leaf_hash(entry))
        frontier.append(leaves[-1])
        assert frontier.root == root(leaves)


def test_an_untouched_log_checks_clean_against_its_checkpoints(log_db: sessionmaker) -> None:
    rows = _rows(log_db)
    leaves = [entry_leaf(r.entry) for r in rows]
    assert check(rows, [(4, root(leaves[:4])), (10, root(leaves))]) == []
    assert rows[-1].tree_head == "0x" + root(leaves).hex()


def test_an_edited_entry_is_named(log_db: sessionmaker) -> None:
    with log_db.begin() as session:
        row = session.get(AccessLogEntry, 3)
        session.execute(update(AccessLogEntry).where(AccessLogEntry.position == 3)
                        .values(entry={**row.entry, "outcome": "refused"}))
    assert check(_rows(log_db), [])[0].position == 3


def test_a_deleted_entry_is_named(log_db: sessionmaker) -> None:
    with log_db.begin() as session:
        session.execute(delete(AccessLogEntry).where(AccessLogEntry.position == 6))
    first = check(_rows(log_db), [])[0]
    assert (first.position, "missing" in first.what) == (6, True)


def test_deleted_last_entries_are_named_by_the_anchored_checkpoint(log_db: sessionmaker) -> None:
    rows = _rows(log_db)
    anchored = [(10, root([entry_leaf(r.entry) for r in rows]))]
    with log_db.begin() as session:
        session.execute(delete(AccessLogEntry).where(AccessLogEntry.position >= 8))
    first = check(_rows(log_db), anchored)[0]
    assert (first.position, "entry 8 is missing" in first.what) == (8, True)


def test_reordered_entries_are_named(log_db: sessionmaker) -> None:
    with log_db.begin() as session:  # swap rows 2 and 5 wholesale, leaf hashes included
        two, five = session.get(AccessLogEntry, 2), session.get(AccessLogEntry, 5)
        values = lambda r: {"entry": r.entry, "leaf_hash": r.leaf_hash}  # noqa: E731
        a, b = values(two), values(five)
        session.execute(update(AccessLogEntry).where(AccessLogEntry.position == 2).values(**b))
        session.execute(update(AccessLogEntry).where(AccessLogEntry.position == 5).values(**a))
    first = check(_rows(log_db), [])[0]
    assert (first.position, "moved" in first.what) == (2, True)


def test_a_consistent_rewrite_is_caught_by_the_anchored_checkpoint(log_db: sessionmaker) -> None:
    """An operator who rewrites entry 1 and recomputes every hash after it fools the log's own
    records, not the root anchored on chain before the rewrite."""
    rows = _rows(log_db)
    anchored = [(8, root([entry_leaf(r.entry) for r in rows[:8]]))]
    with log_db.begin() as session:
        survivors = [dict(r.entry) for r in rows]
        session.execute(delete(AccessedCertificate))
        session.execute(delete(AccessLogEntry))
        survivors[1]["outcome"] = "refused"
        for entry in survivors:
            extra = {k: v for k, v in entry.items() if k not in ("position", "department", "action")}
            append(session, entry["department"], entry["action"], extra)
    problems = check(_rows(log_db), anchored)
    assert [p.what for p in problems] == ["the log does not reproduce the checkpoint of size 8 anchored on chain"]
