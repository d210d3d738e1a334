"""The gateway's log output: one JSON object per line on stderr (or plain text for a person at a
terminal), every record with the id of the request it was written for, and one access line per
request (`gateway.access`) with method, route template, status and duration — never the raw path or
query, never the client's address: no personal data in logs (ID numbers that still reach a message
or a traceback are redacted by `gateway.api.log_privacy`).

The request id is `RequestGuard`'s (gateway/api/errors.py); it travels in a context variable, which
anyio copies into the worker threads that run the routes."""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

from gateway.api.log_privacy import IdentityRedactor, redact_identities

LogFormat = Literal["json", "text"]

#: The id of the request the current task or thread works for; None outside requests.
REQUEST_ID: ContextVar[str | None] = ContextVar("certnet_request_id", default=None)
#: An id a client or load balancer sends in X-Request-Id is kept when it is a short token of these
#: characters (UUIDs, hex, ULIDs, `Root=...`-free trace ids); anything else gets an id of the gateway's own.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")

access_log = logging.getLogger("gateway.access")


def sane_request_id(candidate: str | None) -> str | None:
    """`candidate` when it may serve as the request id in headers, bodies and logs, else None: bounded,
    a plain token, and no identity in it (a client could put an ID number there)."""
    if candidate is None or not _SANE_REQUEST_ID.fullmatch(candidate):
        return None
    return candidate if redact_identities(candidate) == candidate else None


def log_request(*, method: str, route: str, status: int, seconds: float, request_id: str | None) -> None:
    """The access line of one answered request."""
    access_log.info("%s %s %d %.1f ms", method, route, status, seconds * 1000,
                    extra={"method": method, "route": route, "status": status,
                           "durationMs": round(seconds * 1000, 3), "requestId": request_id})


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (`requestId`), unless the record names its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "requestId", None) is None:
            record.requestId = REQUEST_ID.get()
        return True


class JsonLines(JsonFormatter):
    """python-json-logger's formatter with tracebacks and stacks redacted: it formats them anew from the
    exception, past what `IdentityRedactor` redacted on the record."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return redact_identities(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return redact_identities(super().formatStack(stack_info))


def logging_config(log_format: LogFormat, level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` (what uvicorn's `log_config` takes): every logger, uvicorn's too,
    writes through one stderr handler that adds the request id and redacts identities. uvicorn's own
    access log stays off (`access_log=False`): it would write raw paths."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}, "redact": {"()": IdentityRedactor}},
        "formatters": {
            "json": {"()": JsonLines, "fmt": "%(levelname)s %(name)s %(message)s", "timestamp": "time",  # ISO, UTC
                     "rename_fields": {"levelname": "level", "name": "logger"}},
            "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(requestId)s] %(message)s"},
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": log_format, "filters": ["request_id", "redact"]}},
        "loggers": {name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error")},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
    }
