"""`make run`'s chain keeps its state: a second run reuses the deployed demo consortium."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from ledger_node.deploy import contract_at
from ledger_node.devnet import DEMO_DEPARTMENTS, DEMO_TYPES, run_devnet
from ledger_node.engines import free_port


@pytest.mark.slow
def test_restarted_devnet_reuses_the_same_deployment(tmp_path: Path) -> None:
    port = free_port()
    node, first, deployed = run_devnet(tmp_path, port)
    node.stop()
    assert deployed

    node, second, deployed_again = run_devnet(tmp_path, port)
    try:
        assert not deployed_again
        assert second == first
        w3 = Web3(Web3.HTTPProvider(node.url))
        consortium = contract_at(w3, "Consortium", first["contracts"]["Consortium"]["address"])
        catalog = contract_at(w3, "Catalog", first["contracts"]["Catalog"]["address"])
        assert consortium.functions.departmentCount().call() == len(DEMO_DEPARTMENTS)
        assert catalog.functions.typeCount().call() == len(DEMO_TYPES)
    finally:
        node.stop()
