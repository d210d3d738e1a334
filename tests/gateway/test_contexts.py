"""CertNet's JSON-LD context served by the gateway, at the path documents name."""

from __future__ import annotations

import pytest

from gateway.certificates.jsonld_contexts import certnet_context

from tests.conftest import GatewayProcess

pytestmark = pytest.mark.slow


def test_the_gateway_serves_the_shipped_context_as_json_ld(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.get("/ns/certificate/v1")
    assert (response.status_code, response.headers["content-type"], response.content) == \
        (200, "application/ld+json", certnet_context())
