"""Holder identities: citizen ID numbers (GB 11643) and unified social credit codes (GB 32100).

They are validated with python-stdnum and never leave the issuer in clear: a document carries a
keyed pseudonym, HMAC-SHA256 under the consortium's secret, which a department holding the secret
can recompute when a holder discloses their number, and which nobody else can reverse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import Enum

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from gateway.errors import InvalidHolderId

PSEUDONYM_PREFIX = "urn:certnet:holder:"
#: A holder as every request field that names one without their identity must spell it.
PSEUDONYM_PATTERN = "^" + PSEUDONYM_PREFIX + "[0-9a-f]{64}$"
_USCC_ALPHABET = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")
#: ASCII digits only: `str.isdigit` also takes Arabic-Indic, full-width and superscript digits.
_CITIZEN_ID = re.compile(r"[0-9]{17}[0-9X]")


class IdScheme(str, Enum):
    RIC = "RIC"  # 居民身份证号码, GB 11643
    USCC = "USCC"  # 统一社会信用代码, GB 32100


@dataclass(frozen=True)
class HolderId:
    """A validated identity number in its canonical spelling (upper case, no spaces)."""

    scheme: IdScheme
    number: str

    @classmethod
    def parse(cls, text: str) -> HolderId:
        """`RIC:<18 characters>` or `USCC:<18 characters>`; a bare 18-character number is read
        as a citizen ID when it is one and as a credit code otherwise."""
        scheme, sep, number = text.partition(":")
        if sep:
            try:
                known = IdScheme(scheme.strip().upper())
            except ValueError:
                raise InvalidHolderId(f"unknown identity scheme {scheme!r}: use RIC or USCC") from None
            return cls.of(known, number)
        try:
            return cls.of(IdScheme.RIC, text)
        except InvalidHolderId as as_citizen:
            try:
                return cls.of(IdScheme.USCC, text)
            except InvalidHolderId:
                raise as_citizen from None

    @classmethod
    def of(cls, scheme: IdScheme, number: str) -> HolderId:
        if scheme is IdScheme.RIC:
            return cls(scheme, validate_citizen_id(number))
        return cls(scheme, validate_credit_code(number))

    def __str__(self) -> str:
        return f"{self.scheme.value}:{self.number}"


def validate_citizen_id(number: str) -> str:
    """The canonical form of a GB 11643 citizen ID number, or an error naming what is wrong.

    A lower-case check character `x` is accepted and upper-cased, so that one person always gets
    one pseudonym.
    """
    compact = ric.compact(number)
    if len(compact) != 18:
        raise InvalidHolderId(f"citizen ID number must have 18 characters, got {len(compact)}", number=number)
    if not _CITIZEN_ID.fullmatch(compact):
        raise InvalidHolderId("citizen ID number must be 17 digits and a check character 0-9 or X, in ASCII",
                              number=number)
    try:
        birth = ric.get_birth_date(compact)
    except ValidationError:
        raise InvalidHolderId(f"citizen ID number has an impossible birth date {compact[6:14]}", number=number) from None
    if birth > dt.date.today():
        raise InvalidHolderId(f"citizen ID number has a birth date in the future {birth.isoformat()}", number=number)
    expected = ric.calc_check_digit(compact)
    if compact[17] != expected:
        raise InvalidHolderId(
            f"citizen ID number has check character {compact[17]}, expected {expected}", number=number)
    return compact


def validate_credit_code(code: str) -> str:
    """The canonical form of a GB 32100 unified social credit code, or an error naming what is wrong."""
    compact = uscc.compact(code)
    if len(compact) != 18:
        raise InvalidHolderId(f"unified social credit code must have 18 characters, got {len(compact)}", code=code)
    outside = sorted({c for c in compact if c not in _USCC_ALPHABET})
    if outside:
        raise InvalidHolderId(f"unified social credit code contains {''.join(outside)!r}, outside GB 32100's "
                              "alphabet (digits and upper-case letters except I, O, Z, S, V)", code=code)
    expected = uscc.calc_check_digit(compact)
    if compact[17] != expected:
        raise InvalidHolderId(
            f"unified social credit code has check character {compact[17]}, expected {expected}", code=code)
    return compact


def pseudonym(secret: bytes, holder: HolderId) -> str:
    """The holder's keyed pseudonym as it appears in documents (`credentialSubject.id`)."""
    digest = hmac.new(secret, str(holder).encode("ascii"), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest
