"""Keeps ID numbers out of the gateway's own log output. No API path or query takes an identity,
but a client may still put one in a URL (uvicorn logs every request line) or in input that ends
up in an error's traceback; what the log handlers write has every `RIC:`/`USCC:` identity, every
bare valid citizen ID number and every bare valid credit code of a holder replaced by
`[redacted]`. Credit codes of state organs and institutions (registration authority 1, 机构编制)
are kept: they are the departments' own codes, in paths and filters everywhere."""

from __future__ import annotations

import logging
import re

from gateway.certificates.identity import validate_citizen_id, validate_credit_code
from gateway.errors import InvalidHolderId

_SCHEMED = re.compile(r"(?i)\b(RIC|USCC)(\s*(?::|%3A)\s*)[^\s&/?#\"']+")
_BARE_NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{18}(?![0-9A-Za-z])")
REDACTED = "[redacted]"


def _is_holder_number(text: str) -> bool:
    for validate in (validate_citizen_id, validate_credit_code):
        try:
            number = validate(text)
        except InvalidHolderId:
            continue
        return validate is validate_citizen_id or not number.startswith("1")
    return False


def redact_identities(text: str) -> str:
    redacted = _SCHEMED.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    return _BARE_NUMBER.sub(lambda m: REDACTED if _is_holder_number(m.group()) else m.group(), redacted)


class IdentityRedactor(logging.Filter):
    """Redacts a record's message, arguments and traceback text before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_identities(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_identities(a) if isinstance(a, str) else a for a in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_identities(record.exc_text)
        return True


def install() -> None:
    """Adds the redactor to the handlers of uvicorn's loggers and of the root logger, where every
    record of the gateway ends (run once logging is configured: uvicorn configures it on start)."""
    redactor = IdentityRedactor()
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", ""):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, IdentityRedactor) for f in handler.filters):
                handler.addFilter(redactor)
