"""Local engines: a clear error instead of talking to the wrong process."""

from __future__ import annotations

import socket

import pytest

from ledger_node.engines import EngineError, LocalNode


def test_a_port_in_use_is_refused_before_starting() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        node = LocalNode("ganache", port=listener.getsockname()[1])
        with pytest.raises(EngineError, match="is in use"):
            node.start()
        assert node.process is None


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(EngineError, match="unknown local engine"):
        LocalNode("geth").start()
