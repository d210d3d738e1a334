"""The lean JSON-RPC client and view calls (ledger_node/rpc.py) against anvil, beside web3.py's answers."""

from __future__ import annotations

import pytest

from ledger_node.devnet import Devnet
from ledger_node.rpc import RpcError, ViewCalls
from ledger_node.types import code32

pytestmark = pytest.mark.slow


def test_view_calls_answer_as_web3_does(devnet: Devnet) -> None:
    consortium = devnet.deployment.consortium.functions
    functions = [consortium.departmentCount(), consortium.departmentCode(1),
                 consortium.keysOf(consortium.departmentCode(1).call()), consortium.keyRecord(devnet.w3.eth.accounts[0])]
    assert ViewCalls(devnet.w3).read(functions) == [function.call() for function in functions]


def test_no_view_calls_send_no_request(devnet: Devnet) -> None:
    assert ViewCalls(devnet.w3).read([]) == []


def test_the_head_read_with_calls_is_the_chains(devnet: Devnet) -> None:
    head, (count,) = ViewCalls(devnet.w3).read_with_head([devnet.deployment.consortium.functions.departmentCount()])
    assert devnet.w3.eth.get_block(head.number)["hash"].to_0x_hex() == head.hash
    assert count == devnet.deployment.consortium.functions.departmentCount().call()


def test_a_call_that_reverts_is_an_rpc_error(devnet: Devnet) -> None:
    with pytest.raises(RpcError, match="eth_call failed"):
        ViewCalls(devnet.w3).read([devnet.deployment.consortium.functions.department(code32("NO-SUCH-DEPT"))])
