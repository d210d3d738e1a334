"""Local engines keep their chain across a stop and a start, and fail with one clear line."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from ledger_node import engines
from ledger_node.bootstrap import bootstrap
from ledger_node.chainstate import read_chain_state
from ledger_node.deploy import Manifest
from ledger_node.devnet import deploy
from ledger_node.engines import (ANVIL_STATE_FILE, EngineError, LocalNode, connect, free_port, is_running,
                                 port_in_use, read_node, start_node, stop_node)
from ledger_node.spec import load_spec
from tests.conftest import CertnetRun

SMALL = Path(__file__).parent / "specs" / "small.yaml"
runner = CliRunner()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ganache", "anvil"])
def test_a_restarted_node_comes_back_with_the_same_chain(engine: str, tmp_path: Path) -> None:
    spec = load_spec(SMALL)
    record = start_node(tmp_path, engine)
    try:
        w3 = connect(record.url)
        manifest = deploy(w3, spec, tmp_path / "manifest.json", engine=engine, rpc_url=record.url)
        bootstrap(w3, spec, manifest.deployment(w3))
        height = w3.eth.block_number
    finally:
        stop_node(tmp_path)
    assert not is_running(record)

    record = start_node(tmp_path, engine, record.port)
    try:
        w3 = connect(record.url)
        assert w3.eth.block_number >= height
        deployment = Manifest.load(tmp_path / "manifest.json").deployment(w3)
        state = read_chain_state(w3, deployment)
        assert set(state.departments) == {d.code for d in spec.departments}
        assert bootstrap(w3, spec, deployment) == 0
    finally:
        stop_node(tmp_path)


def _node_start(engine: str, data_dir: Path, port: int = 0) -> engines.NodeRecord:
    """`certnet node start` as a user types it."""
    result = runner.invoke(app, ["node", "start", "--engine", engine, "--port", str(port), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    record = read_node(data_dir)
    assert record is not None
    return record


def _until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.1)


def _anvil_saved_block(data_dir: Path) -> int:
    """The newest block in anvil's state file; the file must always be whole JSON."""
    path = data_dir / "anvil" / ANVIL_STATE_FILE
    return json.loads(path.read_text())["best_block_number"] if path.exists() else -1


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["anvil", "ganache"])
def test_a_node_killed_with_sigkill_comes_back_with_the_blocks_it_mined(engine: str, tmp_path: Path) -> None:
    record = _node_start(engine, tmp_path)
    try:
        w3 = connect(record.url)
        sender, receiver = w3.eth.accounts[:2]
        sent = [w3.eth.send_transaction({"from": sender, "to": receiver, "value": value}) for value in range(1, 31)]
        mined = {tx: w3.eth.wait_for_transaction_receipt(tx, timeout=60)["blockHash"] for tx in sent}
        newest = w3.eth.get_transaction_receipt(sent[-1])["blockNumber"]
        if engine == "anvil":  # saved after every block, not as it mines
            _until(lambda: _anvil_saved_block(tmp_path) >= newest, f"anvil's state file holds block {newest}")
    finally:
        os.killpg(record.pid, signal.SIGKILL)  # the whole node: no shutdown code runs
        _until(lambda: not is_running(record) and not port_in_use(record.port), "the killed node is gone")

    record = _node_start(engine, tmp_path, record.port)
    try:
        w3 = connect(record.url)
        assert {tx: w3.eth.get_transaction_receipt(tx)["blockHash"] for tx in sent} == mined
    finally:
        stop_node(tmp_path)


@pytest.mark.slow
def test_hardhats_node_deploys_and_bootstraps(tmp_path: Path) -> None:
    # Hardhat 2's node keeps no state across restarts, so only a single run is checked.
    spec = load_spec(SMALL)
    record = start_node(tmp_path, "hardhat")
    try:
        w3 = connect(record.url)
        manifest = deploy(w3, spec, tmp_path / "manifest.json", engine="hardhat", rpc_url=record.url)
        assert bootstrap(w3, spec, manifest.deployment(w3)) > 0
        assert bootstrap(w3, spec, manifest.deployment(w3)) == 0
    finally:
        stop_node(tmp_path)
    assert not is_running(record)


def test_the_embedded_engine_deploys_and_bootstraps_in_process(tmp_path: Path) -> None:
    spec = load_spec(SMALL)
    w3 = engines.embedded_web3()
    manifest = deploy(w3, spec, tmp_path / "manifest.json", engine="embedded", rpc_url="embedded")
    assert bootstrap(w3, spec, manifest.deployment(w3)) > 0
    assert bootstrap(w3, spec, manifest.deployment(w3)) == 0


def test_deploying_twice_is_refused_unless_forced(tmp_path: Path) -> None:
    spec = load_spec(SMALL)
    w3 = engines.embedded_web3()
    first = deploy(w3, spec, tmp_path / "manifest.json", engine="embedded", rpc_url="embedded")
    with pytest.raises(Exception, match="already deployed"):
        deploy(w3, spec, tmp_path / "manifest.json", engine="embedded", rpc_url="embedded")
    second = deploy(w3, spec, tmp_path / "manifest.json", engine="embedded", rpc_url="embedded", force=True)
    assert second.contracts["Consortium"]["address"] != first.contracts["Consortium"]["address"]


def test_a_port_in_use_is_one_line_and_a_non_zero_exit(taken_port: int, tmp_path: Path) -> None:
    result = runner.invoke(app, ["node", "start", "--engine", "ganache", "--port", str(taken_port),
                                 "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == (f"error (engine_error): port {taken_port} is in use: stop what listens there or "
                                     "choose another port")


def test_a_missing_engine_binary_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(engines, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineError, match="anvil is not installed"):
        LocalNode("anvil").start()


def test_an_rpc_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["node", "status", "--rpc", f"http://127.0.0.1:{free_port()}",
                                 "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "no JSON-RPC answer" in result.output


def test_stop_without_a_started_node_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["node", "stop", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "no node was started" in result.output


def test_an_invalid_spec_sends_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.read_text(encoding="utf-8").replace("owner: GA", "owner: NOBODY"), encoding="utf-8")
    result = runner.invoke(app, ["bootstrap", str(bad), "--rpc", f"http://127.0.0.1:{free_port()}",
                                 "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "line 11: owner of type 'HJZM': unknown department 'NOBODY'" in result.output


def test_run_with_the_gateway_port_taken_starts_no_chain(taken_port: int, tmp_path: Path) -> None:
    chain_port = free_port()
    result = runner.invoke(app, ["run", "--engine", "anvil", "--chain-port", str(chain_port),
                                 "--port", str(taken_port), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == (f"error (engine_error): gateway port {taken_port} on 127.0.0.1 is in use: "
                                     "stop what listens there or choose another port")
    assert not port_in_use(chain_port) and not (tmp_path / "manifest.json").exists()


@pytest.mark.slow
def test_a_second_run_leaves_the_running_chain_and_its_record_alone(tmp_path: Path) -> None:
    record = start_node(tmp_path, "anvil")
    try:
        result = runner.invoke(app, ["run", "--engine", "anvil", "--chain-port", str(record.port),
                                     "--port", str(free_port()), "--data-dir", str(tmp_path)])
        assert result.exit_code == 1
        assert f"already runs on {record.url}" in result.output and len(result.output.strip().splitlines()) == 1
        assert read_node(tmp_path) == record and is_running(record)
    finally:
        stop_node(tmp_path)


@pytest.mark.slow
def test_node_stop_stops_a_chain_that_certnet_run_serves(certnet_run: CertnetRun) -> None:
    record = read_node(certnet_run.data_dir)
    assert record is not None and record.owner == certnet_run.process.pid

    result = runner.invoke(app, ["node", "stop", "--data-dir", str(certnet_run.data_dir)])

    assert result.exit_code == 0, result.output
    assert certnet_run.process.wait(timeout=60) == 0
    assert not is_running(record) and not port_in_use(record.port) and read_node(certnet_run.data_dir) is None


@pytest.mark.slow
def test_node_stop_stops_a_foreground_chain_whose_runner_is_gone(tmp_path: Path) -> None:
    node = LocalNode("anvil")
    node.start(log_path=tmp_path / "anvil.log")  # a child of this process, in its process group
    try:
        record = node.record(tmp_path / "anvil.log", owner=2 ** 22 + 1)  # above Linux's largest pid: gone
        engines.write_node_record(tmp_path, record)
        result = runner.invoke(app, ["node", "stop", "--data-dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert not is_running(record) and read_node(tmp_path) is None
    finally:
        node.stop()


def test_a_relative_data_dir_is_where_the_command_runs_not_where_the_engine_runs(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # engines run in the project's directory; the state must still land here
    command = engines.engine_command("ganache", free_port(), 2, Path(".certnet") / "ganache")
    assert command[command.index("--database.dbPath") + 1] == str(tmp_path / ".certnet" / "ganache")
