"""The national e-certificate identifier (电子证照标识, GB/T 36904) a certificate carries as
`certificateIdentifier`:

    1.2.156.3005.2.<type>.<issuing department>.<serial>.<version>.<check character>

e.g. `1.2.156.3005.2.320100MZ001.11320100MB0000027A.000000000001.001.U`. The check character is ISO 7064
MOD 37,36 (python-stdnum) over the four segments between the root and it, concatenated without their dots.
The root, the segments' order, the dots and the check over the concatenation are what identifiers published
by the national platform's systems show (they check with this rule); the standard's own text was not
available. The bounds, the type segment of a CertNet catalog code and the serial's form when CertNet
generates one are CertNet's choices (docs/certificate-format.md, "Certificate identifier").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.cn import uscc
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_37_36

from gateway.errors import InvalidIdentifier

#: The OID arc every national e-certificate identifier starts with.
ROOT = "1.2.156.3005.2"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # MOD 37,36's characters, and the segments'
MAX_TYPE_SEGMENT = 32  # a CertNet type code is at most 32 characters (bytes32 on chain)
USCC_LENGTH = 18  # GB 32100
MAX_SERIAL_LENGTH = 32  # read: national serials vary in length and may hold letters
SERIAL_DIGITS = 12  # written: CertNet's serials are decimal, zero-padded
MAX_SERIAL = 10**SERIAL_DIGITS - 1
VERSION_DIGITS = 3
MAX_VERSION = 10**VERSION_DIGITS - 1
MAX_LENGTH = len(ROOT) + 1 + MAX_TYPE_SEGMENT + 1 + USCC_LENGTH + 1 + MAX_SERIAL_LENGTH + 1 + VERSION_DIGITS + 2
_FORM = re.compile(rf"{re.escape(ROOT)}\.([0-9A-Z]{{1,{MAX_TYPE_SEGMENT}}})\.([0-9A-Z]{{{USCC_LENGTH}}})"
                   rf"\.([0-9A-Z]{{1,{MAX_SERIAL_LENGTH}}})\.([0-9]{{{VERSION_DIGITS}}})\.([0-9A-Z])")
LAYOUT = (f"{ROOT}.<type: 1-{MAX_TYPE_SEGMENT} of 0-9A-Z>.<issuer: an {USCC_LENGTH}-character unified social "
          f"credit code>.<serial: 1-{MAX_SERIAL_LENGTH} of 0-9A-Z>.<version: {VERSION_DIGITS} digits, from 001>"
          ".<ISO 7064 MOD 37,36 check character>")


@dataclass(frozen=True)
class CertificateIdentifier:
    type_segment: str
    issuer: str  # the issuing department's unified social credit code
    serial: str
    version: int

    @property
    def check_character(self) -> str:
        return mod_37_36.calc_check_digit(self.type_segment + self.issuer + self.serial + self._version_text)

    @property
    def _version_text(self) -> str:
        return f"{self.version:0{VERSION_DIGITS}d}"

    @property
    def versions_prefix(self) -> str:
        """What every version of this certificate's identifier starts with."""
        return ".".join((ROOT, self.type_segment, self.issuer, self.serial)) + "."

    def __str__(self) -> str:
        return f"{self.versions_prefix}{self._version_text}.{self.check_character}"

    def next_version(self) -> CertificateIdentifier | None:
        """The same certificate's identifier one version on (a superseding successor's); None past the last."""
        if self.version == MAX_VERSION:
            return None
        return CertificateIdentifier(self.type_segment, self.issuer, self.serial, self.version + 1)

    @classmethod
    def parse(cls, text: object) -> CertificateIdentifier:
        """The identifier `text` spells; `InvalidIdentifier` saying what is wrong with it otherwise."""
        if not isinstance(text, str) or len(text) > MAX_LENGTH:
            raise InvalidIdentifier(f"a certificate identifier is a string of at most {MAX_LENGTH} characters")
        form = _FORM.fullmatch(text)
        if form is None:
            raise InvalidIdentifier(f"not a certificate identifier ({LAYOUT}): {text!r}", identifier=text)
        type_segment, issuer, serial, version, check = form.groups()
        if int(version) == 0:
            raise InvalidIdentifier(f"the version of {text!r} is 000; versions start at 001", identifier=text)
        if not is_uscc(issuer):
            raise InvalidIdentifier(f"the issuer segment of {text!r} is not a valid unified social credit code "
                                    "(GB 32100)", identifier=text)
        identifier = cls(type_segment, issuer, serial, int(version))
        if identifier.check_character != check:
            raise InvalidIdentifier(f"wrong check character in {text!r}: ISO 7064 MOD 37,36 gives "
                                    f"{identifier.check_character!r}", identifier=text)
        return identifier


def type_segment(type_code: str) -> str:
    """The identifier's type segment for a CertNet catalog type code: its letters and digits, upper-cased
    (`320100-MZ-001` -> `320100MZ001`). Two codes differing only in other characters share a segment:
    serials are counted per segment, so their identifiers still differ."""
    segment = "".join(character for character in type_code.upper() if character in ALPHABET)
    if not segment:
        raise InvalidIdentifier(f"the type code {type_code!r} has no letter or digit to name it in an identifier")
    return segment


def is_uscc(code: str) -> bool:
    """Whether `code` is a valid unified social credit code (GB 32100), as written: 18 characters, upper case."""
    try:
        return uscc.validate(code) == code
    except ValidationError:
        return False


def check_issuer(department_code: str) -> None:
    """`InvalidIdentifier` unless the department's code can name it in an identifier (a unified social credit code)."""
    if not is_uscc(department_code):
        raise InvalidIdentifier(f"the issuing department's code {department_code!r} is not a unified social credit "
                                "code (GB 32100), which a certificate identifier names")


def new_identifier(type_code: str, issuer: str, serial: int) -> CertificateIdentifier:
    """A first version's identifier: `serial` (1 to `MAX_SERIAL`) of the `issuer` department (a unified
    social credit code) for the type `type_code`."""
    if not 1 <= serial <= MAX_SERIAL:
        raise InvalidIdentifier(f"a serial is 1 to {MAX_SERIAL}, not {serial}")
    check_issuer(issuer)
    return CertificateIdentifier(type_segment(type_code), issuer, f"{serial:0{SERIAL_DIGITS}d}", 1)
