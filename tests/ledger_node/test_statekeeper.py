"""anvil's state file is replaced whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledger_node import statekeeper


def test_a_save_cut_short_leaves_the_previous_state_whole(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    state.write_bytes(b'{"best_block_number": 7}')

    def killed(_fd: int) -> None:  # the process dies after writing part of the new state, before it is on disk
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        statekeeper.write_atomically(state, b'{"best_block_number": 8, "blocks": [' + b"0," * 100_000 + b"0]}")

    assert state.read_bytes() == b'{"best_block_number": 7}'
