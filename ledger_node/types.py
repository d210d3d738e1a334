"""Domain types of the chain side, so that signatures say what a bytes32 means."""

from __future__ import annotations

from enum import IntEnum, IntFlag
from functools import lru_cache
from typing import NewType

from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

#: Chain ids of local development chains: ganache (1337), anvil and hardhat (31337), the embedded
#: eth-tester chain. Any other chain is treated as production: development keys and secrets are refused.
DEVELOPMENT_CHAIN_IDS = frozenset({1337, 31337, 131277322940537})

DepartmentCode = NewType("DepartmentCode", bytes)
TypeCode = NewType("TypeCode", bytes)
CertificateHash = NewType("CertificateHash", bytes)


class Role(IntFlag):
    """Department roles; the bit values match `contracts/Common.sol`."""

    ISSUER = 1 << 0
    RELYING_PARTY = 1 << 1
    AUDITOR = 1 << 2
    GOVERNOR = 1 << 3
    LOG_OPERATOR = 1 << 4
    HOLDER_CHANNEL = 1 << 5


class DepartmentStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
    REMOVED = 3


class TypeStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    DEPRECATED = 2


class CertificateStatus(IntEnum):
    UNKNOWN = 0
    VALID = 1
    EXPIRED = 2
    REVOKED = 3
    SUPERSEDED = 4


#: Revocation reason codes (contracts/Common.sol), as the registry records them.
REVOCATION_REASONS = {0: "unspecified", 1: "issued in error", 2: "holder request", 3: "holder no longer eligible",
                      4: "superseded"}
#: The reasons `CertificateRegistry.revoke` takes: superseded is recorded only by `supersede`, with the successor.
REVOKE_REASONS = {code: name for code, name in REVOCATION_REASONS.items() if name != "superseded"}

#: The crypto suites a consortium can be deployed under, by their on-chain code (`Consortium.cryptoSuite`, the
#: SUITE_* constants of contracts/Common.sol); `gateway.certificates.suites` defines what each means.
CRYPTO_SUITES = ("secp256k1-keccak", "sm2-sm3")

#: How long the proposals the chain-side tools make stay open (seconds); the Consortium allows at
#: most 30 days (Common.sol MAX_PROPOSAL_LIFETIME). Bootstrap's proposals pass within minutes.
PROPOSAL_LIFETIME = 7 * 24 * 3600

#: The access log id a gateway checkpoints under unless told otherwise (CERTNET_ACCESS_LOG_ID); the
#: demo consortium registers it for its log-operator department.
DEFAULT_ACCESS_LOG_ID = "certnet-gateway-access-log"


def code32(text: str) -> bytes:
    """A short ASCII code (department code, type code, service item) as a right-padded bytes32."""
    raw = text.encode("ascii")
    if not raw or len(raw) > 32:
        raise ValueError(f"code must be 1 to 32 ASCII characters: {text!r}")
    return raw.ljust(32, b"\0")


def issuance_terms(type_id: int, valid_until: int) -> int:
    """The `terms` word of `CertificateRegistry.issue` and `anchorBatch`: the type's id (`Catalog.certificateType`)
    in the low 32 bits and the end of validity (unix seconds, 0: no end) in the next 40."""
    if not 0 <= type_id < 2**32 or not 0 <= valid_until < 2**40:
        raise ValueError(f"type id {type_id} or validUntil {valid_until} out of range (uint32, uint40)")
    return type_id | valid_until << 32


@lru_cache(maxsize=4096)
def checksum_address(address: str | bytes) -> ChecksumAddress:
    """`address` in its EIP-55 form (ValueError when it is not an address), remembered: a certificate's
    signer and registry recur on every verification, and each conversion costs a keccak and a loop."""
    return to_checksum_address(address)
