"""All gateway settings in one place, read from the environment (prefix CERTNET_) or `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Only for local development chains; a consortium sets its own CERTNET_PSEUDONYM_SECRET.
DEVELOPMENT_PSEUDONYM_SECRET = "certnet development pseudonym secret - not for production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CERTNET_", env_file=".env", extra="ignore")

    data_dir: Path = Path(".certnet")
    #: The consortium's key for holder pseudonyms (HMAC-SHA256); shared by its departments only.
    pseudonym_secret: SecretStr = SecretStr(DEVELOPMENT_PSEUDONYM_SECRET)
    #: JSON-RPC endpoint; default: the node `certnet node start|run` recorded in the data dir.
    rpc_url: str | None = None
    #: Manifest of the deployed contracts; default: `<data dir>/manifest.json`.
    manifest: Path | None = None
    #: SQLAlchemy URL of the gateway database (outbox, tokens, event index); default: a SQLite
    #: file in the data dir. PostgreSQL: `postgresql+psycopg://user:pass@host/db`.
    database_url: str | None = None
    #: Directory of encrypted key files (one per department key the gateway holds); passphrase
    #: from CERTNET_KEY_PASSPHRASE(_FILE). Unset: the development mnemonic's accounts that the
    #: consortium registered (local chains only).
    key_store: Path | None = None
    #: Blocks the event index stays behind the head; events younger than this are not indexed.
    confirmations: int = 0
    index_poll_seconds: float = 0.5
    #: How far a signed request's timestamp may be from the gateway's clock.
    signature_max_age_seconds: int = 300
    #: How long a department's roles and status read from the consortium are reused.
    role_cache_seconds: float = 5.0
    #: How long `POST /v1/certificates` waits for the receipt before answering 202 with the operation.
    issue_wait_seconds: float = 30.0
    max_batch_size: int = 100_000
    #: Request bodies larger than this get 413 before they are read (batches: the next setting).
    max_request_bytes: int = 1 << 20
    #: `POST /v1/batches` bodies: room for `max_batch_size` certificates of about 1.3 KiB each.
    max_batch_request_bytes: int = 128 << 20
    #: How often the access log's tree head is anchored on chain when it grew (0: only on demand).
    checkpoint_interval_seconds: float = 300.0
    #: The access log's id in the AuditCheckpoints contract: one per gateway database, fixed for its life.
    access_log_id: str = Field("certnet-gateway-access-log", max_length=32)
    #: Operations accepted but not yet mined beyond which new ones get 429.
    max_pending_operations: int = 200_000

    @property
    def manifest_path(self) -> Path:
        return self.manifest or self.data_dir / "manifest.json"

    @property
    def schema_dir(self) -> Path:
        return self.data_dir / "schemas"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'gateway.db'}"

    @property
    def pseudonym_key(self) -> bytes:
        return self.pseudonym_secret.get_secret_value().encode()
