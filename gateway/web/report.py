"""A verification report as the result page shows it: the verdict a reader acts on, and the facts
the checks and the document carry (issuer, type, dates, anchoring, revocation, successor, contents)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol

from gateway.certificates import document as doc
from gateway.certificates.verification import Check, Report, Verdict
from gateway.errors import GatewayError

class Names(Protocol):
    """The names the chain registered departments and certificate types under; None where it cannot say."""

    def department(self, code: str) -> str | None: ...

    def type(self, code: str) -> str | None: ...


#: What a reader is told: a report whose checks could not all run (chain or index not answering,
#: verified offline) is "could not be checked", never "invalid".
Shown = Literal["valid", "invalid", "unchecked"]
SHOWN: dict[Verdict, Shown] = {Verdict.VALID: "valid", Verdict.INVALID: "invalid", Verdict.ERROR: "unchecked",
                               Verdict.INCOMPLETE: "unchecked"}


@dataclass
class ReportSummary:
    verdict: Shown
    certificate_hash: str | None
    checks: list[Check]
    certificate_identifier: str | None = None  # well-formed: the document's format check passed
    issuer_code: str | None = None
    issuer_name: str | None = None  # from the chain, never from the document
    type_code: str | None = None
    type_name: str | None = None  # from the catalog's registration on the chain, never from the document
    type_version: int | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    anchored_at: str | None = None
    anchored_block: int | None = None
    revoked_at: str | None = None
    revocation_reason: int | None = None
    superseded_by: str | None = None
    contents: list[tuple[str, str, str]] = field(default_factory=list)  # (field name, label, value)
    withheld: int = 0
    changed_fields: list[str] = field(default_factory=list)  # labels of the fields that differ from what was signed

    @classmethod
    def of(cls, report: Report, document: dict[str, Any], names: Names, label: Callable[[str], str]) -> ReportSummary:
        """`names` looks departments' and types' registered names up; `label` names a document field (a metadata
        field, or `credentialSubject.<name>`) for the reader."""
        summary = cls(SHOWN[report.verdict], report.certificate_hash, report.checks, report.certificate_identifier)
        details = {check.name: check.details for check in report.checks}
        summary.changed_fields = [label(path) for path in details.get("integrity", {}).get("changedFields", [])]
        summary.anchored_at = details.get("anchored", {}).get("issuedAt")
        summary.anchored_block = details.get("anchored", {}).get("issuedBlock")
        summary.revoked_at = details.get("not_revoked", {}).get("revokedAt")
        summary.revocation_reason = details.get("not_revoked", {}).get("reason")
        summary.superseded_by = details.get("not_superseded", {}).get("supersededBy")
        try:
            doc.check_shape(document)
        except GatewayError:
            return summary  # not a certificate: the report's integrity check says why
        summary.issuer_code, summary.type_code = doc.issuer_code(document), doc.type_code(document)
        summary.issuer_name, summary.type_name = names.department(summary.issuer_code), names.type(summary.type_code)
        summary.type_version = doc.type_version(document)
        summary.valid_from, summary.valid_until = document["validFrom"], document.get("validUntil")
        summary.contents = [(name, label(f"{doc.SUBJECT}.{name}"),
                             value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
                            for name, value in document["credentialSubject"].items()]
        summary.withheld = len(document["proof"]["redactedFields"])
        return summary
