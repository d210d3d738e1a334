"""All gateway settings in one place, read from the environment (prefix CERTNET_) or `.env`."""

from __future__ import annotations

import os

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, HttpUrl, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.certificates.document import DEFAULT_CONTEXT_BASE_URL
from gateway.errors import InvalidSetting, UnsafeConfiguration
from ledger_node.types import DEFAULT_ACCESS_LOG_ID, DEVELOPMENT_CHAIN_IDS

#: Only for local development chains; a consortium sets its own CERTNET_PSEUDONYM_SECRET.
DEVELOPMENT_PSEUDONYM_SECRET = "certnet development pseudonym secret - not for production"
#: A production pseudonym secret is at least this long (`openssl rand -hex 32` gives 64 characters).
MIN_PSEUDONYM_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CERTNET_", env_file=".env", extra="ignore")

    #: "production" refuses development secrets, keys and tokens (`gateway.service.refuse_unsafe_production`)
    #: even on a development chain; on any other chain they are refused anyway.
    env: Literal["development", "production"] = "development"
    data_dir: Path = Path(".certnet")
    #: The consortium's key for holder pseudonyms (HMAC-SHA256); shared by its departments only.
    pseudonym_secret: SecretStr = SecretStr(DEVELOPMENT_PSEUDONYM_SECRET)
    #: JSON-RPC endpoint; default: the node `certnet node start|run` recorded in the data dir.
    rpc_url: str | None = None
    #: Several JSON-RPC endpoints of the chain, comma-separated, in order of preference (instead of
    #: CERTNET_RPC_URL): calls go to the first that answers, and fail over to the next when it does not.
    rpc_urls: Annotated[list[str], NoDecode] = Field(default_factory=list, max_length=16)
    #: How long one JSON-RPC call may wait for the node's answer: a node that accepts connections but
    #: never answers makes requests 503 `chain_unavailable` after this, not hang.
    rpc_timeout_seconds: float = Field(10.0, gt=0, le=300)
    #: Manifest of the deployed contracts; default: `<data dir>/manifest.json`.
    manifest: Path | None = None
    #: SQLAlchemy URL of the gateway database (outbox, tokens, event index); default: a SQLite
    #: file in the data dir. PostgreSQL: `postgresql+psycopg://user:pass@host/db`.
    database_url: str | None = None
    #: Directory of encrypted key files (one per department key the gateway holds); passphrase
    #: from CERTNET_KEY_PASSPHRASE(_FILE). Unset: the development mnemonic's accounts that the
    #: consortium registered (local chains only).
    key_store: Path | None = None
    #: Bearer API tokens (`certnet gateway token`) instead of signed requests. Unset: on for development
    #: chains in development mode only; production refuses to start with them on.
    dev_tokens: bool | None = None
    #: Where CertNet's JSON-LD context is published: documents issued here name
    #: `<this>/ns/certificate/v1` in their `@context`, and the gateway serves the context at that path. Set it to
    #: the gateway's public URL so that JSON-LD tools resolve it; the default is the URL documents always carried.
    context_base_url: HttpUrl = HttpUrl(DEFAULT_CONTEXT_BASE_URL)
    #: The gateway's URL as people reach it (e.g. `https://certs.example.gov.cn`): the QR code on a rendered
    #: certificate points to `<this>/c/<hash>`. Unset: the URL the request for the rendering came in on.
    public_url: HttpUrl | None = None
    #: Blocks the event index stays behind the head; events younger than this are not indexed.
    confirmations: int = 0
    index_poll_seconds: float = 0.5
    #: How far a signed request's timestamp may be from the gateway's clock.
    signature_max_age_seconds: int = 300
    #: How long an auditor stays signed in to the web console (`/audit`) after signing in.
    console_session_minutes: float = Field(30.0, gt=0, le=24 * 60)
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
    #: Governance registers it with its operator department first (AuditCheckpoints.setLogOperator).
    access_log_id: str = Field(DEFAULT_ACCESS_LOG_ID, max_length=32)
    #: Processes that check large `POST /v1/verify/batch` requests offline (hashes, signatures, proofs) in
    #: parallel; 0 or 1: the request's own thread does it.
    verify_workers: int = Field(default_factory=lambda: min(os.cpu_count() or 1, 8), ge=0, le=64)
    #: How long a gateway process holds a background duty (an account's outbox, the event index, checkpoints)
    #: without renewing it; when it dies, another process sharing the database takes the duty after this.
    lease_seconds: float = Field(5.0, ge=1, le=300)
    #: Operations accepted but not yet mined beyond which new ones get 429.
    max_pending_operations: int = 200_000
    #: `/readyz` answers 503 when the event index lags the head by more blocks than this beyond `confirmations`
    #: (a load balancer then sends requests to gateways whose answers are current).
    ready_max_index_lag: int = Field(30, ge=0, le=1_000_000)
    #: Log lines on stderr: one JSON object each (for a log collector), or text for a person at a terminal.
    log_format: Literal["json", "text"] = "json"
    #: On SIGTERM the gateway stops accepting connections and gives requests in flight this long to finish,
    #: then stops its background threads.
    shutdown_grace_seconds: float = Field(30.0, gt=0, le=3600)
    #: A sent transaction without a receipt for this long is replaced: signed again with the same nonce
    #: and higher fees (never a second nonce for one operation).
    replace_after_seconds: float = Field(120.0, ge=0, le=86_400)
    #: How much a replacement raises each fee, in percent (nodes want at least 10 %, geth and Besu 12.5 %).
    fee_bump_percent: float = Field(25.0, ge=12.5, le=1000)
    #: No transaction offers more per gas than this (gwei): a stuck one at the cap waits instead.
    max_fee_per_gas_gwei: float = Field(1000.0, gt=0, le=1_000_000)

    @classmethod
    def load(cls, **values: Any) -> Settings:
        """The settings from the environment, `.env` and `values`; `InvalidSetting` names every one that
        does not parse (never its value: it may be a secret)."""
        try:
            return cls(**values)
        except ValidationError as error:
            raise InvalidSetting("; ".join(f"CERTNET_{'_'.join(map(str, problem['loc'])).upper()}: {problem['msg']}"
                                           for problem in error.errors())) from None

    @field_validator("rpc_urls", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return [url.strip() for url in value.split(",") if url.strip()] if isinstance(value, str) else value

    @property
    def max_fee_per_gas(self) -> int:
        """`max_fee_per_gas_gwei` in wei."""
        return int(self.max_fee_per_gas_gwei * 10**9)

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

    def production(self, chain_id: int) -> bool:
        """Whether the production checks apply: CERTNET_ENV=production, or a chain not for local development."""
        return self.env == "production" or chain_id not in DEVELOPMENT_CHAIN_IDS

    def dev_tokens_enabled(self, chain_id: int) -> bool:
        return self.dev_tokens if self.dev_tokens is not None else not self.production(chain_id)

    def pseudonym_secret_problem(self) -> str | None:
        """Why the pseudonym secret is unfit for production, or None."""
        secret = self.pseudonym_secret.get_secret_value()
        if secret == DEVELOPMENT_PSEUDONYM_SECRET or len(secret) < MIN_PSEUDONYM_SECRET_LENGTH:
            return (f"the consortium's own, at least {MIN_PSEUDONYM_SECRET_LENGTH} random characters: with the "
                    "public development secret anyone can reverse holder pseudonyms to ID numbers")
        return None

    def pseudonym_key_for(self, chain_id: int) -> bytes:
        """The pseudonym key for making pseudonyms on chain `chain_id`; in production `UnsafeConfiguration`
        unless the secret is the consortium's own."""
        if self.production(chain_id) and (problem := self.pseudonym_secret_problem()):
            raise UnsafeConfiguration(f"refusing to make pseudonyms for chain {chain_id} with this secret; set "
                                      f"CERTNET_PSEUDONYM_SECRET ({problem})", settings=["CERTNET_PSEUDONYM_SECRET"])
        return self.pseudonym_key
