"""An upgrade end to end on anvil: certificates issued through a gateway, the registry replaced by a
successor with `certnet contracts upgrade` while that gateway runs, the gateway restarted on the new
manifest, certificates issued again. Everything issued before and after verifies, histories span both
registries, the retired registry anchors nothing new and no hash is anchored twice across versions,
and an old certificate is still revoked (and seen revoked) after the upgrade."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from hexbytes import HexBytes

from gateway.process import GatewayProcess
from ledger_node.devnet import MZ_MARRIAGE, Devnet, demo_account, start_devnet
from ledger_node.deploy import contract_at
from ledger_node.transactions import ContractReverted, transact
from ledger_node.types import code32
from tests.conftest import issued_marriage, marriage_request, wait_done

pytestmark = pytest.mark.slow


@dataclass
class Upgraded:
    devnet: Devnet
    gateway: GatewayProcess  # restarted on the upgraded manifest
    old_registry: str
    new_registry: str
    before: dict[str, dict[str, Any]]  # documents issued before the upgrade, by what they are
    after: dict[str, dict[str, Any]]
    upgrade_output: str


def _issue_kinds(gateway: GatewayProcess, tag: str) -> dict[str, dict[str, Any]]:
    """A single certificate, one to revoke later, and a member of a batch of two, issued by civil affairs."""
    auth = gateway.auth("MZ")
    members = [{k: v for k, v in marriage_request(f"UPG-{tag}-B{n}").items() if k != "type"} for n in range(2)]
    batch = gateway.client.post("/v1/batches", json={"type": MZ_MARRIAGE, "certificates": members}, headers=auth)
    assert batch.status_code == 202, batch.text
    return {"single": issued_marriage(gateway, number=f"UPG-{tag}-1")["certificate"],
            "to revoke": issued_marriage(gateway, number=f"UPG-{tag}-2")["certificate"],
            "batch member": wait_done(gateway, f"/v1/batches/{batch.json()['id']}")["certificates"][0]}


@pytest.fixture(scope="module")
def upgraded(devnet_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upgraded]:
    devnet = start_devnet(tmp_path_factory.mktemp("upgrade") / "chain", devnet_template)
    gateway_dir = tmp_path_factory.mktemp("upgrade-gateway")
    first = GatewayProcess(devnet, gateway_dir).start()
    restarted: GatewayProcess | None = None
    try:
        old_registry = devnet.deployment.registry.address
        before = _issue_kinds(first, "before")
        upgrade = subprocess.run([str(Path(sys.executable).with_name("certnet")), "contracts", "upgrade", "--demo",
                                  "default", "--rpc", devnet.node.url, "--data-dir", str(devnet.data_dir)],
                                 capture_output=True, text=True, timeout=300)
        assert upgrade.returncode == 0, upgrade.stderr
        first.wait_indexed()  # the running gateway's index passes the takeover without following the successor
        first.terminate()
        restarted = GatewayProcess(devnet, gateway_dir).start()  # the same database, the upgraded manifest
        after = _issue_kinds(restarted, "after")
        restarted.wait_indexed()
        yield Upgraded(devnet, restarted, old_registry, devnet.deployment.registry.address, before, after,
                       upgrade.stdout)
    finally:
        first.stop()
        if restarted is not None:
            restarted.stop()
        devnet.node.stop()


def _hash(document: dict[str, Any]) -> str:
    return document["proof"]["certificateHash"]


def _verdict(gateway: GatewayProcess, document: dict[str, Any]) -> dict[str, Any]:
    return gateway.client.post("/v1/verify", json={"document": document}).json()


def test_the_manifest_keeps_the_retired_registry_before_its_successor(upgraded: Upgraded) -> None:
    manifest = json.loads((upgraded.devnet.data_dir / "manifest.json").read_text())
    assert [(r["address"], r["successor"]) for r in manifest["retired_registries"]] == [
        (upgraded.old_registry, upgraded.new_registry)]
    assert manifest["contracts"]["CertificateRegistry"]["address"] == upgraded.new_registry != upgraded.old_registry


def test_the_upgrade_command_names_the_registry_that_anchors_from_now_on(upgraded: Upgraded) -> None:
    assert f"CertificateRegistry  {upgraded.new_registry}" in upgraded.upgrade_output
    assert f"retired registry     {upgraded.old_registry}" in upgraded.upgrade_output


def test_node_status_lists_the_retired_registry(upgraded: Upgraded) -> None:
    status = subprocess.run([str(Path(sys.executable).with_name("certnet")), "node", "status", "--rpc",
                             upgraded.devnet.node.url, "--data-dir", str(upgraded.devnet.data_dir)],
                            capture_output=True, text=True, timeout=120)
    assert f"retired registry     {upgraded.old_registry}" in status.stdout, status.stdout + status.stderr


def test_certificates_are_anchored_in_the_registry_that_anchored_at_the_time(upgraded: Upgraded) -> None:
    assert {d["proof"]["anchor"]["registry"] for d in upgraded.before.values()} == {upgraded.old_registry}
    assert {d["proof"]["anchor"]["registry"] for d in upgraded.after.values()} == {upgraded.new_registry}


@pytest.mark.parametrize("kind", ["single", "batch member"])
@pytest.mark.parametrize("when", ["before", "after"])
def test_certificates_issued_before_and_after_the_upgrade_verify(upgraded: Upgraded, when: str, kind: str) -> None:
    document = getattr(upgraded, when)[kind]
    report = _verdict(upgraded.gateway, document)
    assert report["verdict"] == "valid", report
    fresh = upgraded.gateway.client.post("/v1/verify?fresh=true", json={"document": document}).json()
    assert (fresh["verdict"], fresh["checkedAt"]["source"]) == ("valid", "chain")


def test_the_status_of_an_old_certificate_is_read_from_the_retired_registry(upgraded: Upgraded) -> None:
    status = upgraded.gateway.client.get(f"/v1/certificates/{_hash(upgraded.before['single'])}",
                                         params={"fresh": "true"}).json()
    assert status["status"] == "valid"


def test_history_of_an_old_certificate_is_kept(upgraded: Upgraded) -> None:
    history = upgraded.gateway.client.get(f"/v1/certificates/{_hash(upgraded.before['single'])}/history",
                                          headers=upgraded.gateway.auth("SJ")).json()
    assert [e["event"] for e in history["events"]] == ["CertificateIssued"]


def test_the_audit_trail_shows_the_retirement_and_the_takeover(upgraded: Upgraded) -> None:
    """The restarted gateway read the successor's takeover, which its predecessor process had passed."""
    events = upgraded.gateway.client.get("/v1/audit/events", params={"action": "upgrade"},
                                         headers=upgraded.gateway.auth("SJ")).json()["events"]
    assert [(e["event"], e["args"]) for e in events] == [
        ("RegistryRetired", {"successor": upgraded.new_registry}),
        ("RegistryTookOver", {"predecessor": upgraded.old_registry})]


def test_the_audit_trail_holds_issuance_in_both_registries(upgraded: Upgraded) -> None:
    events = upgraded.gateway.client.get("/v1/audit/events", params={"action": "CertificateIssued", "limit": 1000},
                                         headers=upgraded.gateway.auth("SJ")).json()["events"]
    subjects = {e["args"]["certificateHash"] for e in events}
    assert {_hash(upgraded.before["single"]), _hash(upgraded.after["single"])} <= subjects


def _terms(upgraded: Upgraded) -> int:
    return upgraded.devnet.deployment.issuance_terms(code32(MZ_MARRIAGE), 0)


def test_the_retired_registry_refuses_new_issuance(upgraded: Upgraded) -> None:
    old = contract_at(upgraded.devnet.w3, "CertificateRegistry", upgraded.old_registry)
    with pytest.raises(ContractReverted) as refused:
        transact(old.functions.issue(HexBytes("0x" + "5a" * 32), _terms(upgraded)), demo_account("MZ").address)
    assert (refused.value.error, refused.value.args_) == ("RegistryIsRetired", (upgraded.new_registry,))


def test_an_old_certificate_cannot_be_anchored_in_the_new_registry(upgraded: Upgraded) -> None:
    new = upgraded.devnet.deployment.registry
    old_hash = HexBytes(_hash(upgraded.before["single"]))
    with pytest.raises(ContractReverted) as refused:
        transact(new.functions.issue(old_hash, _terms(upgraded)), demo_account("MZ").address)
    assert (refused.value.error, refused.value.args_) == ("RegistryAnchoredInPredecessor",
                                                          (bytes(old_hash), upgraded.old_registry))


def test_superseding_an_old_certificate_is_refused_clearly(upgraded: Upgraded) -> None:
    body = {k: v for k, v in marriage_request("UPG-successor").items() if k != "type"}
    refused = upgraded.gateway.client.post(f"/v1/certificates/{_hash(upgraded.before['single'])}/supersede",
                                           json=body, headers=upgraded.gateway.auth("MZ"))
    assert (refused.status_code, refused.json()["code"]) == (409, "registry_retired")
    assert refused.json()["details"]["registry"] == upgraded.old_registry


def test_an_old_certificate_is_revoked_after_the_upgrade(upgraded: Upgraded) -> None:
    document = upgraded.before["to revoke"]
    gateway = upgraded.gateway
    revoked = gateway.client.post(f"/v1/certificates/{_hash(document)}/revoke", json={"reason": 2},
                                  headers=gateway.auth("MZ"))
    assert revoked.status_code == 200, revoked.text
    gateway.wait_indexed()
    assert gateway.client.get(f"/v1/certificates/{_hash(document)}").json()["status"] == "revoked"
    assert _verdict(gateway, document)["verdict"] == "invalid"
    history = gateway.client.get(f"/v1/certificates/{_hash(document)}/history", headers=gateway.auth("SJ")).json()
    assert [e["event"] for e in history["events"]] == ["CertificateIssued", "CertificateRevoked"]


def test_the_index_matches_every_registry(upgraded: Upgraded) -> None:
    checked = subprocess.run([str(Path(sys.executable).with_name("certnet")), "index", "verify", "--data-dir",
                              str(upgraded.gateway.data_dir)], env=upgraded.gateway.env, capture_output=True,
                             text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
