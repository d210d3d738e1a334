"""The access log: O(log n) appends give the RFC 6962 tree heads, and `check` names every entry
that was altered, deleted, moved or made unreadable directly in the database, every column or
certificate link that no longer matches the hashed content, and where a consistent rewrite that
only the anchored checkpoints catch begins."""

from __future__ import annotations

import importlib
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, event, insert, select, text, update
from sqlalchemy.orm import sessionmaker

from gateway.audit.access_log import (MAX_READ_DEPTH, Frontier, GroupCommit, Problem, append, check, entry_leaf,
                                     parse_json, read_stored)
from gateway.audit.merkle_log import leaf_hash, root
from gateway.db import AccessedCertificate, AccessLogEntry, make_engine, session_factory
from tests.conftest import rewrite_access_log


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


def _check(sessions: sessionmaker, checkpoints: list[tuple[int, bytes]]) -> list[Problem]:
    with sessions() as session:
        return check(*read_stored(session), checkpoints)


def _anchored(sessions: sessionmaker, *sizes: int) -> list[tuple[int, bytes]]:
    """Checkpoints of the log as it is now, as the chain would keep them."""
    leaves = [entry_leaf(r.entry) for r in _rows(sessions)]
    return [(size, root(leaves[:size])) for size in sizes]


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
    assert _check(log_db, [(4, root(leaves[:4])), (10, root(leaves))]) == []
    assert rows[-1].tree_head == "0x" + root(leaves).hex()


def test_an_edited_entry_is_named(log_db: sessionmaker) -> None:
    with log_db.begin() as session:
        row = session.get(AccessLogEntry, 3)
        session.execute(update(AccessLogEntry).where(AccessLogEntry.position == 3)
                        .values(entry={**row.entry, "outcome": "refused"}))
    assert _check(log_db, [])[0].position == 3


def test_a_deleted_entry_is_named(log_db: sessionmaker) -> None:
    with log_db.begin() as session:
        session.execute(delete(AccessLogEntry).where(AccessLogEntry.position == 6))
    first = _check(log_db, [])[0]
    assert (first.position, "missing" in first.what) == (6, True)


def test_deleted_last_entries_are_named_by_the_anchored_checkpoint(log_db: sessionmaker) -> None:
    rows = _rows(log_db)
    anchored = [(10, root([entry_leaf(r.entry) for r in rows]))]
    with log_db.begin() as session:
        session.execute(delete(AccessLogEntry).where(AccessLogEntry.position >= 8))
    first = _check(log_db, anchored)[0]
    assert (first.position, "entry 8 is missing" in first.what) == (8, True)


def test_reordered_entries_are_named(log_db: sessionmaker) -> None:
    with log_db.begin() as session:  # swap rows 2 and 5 wholesale, leaf hashes included
        two, five = session.get(AccessLogEntry, 2), session.get(AccessLogEntry, 5)
        values = lambda r: {"entry": r.entry, "leaf_hash": r.leaf_hash}  # noqa: E731
        a, b = values(two), values(five)
        session.execute(update(AccessLogEntry).where(AccessLogEntry.position == 2).values(**b))
        session.execute(update(AccessLogEntry).where(AccessLogEntry.position == 5).values(**a))
    first = _check(log_db, [])[0]
    assert (first.position, "moved" in first.what) == (2, True)


def test_a_consistent_rewrite_is_caught_by_the_anchored_checkpoint(log_db: sessionmaker) -> None:
    """An operator who rewrites entry 1 and recomputes every hash after it fools the log's own
    records, not the root anchored on chain before the rewrite."""
    anchored = _anchored(log_db, 8)
    rewrite_access_log(log_db, 1)
    assert [p.what for p in _check(log_db, anchored)] == [
        "the log does not reproduce the checkpoint of size 8 anchored on chain",
        "the first entry that differs from what the checkpoints prove is one of entries 0 to 7 (the checkpoint of "
        "size 8 is not reproduced)"]


@pytest.mark.parametrize(("sizes", "named"), [
    ((3, 4, 8), "entry 3 differs from what the checkpoint of size 4 proves (the first 3 entries are as anchored)"),
    ((2, 6, 9), "the first entry that differs from what the checkpoints prove is one of entries 2 to 5 (the "
                "checkpoint of size 6 is not reproduced, the one of size 2 is)"),
], ids=["adjacent-checkpoints", "between-checkpoints"])
def test_the_checkpoints_narrow_down_where_a_consistent_rewrite_begins(
        log_db: sessionmaker, sizes: tuple[int, ...], named: str) -> None:
    anchored = _anchored(log_db, *sizes)
    rewrite_access_log(log_db, 3)
    assert _check(log_db, anchored)[-1].what == named


def test_every_altered_entry_is_named_not_only_the_first(log_db: sessionmaker) -> None:
    with log_db.begin() as session:
        for position in (2, 7):
            row = session.get(AccessLogEntry, position)
            session.execute(update(AccessLogEntry).where(AccessLogEntry.position == position)
                            .values(entry={**row.entry, "outcome": "refused"}))
    assert [p.position for p in _check(log_db, [])] == [2, 7]


@pytest.mark.parametrize(("column", "value", "named"), [
    ("action", "history", "entry 4's action column ('history') differs from its hashed content ('share')"),
    ("department", "11320100MB00000000", "entry 4's department column"),
    ("recorded_at", 0.0, "entry 4's time column (0.0) differs"),
])
def test_a_changed_query_column_is_named(log_db: sessionmaker, column: str, value: Any, named: str) -> None:
    """The columns the API filters by are copies; a copy that no longer matches the hashed entry
    (which would hide the entry from a filtered query) is tampering."""
    with log_db.begin() as session:
        session.execute(update(AccessLogEntry).where(AccessLogEntry.position == 4).values({column: value}))
    problems = _check(log_db, _anchored(log_db, 10))
    assert [(p.position, p.what.startswith(named)) for p in problems] == [(4, True)], problems


@pytest.mark.parametrize("change", ["drop", "add", "orphan"])
def test_a_changed_certificate_link_is_named(log_db: sessionmaker, change: str) -> None:
    """A certificate's history reads its accesses through the links: one removed, added, or
    pointing at no entry is tampering."""
    with log_db.begin() as session:
        if change == "drop":
            session.execute(delete(AccessedCertificate).where(AccessedCertificate.position == 5))
        else:
            session.execute(insert(AccessedCertificate).values(certificate_hash="0x" + "ee" * 32,
                                                              position=5 if change == "add" else 99))
    problems = _check(log_db, [])
    assert [p.position for p in problems] == [5 if change != "orphan" else 99]
    assert "certificate links" in problems[0].what


def test_a_changed_tree_head_is_named_once(log_db: sessionmaker) -> None:
    with log_db.begin() as session:
        session.execute(update(AccessLogEntry).where(AccessLogEntry.position == 6).values(tree_head="0x" + "00" * 32))
    assert [p.what for p in _check(log_db, [])] == [
        "the tree head after entry 6 differs from the one recorded when it was appended"]


@pytest.mark.parametrize("stored", ["{not json", "[1, 2]", "null", '{"n": 1e999}', "[" * 100_000])
def test_an_unreadable_entry_is_named_and_the_rest_still_checked(log_db: sessionmaker, stored: str) -> None:
    anchored = _anchored(log_db, 10)
    with log_db.begin() as session:
        session.execute(text("UPDATE access_log SET entry = :stored WHERE position = 3"), {"stored": stored})
        row = session.get(AccessLogEntry, 8)
        session.execute(update(AccessLogEntry).where(AccessLogEntry.position == 8)
                        .values(entry={**row.entry, "outcome": "refused"}))
    problems = _check(log_db, anchored)
    assert [p.what for p in problems[:2]] == ["entry 3 is unreadable (not a JSON object)",
                                              "entry 8 was altered (its content no longer hashes to its leaf)"]


def test_json_nested_too_deep_is_refused_before_it_is_parsed() -> None:
    """Under the recursion limit web3's py_ecc sets in the gateway, parsing this would overflow the C stack."""
    importlib.import_module("py_ecc")
    assert sys.getrecursionlimit() >= 100_000
    with pytest.raises(ValueError, match="nested deeper"):
        parse_json("[" * 100_000)


def test_json_at_the_depth_bound_and_brackets_in_strings_are_read() -> None:
    inner = MAX_READ_DEPTH - 1  # inside the object
    text = '{"a": "' + "[{" * 100 + '\\"", "b": ' + "[" * inner + "]" * inner + "}"
    assert parse_json(text)["a"] == "[{" * 100 + '"'


@pytest.fixture
def group_commit(tmp_path: Path) -> tuple[GroupCommit, list[int]]:
    """A log written by group commits, and a count of the transactions committed on its database."""
    engine = make_engine(f"sqlite:///{tmp_path / 'log.db'}")
    commits: list[int] = []
    event.listen(engine, "commit", lambda _connection: commits.append(1))
    return GroupCommit(session_factory(engine)), commits


def _append_while_the_log_is_written(log: GroupCommit, entries: list[dict[str, Any]]) -> list[Future[int]]:
    """Each entry appended by a thread of its own while another writer holds the log: all of them are
    queued when it lets go."""
    pool = ThreadPoolExecutor(len(entries))
    with log.writing:
        appended = [pool.submit(log.append, "11320100MB0000051T", "verify", entry) for entry in entries]
        deadline = time.monotonic() + 30
        while len(log._queue) < len(entries) and time.monotonic() < deadline:
            time.sleep(0.01)
    pool.shutdown(wait=True)
    return appended


def test_concurrent_appends_make_a_consistent_log_with_a_position_each(
        group_commit: tuple[GroupCommit, list[int]]) -> None:
    log, _commits = group_commit
    with ThreadPoolExecutor(16) as pool:
        positions = list(pool.map(lambda n: (n, log.append("11320100MB0000051T", "verify", {"outcome": f"n{n}"})),
                                  range(400)))
    with log.sessions() as session:
        stored = {row.position: row.entry["outcome"] for row in session.scalars(select(AccessLogEntry))}
    assert sorted(position for _n, position in positions) == list(range(400))
    assert all(stored[position] == f"n{n}" for n, position in positions)  # each requester's own entry
    assert _check(log.sessions, _anchored(log.sessions, 400)) == []


def test_entries_queued_while_the_log_is_written_commit_together(group_commit: tuple[GroupCommit, list[int]]) -> None:
    log, commits = group_commit
    appended = _append_while_the_log_is_written(log, [{"outcome": f"n{n}"} for n in range(20)])
    assert (sorted(f.result() for f in appended), len(commits)) == (list(range(20)), 1)


def test_an_entry_that_cannot_be_written_fails_alone(group_commit: tuple[GroupCommit, list[int]]) -> None:
    log, _commits = group_commit
    appended = _append_while_the_log_is_written(log, [{"outcome": "a"}, {"outcome": float("nan")}, {"outcome": "b"}])
    assert sorted(f.result() for f in (appended[0], appended[2])) == [0, 1]
    with pytest.raises(ValueError):
        appended[1].result()
    assert _check(log.sessions, _anchored(log.sessions, 2)) == []
