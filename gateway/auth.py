"""Who is asking: a department, proven by a signature of one of its registered keys over the
request, or (for development, when `Settings.dev_tokens_enabled`) by one of its API tokens. Roles
and status come from the consortium contract, never from the request.

Signed requests carry three headers:

    X-CertNet-Timestamp: <unix seconds>
    X-CertNet-Nonce:     <16 to 128 characters, fresh per request>
    X-CertNet-Signature: <0x EIP-191 personal signature of `signing_payload(...)`>

The payload binds method, path with query, the SHA-256 of the body, timestamp and nonce, so a
signature is good for one request only: a nonce seen before is a replay, a timestamp further
than `signature_max_age_seconds` from the gateway's clock is stale.

The auditor console's sign-in links (`certnet console login`) are signed the same way, over a challenge
instead of a request: the department, an expiry and a random nonce (`sign_in_token`). The gateway takes
one once (its nonce joins the request nonces) and only before it expires (`Authenticator.by_sign_in_token`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from gateway.chain import Chain
from gateway.db import ApiToken, RequestNonce
from gateway.errors import TokensDisabled, Unauthenticated

TIMESTAMP_HEADER = "X-CertNet-Timestamp"
NONCE_HEADER = "X-CertNet-Nonce"
SIGNATURE_HEADER = "X-CertNet-Signature"
TOKEN_PREFIX = "cnt_"
TOKENS_DISABLED = ("API tokens are for development and off on this gateway (production, or CERTNET_DEV_TOKENS=false): "
                   "sign the request with a key of the department (docs/gateway.md)")
#: Unix seconds in ASCII digits, at most 12 of them (beyond year 33 000): `str.isdigit` would take
#: superscript and Arabic-Indic digits, and `int` of thousands of digits fails.
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
#: How long a sign-in link of `certnet console login` lasts; the gateway refuses links that claim to last
#: longer than twice its `signature_max_age_seconds` (the time it remembers their nonces).
SIGN_IN_SECONDS = 300
#: A sign-in token is a few hundred characters; anything much longer is not one (checked before decoding).
MAX_SIGN_IN_TOKEN = 1024


@dataclass(frozen=True)
class Caller:
    """An authenticated department; its roles and status are checked where an endpoint needs them
    (`gateway.api.deps.requires`), from the consortium."""

    department: str
    credential: str  # "signature", "token", or the web console's "sign-in link" and "console session"


def signing_payload(method: str, path: str, body: bytes, timestamp: str, nonce: str) -> bytes:
    return "\n".join(["CERTNET-REQUEST-V1", method.upper(), path, hashlib.sha256(body).hexdigest(), timestamp,
                      nonce]).encode()


def signed_headers(account: LocalAccount, method: str, path: str, body: bytes = b"", *,
                   timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """The headers a department's client adds to sign a request (what `certnet` and tests use)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    message = encode_defunct(signing_payload(method, path, body, stamp, nonce))
    signature = account.sign_message(message).signature.to_0x_hex()
    return {TIMESTAMP_HEADER: stamp, NONCE_HEADER: nonce, SIGNATURE_HEADER: signature}


def sign_in_payload(department: str, expires: int, nonce: str) -> bytes:
    return "\n".join(["CERTNET-CONSOLE-SIGN-IN-V1", department, str(expires), nonce]).encode()


def sign_in_token(account: LocalAccount, department: str, *, expires: int | None = None,
                  nonce: str | None = None) -> str:
    """A console sign-in token of `department` signed by `account` (one of its keys): the challenge as
    base64url JSON, a dot, the EIP-191 signature of `sign_in_payload`. Lasts SIGN_IN_SECONDS by default."""
    expires = int(time.time()) + SIGN_IN_SECONDS if expires is None else expires
    nonce = nonce or secrets.token_hex(16)
    challenge = json.dumps({"department": department, "expires": expires, "nonce": nonce}, separators=(",", ":"))
    signature = account.sign_message(encode_defunct(sign_in_payload(department, expires, nonce))).signature
    return base64.urlsafe_b64encode(challenge.encode()).decode().rstrip("=") + "." + signature.to_0x_hex()


def presents_credentials(headers: Mapping[str, str]) -> bool:
    """Whether a request carries credentials at all, an API token or a signature (header names in
    lower case, as ASGI gives them): the API answers one without them without a thread."""
    return bool(headers.get("authorization")) or SIGNATURE_HEADER.lower() in headers


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(sessions: sessionmaker, chain: Chain, department: str, label: str = "") -> str:
    """Stores a new token of `department` (which must exist) and returns it; only its hash is kept."""
    chain.department(department)
    token = new_token()
    with sessions.begin() as session:
        session.add(ApiToken(department=department, token_hash=token_digest(token), label=label))
    return token


class Authenticator:
    def __init__(self, chain: Chain, sessions: sessionmaker, *, max_age_seconds: int, tokens_enabled: bool) -> None:
        self.chain = chain
        self.sessions = sessions
        self.max_age = max_age_seconds
        self.tokens_enabled = tokens_enabled

    def issue_token(self, department: str, label: str = "") -> str:
        """A new API token of `department` (`create_token`), if this gateway accepts tokens."""
        if not self.tokens_enabled:
            raise TokensDisabled(TOKENS_DISABLED)
        return create_token(self.sessions, self.chain, department, label)

    def authenticate(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Caller | None:
        """The caller, None when the request carries no credentials at all; `Unauthenticated`
        when it carries bad ones."""
        if not presents_credentials(headers):
            return None
        authorization = headers.get("authorization", "")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise Unauthenticated("the Authorization header must be `Bearer <token>`")
            return self._by_token(token.strip())
        return self._by_signature(method, path, body, headers)

    def _by_token(self, token: str) -> Caller:
        if not self.tokens_enabled:
            raise TokensDisabled(TOKENS_DISABLED)
        with self.sessions() as session:
            record = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
        if record is None or record.revoked_at is not None:
            raise Unauthenticated("unknown or revoked API token")
        return Caller(record.department, "token")

    def _by_signature(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Caller:
        stamp = headers.get(TIMESTAMP_HEADER.lower(), "")
        nonce = headers.get(NONCE_HEADER.lower(), "")
        if not _UNIX_SECONDS.fullmatch(stamp):
            raise Unauthenticated(f"{TIMESTAMP_HEADER} must be unix seconds (ASCII digits)")
        if not 16 <= len(nonce) <= 128:
            raise Unauthenticated(f"{NONCE_HEADER} must be 16 to 128 characters")
        skew = abs(time.time() - int(stamp))
        if skew > self.max_age:
            raise Unauthenticated(f"the request's timestamp is {skew:.0f} s from the gateway's clock "
                                  f"(at most {self.max_age} s)", skew_seconds=int(skew))
        try:
            signer = Account.recover_message(encode_defunct(signing_payload(method, path, body, stamp, nonce)),
                                             signature=headers[SIGNATURE_HEADER.lower()])
        except Exception:  # eth-account raises several types for malformed signatures
            raise Unauthenticated(f"{SIGNATURE_HEADER} is not a valid signature") from None
        department = self.chain.department_of_key(signer)
        if department is None:
            raise Unauthenticated(f"{signer} is not a current key of any department", signer=signer)
        self._remember_nonce(signer, nonce)
        return Caller(department, "signature")

    def by_sign_in_token(self, token: str) -> Caller:
        """The department a console sign-in token (`sign_in_token`) names, when it has not expired, is signed
        by a current key of that department and was not used before (its nonce is then used up);
        `Unauthenticated`, saying which, otherwise. The role is the console's to check."""
        department, expires, nonce, signature = self._sign_in_challenge(token)
        now = time.time()
        if expires <= now:
            raise Unauthenticated("this sign-in link has expired: make a new one with `certnet console login`")
        if expires > now + 2 * self.max_age:
            raise Unauthenticated(f"this sign-in link claims to last more than {2 * self.max_age} s; make a new one")
        try:
            signer = Account.recover_message(encode_defunct(sign_in_payload(department, expires, nonce)),
                                             signature=signature)
        except Exception:  # eth-account raises several types for malformed signatures
            raise Unauthenticated("the sign-in link's signature is not valid") from None
        if self.chain.department_of_key(signer) != department:
            raise Unauthenticated(f"the sign-in link is signed by {signer}, which is not a current key of department "
                                  f"{department}", signer=signer)
        self._remember_nonce(signer, nonce, "this sign-in link was used before: each link signs in once")
        return Caller(department, "sign-in link")

    @staticmethod
    def _sign_in_challenge(token: str) -> tuple[str, int, str, str]:
        """The department, expiry, nonce and signature of a sign-in token; `Unauthenticated` for anything else."""
        malformed = Unauthenticated("this is not a sign-in link of `certnet console login` (copy the whole link)")
        encoded, _, signature = token.strip().partition(".")
        if len(token) > MAX_SIGN_IN_TOKEN or not signature:
            raise malformed
        try:
            challenge = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            department, expires, nonce = challenge["department"], challenge["expires"], challenge["nonce"]
        except (binascii.Error, ValueError, TypeError, KeyError):
            raise malformed from None
        if not (isinstance(department, str) and isinstance(expires, int) and isinstance(nonce, str)
                and 16 <= len(nonce) <= 128):
            raise malformed
        return department, expires, nonce, signature

    def _remember_nonce(self, signer: str, nonce: str,
                        replay: str = "this request's nonce was used before (replay)") -> None:
        now = time.time()
        try:
            with self.sessions.begin() as session:
                session.execute(delete(RequestNonce).where(RequestNonce.seen_at < now - 2 * self.max_age))
                session.add(RequestNonce(signer=signer, nonce=nonce, seen_at=now))
        except IntegrityError:
            raise Unauthenticated(replay) from None
