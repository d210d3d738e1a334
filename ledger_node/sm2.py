"""SM2 keys and signatures and SM3 (the sm2-sm3 crypto suite's primitives), from Tongsuo (`tongsuopy`).

Here rather than in `gateway.certificates.suites` because the chain side registers the departments' SM2
keys (`ledger_node.bootstrap`) and imports point from the gateway to the chain side only.
"""

from __future__ import annotations

from typing import Any, Callable

from ecdsa.util import sigdecode_der, sigencode_strings
from eth_hash.auto import keccak
from tongsuopy.crypto import hashes, serialization
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.asymciphers.utils import encode_dss_signature
from tongsuopy.crypto.exceptions import InvalidSignature, UnsupportedAlgorithm

from ledger_node.errors import LedgerError


class Sm2KeyError(LedgerError, ValueError):
    """Bytes that are not an SM2 key."""

    code = "invalid_sm2_key"


#: The order n of the SM2 recommended curve (GB/T 32918.5).
SM2_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
SM2_PUBLIC_KEY_BYTES = 64  # x || y, each 32 bytes big-endian (the uncompressed point without its 0x04)
SM2_SIGNATURE_BYTES = 64  # r || s


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def sm2_key_id(public_key: bytes) -> bytes:
    """The id the consortium registers an SM2 key under: keccak-256 of its 64 public-key bytes (the EVM
    has keccak, not SM3, and the contract derives the id itself so it always matches the key)."""
    return keccak(public_key)


class Sm2PrivateKey:
    """A department's or holder's SM2 private key (Tongsuo)."""

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        return cls(ec.generate_private_key(ec.SM2()))

    @classmethod
    def from_secret(cls, secret: bytes) -> Sm2PrivateKey:
        """The key whose scalar is derived from 32+ secret bytes: SM3 of them, reduced into [1, n-1]."""
        return cls(ec.derive_private_key(int.from_bytes(sm3(b"CertNet SM2 key\0" + secret), "big")
                                         % (SM2_ORDER - 1) + 1, ec.SM2()))

    @classmethod
    def from_pem(cls, pem: bytes) -> Sm2PrivateKey:
        """`Sm2KeyError` when `pem` is not an unencrypted SM2 private key."""
        return cls(_sm2_from_pem(lambda: serialization.load_pem_private_key(pem, password=None),
                                 ec.EllipticCurvePrivateKey, "private"))

    def to_pem(self) -> bytes:
        return self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())

    @property
    def public_key(self) -> bytes:
        """x || y, 64 bytes."""
        return self._key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)[1:]

    @property
    def key_id(self) -> bytes:
        return sm2_key_id(self.public_key)

    def verifying_key(self) -> Sm2PublicKey:
        return Sm2PublicKey(self._key.public_key())

    def sign(self, message: bytes) -> bytes:
        """r || s of the SM2 signature of `message`: e = SM3(Z_A || message), Z_A with the default user ID."""
        der = self._key.sign(message, ec.ECDSA(hashes.SM3()))
        r, s = sigdecode_der(der, SM2_ORDER)
        return b"".join(sigencode_strings(r, s, SM2_ORDER))


class Sm2PublicKey:
    """An SM2 public key, read from its 64 bytes x || y or from PEM (SubjectPublicKeyInfo, curve SM2)."""

    def __init__(self, key: ec.EllipticCurvePublicKey) -> None:
        self._key = key

    @classmethod
    def from_bytes(cls, public_key: bytes) -> Sm2PublicKey:
        """`Sm2KeyError` when the bytes are not a point of the SM2 curve."""
        if len(public_key) != SM2_PUBLIC_KEY_BYTES:
            raise Sm2KeyError(f"an SM2 public key is {SM2_PUBLIC_KEY_BYTES} bytes x || y, got {len(public_key)}")
        try:
            return cls(ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), b"\x04" + public_key))
        except ValueError as error:
            raise Sm2KeyError(f"not a point of the SM2 curve: {error}") from None

    @classmethod
    def from_pem(cls, pem: bytes) -> Sm2PublicKey:
        """`Sm2KeyError` when `pem` is not an SM2 public key."""
        return cls(_sm2_from_pem(lambda: serialization.load_pem_public_key(pem), ec.EllipticCurvePublicKey, "public"))

    def to_pem(self) -> bytes:
        return self._key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def to_der(self) -> bytes:
        return self._key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` (r || s) is an SM2 signature of `message` by this key (default user ID)."""
        if len(signature) != SM2_SIGNATURE_BYTES:
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        if not (0 < r < SM2_ORDER and 0 < s < SM2_ORDER):
            return False
        try:
            self._key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SM3()))
        except InvalidSignature:
            return False
        return True


def _sm2_from_pem(load: Callable[[], Any], kind: type, what: str) -> Any:
    """The SM2 key `load` reads from PEM, or `Sm2KeyError` saying why it is not one (`what`: private, public)."""
    try:
        key = load()
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:  # Tongsuo knows the SM2 curve only
        raise Sm2KeyError(f"not a PEM {what} key: {error}") from None
    if not isinstance(key, kind) or key.curve.name != ec.SM2.name:
        raise Sm2KeyError(f"not an SM2 {what} key")
    return key


def sm2_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` (r || s) is an SM2 signature of `message` by the 64-byte `public_key`."""
    try:
        return Sm2PublicKey.from_bytes(public_key).verify(message, signature)
    except Sm2KeyError:
        return False


def department_sm2_key(account_key: bytes) -> Sm2PrivateKey:
    """The SM2 key a department signs certificates with under sm2-sm3, derived from one of its account
    keys (the private key bytes): the key store that holds the account key holds the SM2 key with it,
    and rotating the account key rotates it too."""
    return Sm2PrivateKey.from_secret(bytes(account_key))
