"""The auditor console's sessions, kept in the gateway database (`console_sessions`) so that every gateway
process on it knows them: the cookie carries a random id, the table only its SHA-256; each session has
its own CSRF token, which every POST of the console must carry (`csrf_matches`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.orm import sessionmaker

from gateway.db import ConsoleSession

#: The session cookie, sent back only to the console's paths.
COOKIE = "certnet_console"
COOKIE_PATH = "/audit"
#: A cookie value is `secrets.token_urlsafe(32)`: 43 characters; longer ones are not looked up.
MAX_COOKIE_LENGTH = 64


@dataclass(frozen=True)
class SignedIn:
    """A live session: who, its CSRF token, when it ends (unix seconds)."""

    department: str
    csrf_token: str
    expires_at: float


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_matches(expected: str, given: str) -> bool:
    """Whether a form's CSRF token is the session's, compared in constant time."""
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())


class ConsoleSessions:
    def __init__(self, sessions: sessionmaker, *, lifetime_seconds: float) -> None:
        self.sessions = sessions
        self.lifetime = lifetime_seconds

    def open(self, department: str) -> tuple[str, SignedIn]:
        """A new session of `department`: the cookie's value (returned once, stored hashed) and the session.
        Sessions that have ended are deleted on the way."""
        session_id, now = secrets.token_urlsafe(32), time.time()
        signed_in = SignedIn(department, secrets.token_urlsafe(32), now + self.lifetime)
        with self.sessions.begin() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
            session.add(ConsoleSession(id_hash=_digest(session_id), department=department,
                                       csrf_token=signed_in.csrf_token, created_at=now,
                                       expires_at=signed_in.expires_at))
        return session_id, signed_in

    def find(self, session_id: str | None) -> SignedIn | None:
        """The live session of a cookie's value; None for none, an unknown one or one that has ended."""
        if not session_id or len(session_id) > MAX_COOKIE_LENGTH:
            return None
        with self.sessions() as session:
            row = session.get(ConsoleSession, _digest(session_id))
        if row is None or row.expires_at <= time.time():
            return None
        return SignedIn(row.department, row.csrf_token, row.expires_at)

    def close(self, session_id: str) -> None:
        """Ends the session: its cookie no longer signs anyone in, in any process."""
        with self.sessions.begin() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == _digest(session_id)))
