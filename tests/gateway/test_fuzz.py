"""Schema-driven fuzzing: schemathesis (its command line, as an outside tester runs it) generates
requests from the OpenAPI a real gateway process serves, on a devnet of its own, and sends them
over HTTP anonymously, as an issuer and as an auditor. Any 5xx fails the run, and so does a
response that breaks its own OpenAPI: an undocumented status, another content type, or a body
outside the documented schema (every error is `ErrorBody`). Bounded by `EXAMPLES` per operation
and a fixed seed, so that it fits the suite's time and a failure reproduces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GatewayProcess

pytestmark = pytest.mark.slow

EXAMPLES = 10
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.mark.parametrize("department", [None, "MZ", "SJ"], ids=["anonymous", "issuer", "auditor"])
def test_no_generated_request_gets_a_5xx_or_breaks_the_openapi(own_gateway: GatewayProcess, department: str | None,
                                                               tmp_path: Path) -> None:
    credentials = ["-H", f"Authorization:{own_gateway.auth(department)['Authorization']}"] if department else []
    run = subprocess.run(
        [str(Path(sys.executable).with_name("schemathesis")), "run", f"{own_gateway.client.base_url}/openapi.json",
         "--checks", CHECKS, "--max-examples", str(EXAMPLES), "--seed", "13", "--workers", "1",
         "--phases", "examples,coverage,fuzzing", "--generation-database", "none", "--request-timeout", "60",
         *credentials],
        capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-2_000:]
