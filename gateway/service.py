"""The gateway's parts, wired once from `Settings`: database, chain, keys, outbox, issuance, index,
access log, holders' keys and consents, sharing. In production it refuses development secrets,
keys and tokens before it creates anything.

`Gateway.start()` runs the background threads (leases, outbox preparer, dispatcher and watcher,
event index, checkpoints); the HTTP app and the `certnet gateway|index|outbox` commands share this one
composition. Gateway processes sharing a PostgreSQL database share the background duties through
leases (`gateway.leases`): each duty runs in one of them. A SQLite database takes one serving
process: a second one is refused (`claim_sqlite`).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from typing import IO

from sqlalchemy.orm import sessionmaker

from gateway.audit.trail import AuditTrail
from gateway.auth import Authenticator
from gateway.certificates.document import contexts_at
from gateway.certificates.verification import Verifier
from gateway.chain import Chain, Custody
from gateway.chain_state import IndexedState
from gateway.db import background_engine, durable_engine, make_engine, session_factory
from gateway.errors import UnsafeConfiguration, UnsupportedSetup
from gateway.indexer import EventIndex
from gateway.leases import CHECKPOINT_DUTY, INDEX_DUTY, Leases, outbox_duty
from gateway.issuance import Issuance
from gateway.outbox import Outbox
from gateway.provenance import Provenance
from gateway.settings import Settings
from gateway.sharing.gbt36906 import NationalSharing
from gateway.sharing.holders import Holders
from gateway.sharing.share import Sharing
from ledger_node.deploy import Manifest
from ledger_node.engines import connect, read_node
from ledger_node.schemas import SchemaStore
from ledger_node.sender import Sender


def rpc_urls(settings: Settings) -> list[str]:
    """Settings' RPC URLs (or URL), else the node recorded in the data dir, else the manifest's."""
    if settings.rpc_urls:
        return settings.rpc_urls
    if settings.rpc_url:
        return [settings.rpc_url]
    record = read_node(settings.data_dir)
    if record is not None:
        return [record.url]
    return [Manifest.load(settings.manifest_path).rpc_url]


def refuse_unsafe_production(settings: Settings, chain_id: int, custody: Custody) -> None:
    """In production (`Settings.production`), `UnsafeConfiguration` naming every setting that is still
    at its development default: the public pseudonym secret, the public mnemonic's keys, API tokens."""
    if not settings.production(chain_id):
        return
    needed: dict[str, str] = {}
    if secret_problem := settings.pseudonym_secret_problem():
        needed["CERTNET_PSEUDONYM_SECRET"] = secret_problem
    if settings.key_store is None:
        needed["CERTNET_KEY_STORE"] = "the departments' encrypted key files: the development mnemonic's keys " \
                                      "are public"
    elif development_keys := sorted(custody.development_keys):
        needed["CERTNET_KEY_STORE"] = f"key files without the development mnemonic's public keys " \
                                      f"{', '.join(development_keys)}"
    if settings.dev_tokens_enabled(chain_id):
        needed["CERTNET_DEV_TOKENS"] = "false, or leave it unset: departments sign their requests"
    if needed:
        mode = "CERTNET_ENV=production" if settings.env == "production" else \
            f"chain id {chain_id} is not a local development chain"
        raise UnsafeConfiguration(f"refusing to start in production ({mode}); set "
                                  + "; ".join(f"{name} ({what})" for name, what in needed.items()),
                                  settings=list(needed))


def claim_sqlite(database: Path) -> IO[str]:
    """An exclusive lock on `database` (a SQLite file) for this process's life, so that a second
    serving process on it is refused: SQLite's single writer and this process's in-memory order of
    the access log's appends would not hold across processes. `UnsupportedSetup` when taken."""
    lock_file = database.with_name(database.name + ".serving")
    handle = lock_file.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UnsupportedSetup(f"{holder} already serves the SQLite database {database}; a SQLite database takes "
                               "one gateway process: for several (or --workers), use PostgreSQL "
                               "(CERTNET_DATABASE_URL)") from None
    handle.truncate(0)
    handle.write(f"gateway process {os.getpid()}\n")
    handle.flush()
    return handle


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        w3 = connect(rpc_urls(settings), timeout=settings.rpc_timeout_seconds)
        deployment = Manifest.load(settings.manifest_path).deployment(w3)
        self.chain = Chain(deployment, role_cache_seconds=settings.role_cache_seconds)
        self.custody = Custody.load(self.chain, settings.key_store)
        refuse_unsafe_production(settings, self.chain.chain_id, self.custody)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.database)
        self.sessions: sessionmaker = session_factory(engine)
        #: For what a power cut must not take back: outbox operations, issued certificates, holders' keys
        #: and consents (docs/gateway.md, "Durability").
        self.durable_sessions: sessionmaker = session_factory(durable_engine(engine))
        self.leases = Leases(session_factory(background_engine(engine)),
                             [*(outbox_duty(account.address) for account in self.custody.accounts), INDEX_DUTY,
                              CHECKPOINT_DUTY], lease_seconds=settings.lease_seconds)
        sender = Sender(w3, self.custody.accounts, bump_percent=settings.fee_bump_percent,
                        fee_cap=settings.max_fee_per_gas)
        self.outbox = Outbox(self.durable_sessions, self.chain, sender, self.leases,
                             max_pending=settings.max_pending_operations, confirmations=settings.confirmations,
                             replace_after=settings.replace_after_seconds)
        self.issuance = Issuance(self.chain, self.custody, self.outbox, self.durable_sessions,
                                 SchemaStore(settings.schema_dir), pseudonym_key=settings.pseudonym_key,
                                 max_batch_size=settings.max_batch_size,
                                 context=contexts_at(str(settings.context_base_url)))
        self.index = EventIndex(deployment, self.sessions, confirmations=settings.confirmations,
                                on_rewind=self.outbox.reconcile_soon, leases=self.leases)
        self.audit = AuditTrail(self.chain, self.custody, self.outbox, self.sessions,
                                durable_sessions=self.durable_sessions, log_id=settings.access_log_id)
        self.provenance = Provenance(self.sessions, self.index)
        self.chain_state = IndexedState(self.sessions)
        self.verifier = Verifier(deployment, state=self.chain_state, pseudonym_secret=settings.pseudonym_key,
                                 workers=settings.verify_workers, signed_documents=self.issuance.signed_document)
        self.holders = Holders(self.sessions, self.audit, pseudonym_key=settings.pseudonym_key)
        self.sharing = Sharing(self.chain, self.holders, self.issuance, self.verifier, self.audit)
        self.national_sharing = NationalSharing(self.sharing, self.issuance, self.chain_state.type_name,
                                                pseudonym_key=settings.pseudonym_key)
        self.authenticator = Authenticator(self.chain, self.sessions,
                                           max_age_seconds=settings.signature_max_age_seconds,
                                           tokens_enabled=settings.dev_tokens_enabled(self.chain.chain_id))
        self.started_at = time.time()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sqlite_claim: IO[str] | None = None

    def claim(self, *, processes: int = 1) -> None:
        """Makes sure this process (with `processes` - 1 more like it) may serve the database: on SQLite it
        must be the only one (`claim_sqlite`); PostgreSQL takes any number."""
        url = self.sessions.kw["bind"].url
        if url.get_backend_name() != "sqlite" or not url.database or self._sqlite_claim is not None:
            return
        if processes > 1:
            raise UnsupportedSetup(f"a SQLite database takes one gateway process, not {processes}: for several, "
                                   "use PostgreSQL (CERTNET_DATABASE_URL)")
        self._sqlite_claim = claim_sqlite(Path(url.database))

    def start(self) -> None:
        """Runs the background threads, once the database is claimed (`claim`)."""
        self.claim()
        # The duties free now are this process's from its first round; on SQLite all are (the claim
        # proves that the process that held them is gone: no lease to wait out after a crash).
        self.leases.renew(take_over=self._sqlite_claim is not None)
        for name, target in (("leases", lambda: self.leases.run(self._stop)),
                             ("outbox-preparer", lambda: self.outbox.run_preparer(self._stop)),
                             ("outbox-dispatcher", lambda: self.outbox.run_dispatcher(self._stop)),
                             ("outbox-watcher", lambda: self.outbox.run_watcher(self._stop)),
                             ("event-index", lambda: self.index.run(self._stop, self.settings.index_poll_seconds)),
                             *([("audit-checkpoints", lambda: self.audit.run_checkpoints(
                                 self._stop, self.settings.checkpoint_interval_seconds,
                                 leading=lambda: self.leases.holds(CHECKPOINT_DUTY)))]
                               if self.settings.checkpoint_interval_seconds > 0 else [])):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stops the background threads (the leases thread releases the leases as it ends, so that another
        process takes the duties at once) and lets go of the SQLite database."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.verifier.close()
        if self._sqlite_claim is not None:
            self._sqlite_claim.close()
            self._sqlite_claim = None
