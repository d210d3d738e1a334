"""Leases of background duties: one holder at a time, taken over when they run out, fenced writes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from gateway.db import Lease, make_engine, session_factory
from gateway.leases import LeaseLost, Leases
from gateway.process import own_database

DUTY = "event-index"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker]:
    """A fresh gateway database, on SQLite and on PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'gateway.db'}" if request.param == "sqlite" else \
        own_database(request.getfixturevalue("postgres_url"), tmp_path)
    engine = make_engine(url)
    yield session_factory(engine)
    engine.dispose()


def _leases(sessions: sessionmaker, holder: str) -> Leases:
    return Leases(sessions, [DUTY], lease_seconds=30, holder=holder)


def _run_out(sessions: sessionmaker) -> None:
    """The holder stopped renewing and its lease's time passed."""
    with sessions.begin() as session:
        session.execute(update(Lease).values(expires_at=0.0))


def test_a_duty_has_one_holder(sessions: sessionmaker) -> None:
    first, second = _leases(sessions, "first"), _leases(sessions, "second")
    assert (first.renew(), second.renew(), first.renew()) == ({DUTY}, set(), {DUTY})


def test_an_expired_lease_is_taken_over_with_a_new_token(sessions: sessionmaker) -> None:
    first, second = _leases(sessions, "first"), _leases(sessions, "second")
    first.renew()
    _run_out(sessions)
    assert second.renew() == {DUTY}
    assert first.renew() == set() and not first.holds(DUTY)
    with sessions() as session:
        assert session.get(Lease, DUTY).token == 2


def test_a_write_fenced_by_a_lease_taken_over_fails_and_leaves_nothing(sessions: sessionmaker) -> None:
    paused, successor = _leases(sessions, "paused"), _leases(sessions, "successor")
    paused.renew()
    _run_out(sessions)  # the holder was paused past its lease ...
    successor.renew()  # ... another process took the duty, and the paused one resumes mid-round
    with sessions() as session:
        session.execute(update(Lease).where(Lease.duty == DUTY).values(holder=Lease.holder))  # a write of the round
        with pytest.raises(LeaseLost):
            paused.fence(session, [DUTY])
    assert not paused.holds(DUTY)


def test_a_process_that_finds_its_lease_taken_over_says_it_no_longer_leads(
        sessions: sessionmaker, caplog: pytest.LogCaptureFixture) -> None:
    paused, successor = _leases(sessions, "paused"), _leases(sessions, "successor")
    paused.renew()
    _run_out(sessions)
    successor.renew()
    with sessions() as session, caplog.at_level(logging.WARNING, logger="gateway.leases"):
        with pytest.raises(LeaseLost):
            paused.fence(session, [DUTY])
    assert caplog.messages == [f"no longer leading {DUTY}"]


def test_a_holders_fenced_write_passes(sessions: sessionmaker) -> None:
    holder = _leases(sessions, "holder")
    holder.renew()
    with sessions() as session:
        holder.fence(session, [DUTY])
        session.commit()
    assert holder.holds(DUTY)


def test_a_released_lease_is_taken_at_once(sessions: sessionmaker) -> None:
    leaving, staying = _leases(sessions, "leaving"), _leases(sessions, "staying")
    leaving.renew()
    leaving.release()
    assert staying.renew() == {DUTY}


def test_a_lease_renewed_by_its_holder_keeps_its_token(sessions: sessionmaker) -> None:
    holder = _leases(sessions, "holder")
    holder.renew()
    holder.renew()
    with sessions() as session:
        assert session.get(Lease, DUTY).token == 1


def test_taking_over_ignores_a_lease_still_running(sessions: sessionmaker) -> None:
    """What a process that claimed a SQLite database does with its dead predecessor's leases."""
    dead, restarted = _leases(sessions, "dead"), _leases(sessions, "restarted")
    dead.renew()
    assert restarted.renew(take_over=True) == {DUTY}
    with pytest.raises(LeaseLost), sessions() as session:
        dead.fence(session, [DUTY])
