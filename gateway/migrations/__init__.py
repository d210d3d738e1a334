"""The gateway database's schema and its migrations (Alembic; revisions in `versions/`).

`upgrade` brings a database to the newest revision (head). It runs at every start of the gateway, so
that a city installs a new release by starting it; `certnet db upgrade` runs it alone, e.g. after a
backup and before the new gateways start. Several processes may start at once on one database: the
upgrade holds a lock (a PostgreSQL advisory lock; SQLite's write lock), so one of them upgrades and
the others find the database at head. A database newer than this gateway is refused, never changed.

Revision 0001 is the schema of the last release made without migrations (commit 0bd6bcb), whose
gateway built its tables with `create_all`: a database with the gateway's tables and no version
table is of that release, and is stamped 0001 before the revisions after it run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text

from gateway.errors import UnknownSchema

#: The revision of the schema released before migrations existed (commit 0bd6bcb).
RELEASE_REVISION = "0001"
#: A table every gateway database has had since the first release: its presence without a version table
#: marks a database of that release.
RELEASE_MARKER_TABLE = "operations"
#: The PostgreSQL advisory lock held by an upgrade: a fixed 64-bit key of the gateway's own ("certnetm" in
#: ASCII), unlikely to meet another application's key on a shared server.
UPGRADE_LOCK_KEY = int.from_bytes(b"certnetm", "big") - (1 << 63)


@dataclass(frozen=True)
class Revision:
    revision: str
    doc: str  # the first line of its docstring


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Brings the database of `engine` to head; (the revision it had, head). A database at head is only read
    (a read-only SQLite file stays usable), so the lock is taken only when there is something to do."""
    scripts = _scripts()
    newest = head()
    with engine.connect() as connection:
        found = _current(connection, scripts)
    if found == newest:
        return found, newest
    with engine.connect() as connection:
        _lock(connection)
        found = _current(connection, scripts)  # another process may have upgraded it while this one waited
        if found != newest:
            config = alembic_config(connection)
            if found is None and inspect(connection).has_table(RELEASE_MARKER_TABLE):
                command.stamp(config, RELEASE_REVISION)
            command.upgrade(config, "head")
        connection.commit()
    return found, newest


def current(engine: Engine) -> str | None:
    """The database's revision; None for one without a version table (empty, or made by the release before migrations)."""
    with engine.connect() as connection:
        return _current(connection, _scripts())


def head() -> str:
    """The newest revision."""
    newest = _scripts().get_current_head()
    assert newest is not None  # versions/ ships with the package
    return newest


def history() -> list[Revision]:
    """Every revision, oldest first."""
    return [Revision(script.revision, script.doc) for script in reversed(list(_scripts().walk_revisions()))]


def _current(connection: Connection, scripts: ScriptDirectory) -> str | None:
    found = MigrationContext.configure(connection).get_current_revision()
    if found is not None:
        try:
            scripts.get_revision(found)
        except CommandError:
            raise UnknownSchema(f"the database's schema is at revision {found}, which this gateway does not know "
                                f"(its newest is {scripts.get_current_head()}): a newer gateway upgraded it; run "
                                "that release or newer", revision=found) from None
    return found


def _lock(connection: Connection) -> None:
    """Holds the database's upgrade lock until the connection's transaction ends (SQLite: its write lock, taken
    at BEGIN IMMEDIATE instead of at the first write, so that two upgrades cannot both read the old revision)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@functools.cache  # the revisions are files of the installed package: read once per process
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an alembic.ini, for its commands: the revisions beside this file;
    `connection` (read by env.py) makes them run in that connection's transaction."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["connection"] = connection
    return config
