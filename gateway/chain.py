"""The gateway's view of the chain: the deployment, departments' roles and status (cached
briefly), which department a key belongs to, and the department keys the gateway holds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable

import requests
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.exceptions import TimeExhausted

from gateway.certificates.catalog import lookup
from gateway.certificates.signing import IssuerKey, SigningDomain
from gateway.certificates.suites import SM2_SM3, CryptoSuite, Sm2PrivateKey, suite_coded
from gateway.errors import Forbidden, StorageUnavailable
from ledger_node.accounts import dev_account, load_keystore, passphrase_from_env
from ledger_node.chainstate import code_text
from ledger_node.deploy import Deployment
from ledger_node.rpc import ViewCalls
from ledger_node.sm2 import department_sm2_key
from ledger_node.types import DepartmentStatus, Role, code32, issuance_terms

#: How the chain's client libraries say "no answer" (an answer cut off midway included): these become
#: `ChainUnavailable` (HTTP 503).
CONNECTION_ERRORS: tuple[type[Exception], ...] = (requests.ConnectionError, requests.Timeout,
                                                  requests.exceptions.ChunkedEncodingError, TimeExhausted)
#: Outages the background threads wait out (the chain or the database not answering): one warning
#: line per outage and a retry, not a traceback per attempt.
OUTAGES: tuple[type[Exception], ...] = (*CONNECTION_ERRORS, StorageUnavailable)

#: How many development-mnemonic accounts are searched for department keys on local chains.
DEV_KEY_SEARCH = 64


@dataclass(frozen=True)
class DepartmentInfo:
    code: str
    name: str
    status: DepartmentStatus
    roles: Role
    keys: tuple[ChecksumAddress, ...]
    #: Ids (0x hex) of its current SM2 keys; read only under the sm2-sm3 suite, empty otherwise.
    sm2_keys: tuple[str, ...] = ()


class Chain:
    """The deployment plus short-lived caches of consortium facts."""

    def __init__(self, deployment: Deployment, *, role_cache_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.deployment = deployment
        self.w3: Web3 = deployment.registry.w3
        self.calls = ViewCalls(self.w3)  # the per-request reads, without web3.py's overhead
        self.chain_id = self.w3.eth.chain_id
        self.domain = SigningDomain(self.chain_id, deployment.registry.address)
        self.suite: CryptoSuite = suite_coded(deployment.consortium.functions.cryptoSuite().call())
        self._ttl = role_cache_seconds
        self._clock = clock
        self._departments: dict[str, tuple[float, DepartmentInfo]] = {}
        self._type_ids: dict[str, int] = {}  # a type's id never changes: read once
        self._lock = threading.Lock()

    def department(self, code: str) -> DepartmentInfo:
        """Raises `NotFound` for a code the consortium does not know."""
        with self._lock:
            cached = self._departments.get(code)
        if cached and self._clock() - cached[0] < self._ttl:
            return cached[1]
        consortium = self.deployment.consortium.functions
        record = lookup(consortium.department(code32(code)), f"no department {code!r} in the consortium")
        keys = consortium.keysOf(code32(code)).call()
        removed = [key_record[2] for key_record in self.calls.read([consortium.keyRecord(key) for key in keys])]
        info = DepartmentInfo(code=code, name=record[6], status=DepartmentStatus(record[2]), roles=Role(record[3]),
                              keys=tuple(key for key, removed_at in zip(keys, removed) if removed_at == 0),
                              sm2_keys=self._current_sm2_keys(code) if self.suite is SM2_SM3 else ())
        with self._lock:
            self._departments[code] = (self._clock(), info)
        return info

    def issuance_terms(self, type_code: str, valid_until: int) -> int:
        """The `terms` word of `issue` and `anchorBatch` for a certificate of type `type_code` valid until `valid_until`."""
        with self._lock:
            type_id = self._type_ids.get(type_code)
        if type_id is None:
            type_id = lookup(self.deployment.catalog.functions.certificateType(code32(type_code)),
                             f"no certificate type {type_code!r} in the catalog")[1]
            with self._lock:
                self._type_ids[type_code] = type_id
        return issuance_terms(type_id, valid_until)

    def _current_sm2_keys(self, code: str) -> tuple[str, ...]:
        consortium = self.deployment.consortium.functions
        keys = consortium.sm2KeysOf(code32(code)).call()
        records = self.calls.read([consortium.sm2KeyRecord(key) for key in keys])
        return tuple("0x" + key.hex() for key, (record, _public) in zip(keys, records) if record[4] == 0)

    def department_of_key(self, address: ChecksumAddress) -> str | None:
        """The department `address` is a current key of, or None."""
        consortium = self.deployment.consortium.functions
        (department_id, _added, removed_at, *_), = self.calls.read([consortium.keyRecord(address)])
        if department_id == 0 or removed_at != 0:
            return None
        return code_text(self.calls.read([consortium.departmentCode(department_id)])[0])

    def departments(self) -> list[DepartmentInfo]:
        consortium = self.deployment.consortium.functions
        count = consortium.departmentCount().call()
        return [self.department(code_text(consortium.departmentCode(i).call())) for i in range(1, count + 1)]

    def require_active(self, code: str, role: Role | None = None) -> DepartmentInfo:
        """The department, if it is active and (when given) holds `role`; otherwise `Forbidden`."""
        info = self.department(code)
        if info.status is not DepartmentStatus.ACTIVE:
            raise Forbidden(f"department {code} is {info.status.name.lower()}", department=code,
                            status=info.status.name.lower())
        if role is not None and not info.roles & role:
            raise Forbidden(f"department {code} does not hold the {role.name.lower()} role", department=code,
                            required_role=role.name.lower())
        return info


@cache
def development_accounts() -> tuple[LocalAccount, ...]:
    """The development mnemonic's first accounts (derived once per process: about 1 s)."""
    return tuple(dev_account(i) for i in range(DEV_KEY_SEARCH))


class Custody:
    """The department keys this gateway signs with: certificates (EIP-712) and transactions."""

    def __init__(self, accounts: list[LocalAccount]) -> None:
        self._by_address = {account.address: account for account in accounts}
        self._sm2_keys: dict[ChecksumAddress, Sm2PrivateKey] = {}

    @classmethod
    def load(cls, chain: Chain, key_store: Path | None) -> Custody:
        """Keys from `key_store` (encrypted key files), or, without one, the development
        mnemonic's accounts the consortium registered (local chains only)."""
        if key_store is None:
            candidates = list(development_accounts())
        else:
            passphrase = passphrase_from_env()
            candidates = [load_keystore(path, passphrase) for path in sorted(key_store.glob("*.json"))]
        registered = {key for info in chain.departments() for key in info.keys}
        return cls([account for account in candidates if account.address in registered])

    @property
    def accounts(self) -> list[LocalAccount]:
        return list(self._by_address.values())

    @property
    def holds(self) -> set[ChecksumAddress]:
        return set(self._by_address)

    @property
    def development_keys(self) -> set[ChecksumAddress]:
        """Held keys that are the public development mnemonic's: anyone can sign with them."""
        return self.holds & {account.address for account in development_accounts()}

    def key_for(self, department: DepartmentInfo) -> LocalAccount:
        """The first of the department's current keys the gateway holds."""
        for key in department.keys:
            if key in self._by_address:
                return self._by_address[key]
        raise Forbidden(f"this gateway holds no signing key of department {department.code}",
                        department=department.code)

    def signing_key(self, department: DepartmentInfo, suite: CryptoSuite) -> IssuerKey:
        """The key that signs the department's certificates under `suite`: its account key (`key_for`), or
        under sm2-sm3 the SM2 key derived from a held account key (`department_sm2_key`) that the consortium
        lists as one of the department's current SM2 keys."""
        if suite is not SM2_SM3:
            return self.key_for(department)
        for address, account in self._by_address.items():
            if address not in self._sm2_keys:
                self._sm2_keys[address] = department_sm2_key(account.key)
            if "0x" + self._sm2_keys[address].key_id.hex() in department.sm2_keys:
                return self._sm2_keys[address]
        raise Forbidden(f"this gateway holds no SM2 key registered for department {department.code}",
                        department=department.code)

