"""CertNet's JSON-LD context, at the path its documents name under `CERTNET_CONTEXT_BASE_URL`, so that
JSON-LD tools resolve it from the gateway (the same file ships in the package for offline use)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gateway.certificates.document import CERTNET_CONTEXT_PATH
from gateway.certificates.jsonld_contexts import MEDIA_TYPE, certnet_context

router = APIRouter()


@router.get(CERTNET_CONTEXT_PATH, summary="CertNet's JSON-LD context for certificate documents (public)",
            response_class=Response, responses={200: {"content": {MEDIA_TYPE: {}}}})
def certificate_context() -> Response:
    # Cacheable for a day: the context of a version never changes, a new one gets a new path. Readable
    # cross-origin: JSON-LD tools in a browser (a verifier page on another site) fetch it.
    return Response(certnet_context(), media_type=MEDIA_TYPE, headers={"Cache-Control": "public, max-age=86400",
                                                                         "Access-Control-Allow-Origin": "*"})
