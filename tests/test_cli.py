"""The `certnet` command line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from ledger_node import compiler

runner = CliRunner()


def test_contracts_check_passes_on_fresh_artifacts() -> None:
    result = runner.invoke(app, ["contracts", "check"])
    assert result.exit_code == 0, result.output


def test_contracts_check_fails_with_one_line_when_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiler, "source_hash", lambda: "0" * 64)
    result = runner.invoke(app, ["contracts", "check"])
    assert result.exit_code == 1
    assert "artifacts_stale" in result.output and len(result.output.strip().splitlines()) == 1
