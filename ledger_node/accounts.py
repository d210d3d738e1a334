"""Signing keys of departments: the development mnemonic, and encrypted keystore files.

Development chains (ganache, anvil, hardhat, embedded) all fund the accounts of one public
mnemonic, so demo departments get deterministic keys from it. Outside development a department's
key lives only in an eth-account keystore file (scrypt-encrypted JSON); its passphrase comes
from the environment or a file, and the key is never written or logged in clear.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger_node.errors import LedgerError
from ledger_node.types import DEVELOPMENT_CHAIN_IDS

#: Public development mnemonic (the one ganache, anvil and hardhat document). Never for real keys.
DEV_MNEMONIC = "test test test test test test test test test test test junk"

PASSPHRASE_ENV = "CERTNET_KEY_PASSPHRASE"
PASSPHRASE_FILE_ENV = "CERTNET_KEY_PASSPHRASE_FILE"

Account.enable_unaudited_hdwallet_features()


class KeyStoreError(LedgerError):
    """A keystore is missing, unreadable, or its passphrase is wrong or not given."""

    code = "keystore_error"


def dev_account(index: int) -> LocalAccount:
    """Account `index` of the development mnemonic (index 0 deploys; departments use 1, 2, ...)."""
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


class DevelopmentKeyRefused(LedgerError):
    """A development-mnemonic key was asked for on a chain that is not a local development chain."""

    code = "development_key_refused"


def development_account(chain_id: int, index: int) -> LocalAccount:
    """`dev_account(index)` for a local development chain; refused on any other chain, where a key
    whose mnemonic is public would let anyone act as the department."""
    if chain_id not in DEVELOPMENT_CHAIN_IDS:
        raise DevelopmentKeyRefused(f"chain {chain_id} is not a local development chain: account {index} of the "
                                    "public development mnemonic is refused; use an encrypted key file "
                                    "(certnet keys new) instead")
    return dev_account(index)


def passphrase_from_env() -> str:
    """The keystore passphrase from CERTNET_KEY_PASSPHRASE, or the file CERTNET_KEY_PASSPHRASE_FILE names."""
    if value := os.environ.get(PASSPHRASE_ENV):
        return value
    if path := os.environ.get(PASSPHRASE_FILE_ENV):
        try:
            return Path(path).read_text().rstrip("\n")
        except OSError as exc:
            raise KeyStoreError(f"cannot read the passphrase file {path}: {exc.strerror}") from exc
    raise KeyStoreError(f"no keystore passphrase: set {PASSPHRASE_ENV} or {PASSPHRASE_FILE_ENV}")


def create_keystore(path: Path, passphrase: str) -> LocalAccount:
    """Creates a new key and writes it encrypted to `path` (mode 0600); refuses to overwrite."""
    account = Account.create()
    encrypted = Account.encrypt(account.key, passphrase)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyStoreError(f"{path} exists: a keystore is never overwritten") from exc
    with os.fdopen(fd, "w") as handle:
        json.dump(encrypted, handle)
    return account


def load_keystore(path: Path, passphrase: str) -> LocalAccount:
    """Decrypts a keystore file."""
    try:
        encrypted = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise KeyStoreError(f"cannot read keystore {path}: {exc}") from exc
    try:
        return Account.from_key(Account.decrypt(encrypted, passphrase))
    except ValueError as exc:
        raise KeyStoreError(f"cannot decrypt keystore {path}: wrong passphrase") from exc
