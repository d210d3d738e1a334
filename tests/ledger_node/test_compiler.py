"""The shipped artifacts match the sources, and compiling them again gives the same bytecode."""

from __future__ import annotations

import json

import pytest

from ledger_node import compiler
from ledger_node.artifacts import load_artifact
from ledger_node.errors import ArtifactsStale


def test_shipped_artifacts_are_fresh() -> None:
    compiler.check_artifacts()


def test_a_changed_source_makes_the_artifacts_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    sources = compiler.source_files()
    first = next(iter(sources))
    monkeypatch.setattr(compiler, "source_files", lambda: {**sources, first: sources[first] + "\n// edited\n"})
    with pytest.raises(ArtifactsStale):
        compiler.check_artifacts()


def test_recompiling_reproduces_the_shipped_bytecode() -> None:
    for name, artifact in compiler.compile_contracts().items():
        shipped = load_artifact(name)
        assert artifact["bytecode"] == shipped["bytecode"], f"{name} bytecode differs from the shipped artifact"
        assert artifact["abi"] == shipped["abi"]


def test_build_info_records_the_pinned_compiler() -> None:
    info = json.loads(compiler.BUILD_INFO.read_text())
    assert info["solc"] == compiler.pinned_versions()["solc"]
    assert info["settings"] == compiler.SETTINGS
