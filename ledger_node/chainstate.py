"""The consortium, catalog and access-log operators as the chain says they are, folded from the
contracts' events.

One `eth_getLogs` per contract replaces thousands of view calls: bootstrap diffs a spec against
this state, and operators read the consortium's size from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractEvent
from web3.exceptions import BlockNotFound

from ledger_node.deploy import Deployment
from ledger_node.types import DepartmentStatus, Role, TypeStatus


def block_hash(w3: Web3, number: int) -> str | None:
    """The 0x hash of the chain's block `number` now; None when the chain has no such block (yet, or any more)."""
    try:
        return HexBytes(w3.eth.get_block(number)["hash"]).to_0x_hex()
    except BlockNotFound:
        return None


def code_text(code: bytes) -> str:
    """A bytes32 code as the text it was made from (right-padded ASCII)."""
    return code.rstrip(b"\0").decode("ascii", errors="backslashreplace")


@dataclass
class DepartmentState:
    roles: Role
    status: DepartmentStatus = DepartmentStatus.ACTIVE
    keys: set[str] = field(default_factory=set)
    sm2_keys: set[bytes] = field(default_factory=set)  # ids of its current SM2 keys (sm2-sm3 suite)


@dataclass
class TypeState:
    owner: str
    schema_hash: bytes
    version: int = 1
    status: TypeStatus = TypeStatus.ACTIVE
    issuers: set[str] = field(default_factory=set)
    relying: set[str] = field(default_factory=set)


@dataclass
class ChainState:
    departments: dict[str, DepartmentState] = field(default_factory=dict)
    types: dict[str, TypeState] = field(default_factory=dict)
    service_items: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # owner, requires
    service_item_uses: set[tuple[str, str]] = field(default_factory=set)  # (type, item)
    service_item_handlers: set[tuple[str, str]] = field(default_factory=set)  # (item, department) besides owners
    snapshots: dict[str, bytes] = field(default_factory=dict)  # department -> latest content hash
    log_operators: dict[str, str] = field(default_factory=dict)  # access log id -> operator department

    def apply(self, name: str, a: dict[str, Any]) -> None:
        """Folds one decoded event into the state."""
        if name == "DepartmentAdmitted":
            self.departments[code_text(a["department"])] = DepartmentState(roles=Role(a["roles"]))
        elif name == "DepartmentRolesChanged":
            self.departments[code_text(a["department"])].roles = Role(a["roles"])
        elif name == "DepartmentStatusChanged":
            self.departments[code_text(a["department"])].status = DepartmentStatus(a["status"])
        elif name == "KeyAdded":
            self.departments[code_text(a["department"])].keys.add(a["key"])
        elif name == "KeyRemoved":
            self.departments[code_text(a["department"])].keys.discard(a["key"])
        elif name == "Sm2KeyAdded":
            self.departments[code_text(a["department"])].sm2_keys.add(a["key"])
        elif name == "Sm2KeyRemoved":
            self.departments[code_text(a["department"])].sm2_keys.discard(a["key"])
        elif name == "TypeRegistered":
            self.types[code_text(a["certificateType"])] = TypeState(owner=code_text(a["owner"]), schema_hash=a["schemaHash"])
        elif name == "TypeVersionPublished":
            state = self.types[code_text(a["certificateType"])]
            state.version, state.schema_hash = a["version"], a["schemaHash"]
        elif name == "TypeOwnershipTransferred":
            self.types[code_text(a["certificateType"])].owner = code_text(a["owner"])
        elif name == "TypeStatusChanged":
            self.types[code_text(a["certificateType"])].status = TypeStatus(a["status"])
        elif name in ("IssuerAuthorisationChanged", "RelyingDepartmentChanged"):
            state = self.types[code_text(a["certificateType"])]
            members = state.issuers if name == "IssuerAuthorisationChanged" else state.relying
            (members.add if a["allowed"] else members.discard)(code_text(a["department"]))
        elif name == "ServiceItemRegistered":
            self.service_items[code_text(a["serviceItem"])] = (
                code_text(a["owner"]), tuple(code_text(t) for t in a["requiredTypes"]))
        elif name == "ServiceItemOwnershipTransferred":
            _, requires = self.service_items[code_text(a["serviceItem"])]
            self.service_items[code_text(a["serviceItem"])] = (code_text(a["owner"]), requires)
        elif name == "ServiceItemUseChanged":
            use = (code_text(a["certificateType"]), code_text(a["serviceItem"]))
            (self.service_item_uses.add if a["allowed"] else self.service_item_uses.discard)(use)
        elif name == "ServiceItemHandlerChanged":
            handler = (code_text(a["serviceItem"]), code_text(a["department"]))
            (self.service_item_handlers.add if a["allowed"] else self.service_item_handlers.discard)(handler)
        elif name == "CatalogSnapshotAnchored":
            self.snapshots[code_text(a["department"])] = a["contentHash"]
        elif name == "LogOperatorAssigned":
            self.log_operators[code_text(a["logId"])] = code_text(a["operator"])


def events_by_topic(contract: Contract) -> dict[str, ContractEvent]:
    """The contract's events by their topic (0x hex), to decode its logs with `process_log`."""
    events = (contract.events[entry["name"]]() for entry in contract.abi if entry["type"] == "event")
    return {event.topic: event for event in events}


def decoded_logs(w3: Web3, contract: Contract, from_block: int, to_block: int | str = "latest") -> list[tuple[Any, str, dict[str, Any]]]:
    """Every event of `contract` in the range, decoded: ((block, log index), name, args)."""
    by_topic = events_by_topic(contract)
    decoded = []
    for log in w3.eth.get_logs({"address": contract.address, "fromBlock": from_block, "toBlock": to_block}):
        event = by_topic.get(Web3.to_hex(log["topics"][0]))
        if event is not None:
            processed = event.process_log(log)
            decoded.append(((log["blockNumber"], log["logIndex"]), processed["event"], dict(processed["args"])))
    return decoded


def read_chain_state(w3: Web3, deployment: Deployment) -> ChainState:
    """The consortium, catalog and log operators, from their events since the deployment."""
    events = [event for contract in (deployment.consortium, deployment.catalog, deployment.checkpoints)
              for event in decoded_logs(w3, contract, deployment.first_block)]
    state = ChainState()
    for _, name, args in sorted(events, key=lambda e: e[0]):
        state.apply(name, args)
    return state
