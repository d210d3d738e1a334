"""The deployment manifest across registry upgrades: the current registry, and the ones it replaced in order."""

from __future__ import annotations

import json
from pathlib import Path

from ledger_node.deploy import Manifest

OLD, MIDDLE, NEW = ("0x" + digit * 40 for digit in "123")


def _manifest() -> Manifest:
    contracts = {name: {"address": "0x" + "9" * 40, "block": 1} for name in ("Consortium", "Catalog",
                                                                           "AuditCheckpoints")}
    return Manifest(chain_id=31337, engine="anvil", rpc_url="http://127.0.0.1:8545", artifacts="0" * 64,
                    contracts={**contracts, "CertificateRegistry": {"address": OLD, "block": 2}})


def test_an_upgrade_makes_the_successor_current_and_keeps_the_retired_registry() -> None:
    upgraded = _manifest().with_successor_registry(MIDDLE, 40)
    assert upgraded.contracts["CertificateRegistry"] == {"address": MIDDLE, "block": 40}
    assert upgraded.retired_registries == [{"address": OLD, "block": 2, "successor": MIDDLE}]


def test_retired_registries_are_kept_oldest_first() -> None:
    twice = _manifest().with_successor_registry(MIDDLE, 40).with_successor_registry(NEW, 90)
    assert [(r["address"], r["successor"]) for r in twice.retired_registries] == [(OLD, MIDDLE), (MIDDLE, NEW)]


def test_a_manifest_written_before_upgrades_existed_loads_with_no_retired_registry(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    _manifest().save(path)
    written = json.loads(path.read_text())
    del written["retired_registries"]
    path.write_text(json.dumps(written))
    assert Manifest.load(path).retired_registries == []
