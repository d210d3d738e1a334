"""The JSON-LD contexts a certificate names, shipped with the package so that a verifier expands a
document offline: the W3C VC 2.0 context (W3C Software and Document License, see
contexts/credentials-v2.LICENSE.md) and CertNet's, which the gateway also serves (`GET /ns/certificate/v1`).

CertNet's context defines every term outside the subject; a subject's field names are its type's
schema's (registered on chain, so not listable here) and expand under the context's `@vocab`,
`SUBJECT_VOCABULARY`."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from gateway.certificates.document import CERTNET_CONTEXT_PATH, VC_CONTEXT

SUBJECT_VOCABULARY = "https://certnet.example/ns/certificate/v1/subject#"
MEDIA_TYPE = "application/ld+json"
_FOLDER = files("gateway.certificates").joinpath("contexts")


def shipped_context_files(context: list[str]) -> dict[str, Path]:
    """The shipped file of each URL of a document's `@context` (CertNet's context under whatever base
    URL its issuing gateway published it), for a JSON-LD document loader; other URLs are left out."""
    shipped = {}
    for url in context:
        if url == VC_CONTEXT:
            shipped[url] = Path(str(_FOLDER.joinpath("credentials-v2.jsonld")))
        elif url.endswith(CERTNET_CONTEXT_PATH):
            shipped[url] = Path(str(_FOLDER.joinpath("certnet-certificate-v1.jsonld")))
    return shipped


@cache
def certnet_context() -> bytes:
    """CertNet's context document, as served."""
    return _FOLDER.joinpath("certnet-certificate-v1.jsonld").read_bytes()
