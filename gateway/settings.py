"""All gateway settings in one place, read from the environment (prefix CERTNET_) or `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Only for local development chains; a consortium sets its own CERTNET_PSEUDONYM_SECRET.
DEVELOPMENT_PSEUDONYM_SECRET = "certnet development pseudonym secret - not for production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CERTNET_", env_file=".env", extra="ignore")

    data_dir: Path = Path(".certnet")
    #: The consortium's key for holder pseudonyms (HMAC-SHA256); shared by its departments only.
    pseudonym_secret: SecretStr = SecretStr(DEVELOPMENT_PSEUDONYM_SECRET)

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / "manifest.json"

    @property
    def schema_dir(self) -> Path:
        return self.data_dir / "schemas"

    @property
    def pseudonym_key(self) -> bytes:
        return self.pseudonym_secret.get_secret_value().encode()
