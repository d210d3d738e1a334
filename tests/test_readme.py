"""The README's walkthrough, run as a new user runs it: as written, in bash, against `make run`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CertnetRun

README = Path(__file__).parents[1] / "README.md"
#: The sections whose shell blocks the walkthrough is; the block that sets up its shell comes first.
SETUP_SECTION = "The chain side from the command line"
WALKTHROUGH_SECTIONS = ("Certificates from the command line", "The gateway over HTTP")


def walkthrough(gateway_port: int) -> str:
    sections = {part.split("\n", 1)[0]: part for part in README.read_text(encoding="utf-8").split("\n## ")}
    blocks = [re.findall(r"```sh\n(.*?)```", sections[name], re.S) for name in (SETUP_SECTION, *WALKTHROUGH_SECTIONS)]
    setup, *steps = [blocks[0][0], *(block for section in blocks[1:] for block in section)]
    assert "mkdir -p walkthrough && cd walkthrough" in setup
    return "set -euo pipefail\n" + "\n".join([setup, *steps]).replace("127.0.0.1:8000", f"127.0.0.1:{gateway_port}")


@pytest.mark.slow
def test_the_readme_walkthrough_runs_as_written_and_writes_only_into_its_directory(certnet_run: CertnetRun) -> None:
    result = subprocess.run(["bash", "-c", walkthrough(certnet_run.gateway_port)], cwd=certnet_run.root,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "access log intact" in result.stdout
    assert sorted(p.name for p in certnet_run.root.iterdir()) == [".certnet", ".venv", "walkthrough"]
    assert (certnet_run.root / "walkthrough" / "holder-key.pem").exists()
