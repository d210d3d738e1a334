"""Bootstrap brings a chain to a spec, sends only the difference, and nothing for a bad spec."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from web3 import Web3

from ledger_node.accounts import dev_account
from ledger_node.bootstrap import bootstrap
from ledger_node.chainstate import read_chain_state
from ledger_node.deploy import Deployment
from ledger_node.devnet import deploy, deploy_and_bootstrap
from ledger_node.errors import LedgerError
from ledger_node.sm2 import department_sm2_key
from ledger_node.spec import AccessLogSpec, ConsortiumSpec, DepartmentSpec, SpecError, TypeSpec, load_spec
from ledger_node.types import Role
from tests.conftest import transactions_sent

pytestmark = pytest.mark.slow

SMALL = Path(__file__).parent / "specs" / "small.yaml"


@pytest.fixture
def spec() -> ConsortiumSpec:
    return load_spec(SMALL)


@pytest.fixture
def deployed(chain_snapshot: Web3, spec: ConsortiumSpec, tmp_path: Path) -> Deployment:
    manifest = deploy(chain_snapshot, spec, tmp_path / "manifest.json", engine="ganache", rpc_url="test")
    return manifest.deployment(chain_snapshot)


def _sent(w3: Web3, spec: ConsortiumSpec) -> int:
    """Transactions sent by the deployer and the spec's departments (what bootstrap sends with)."""
    return transactions_sent(w3, [dev_account(0).address, *(dev_account(d.account).address for d in spec.departments)])


def _state(w3: Web3, deployment: Deployment):
    return read_chain_state(w3, deployment)


def test_bootstrap_brings_the_chain_to_the_spec(chain_snapshot: Web3, spec: ConsortiumSpec,
                                                deployed: Deployment) -> None:
    bootstrap(chain_snapshot, spec, deployed)
    state = _state(chain_snapshot, deployed)
    assert {code: d.roles for code, d in state.departments.items()} == {d.code: d.roles for d in spec.departments}
    assert {code: (t.owner, t.issuers, t.relying) for code, t in state.types.items()} == {
        "HJZM": ("GA", {"GA"}, set()), "JHZ": ("MZ", {"MZ"}, {"ZJ"})}
    assert state.service_items == {"BDC-DJ": ("ZJ", ("JHZ", "HJZM"))}
    assert state.service_item_uses == {("JHZ", "BDC-DJ"), ("HJZM", "BDC-DJ")}
    assert state.service_item_handlers == {("BDC-DJ", "GA")}
    assert set(state.snapshots) == {"GA", "MZ", "ZJ"}


def test_rerunning_the_same_spec_sends_nothing(chain_snapshot: Web3, spec: ConsortiumSpec,
                                               deployed: Deployment) -> None:
    bootstrap(chain_snapshot, spec, deployed)
    sent = _sent(chain_snapshot, spec)
    assert bootstrap(chain_snapshot, spec, deployed) == 0
    assert _sent(chain_snapshot, spec) == sent


def test_a_changed_spec_sends_only_the_difference(chain_snapshot: Web3, spec: ConsortiumSpec,
                                                  deployed: Deployment) -> None:
    bootstrap(chain_snapshot, spec, deployed)
    hjzm, jhz = spec.types
    changed = dataclasses.replace(
        spec,
        departments=(*spec.departments, DepartmentSpec(code="RS", name="市人力资源和社会保障局",
                                                       roles=Role.ISSUER, account=6)),
        types=(
            dataclasses.replace(hjzm, schema={**hjzm.schema, "title": "户籍证明 v2"}),  # new version
            dataclasses.replace(jhz, relying=()),  # relying department withdrawn
            TypeSpec(code="SBK", name="社会保障卡", owner="RS", issuers=("RS",), relying=(), schema={"type": "object"}),
        ),
    )
    sent = bootstrap(chain_snapshot, changed, deployed)
    state = _state(chain_snapshot, deployed)
    # Admitting RS takes a proposal (propose, approve, execute); then publish HJZM v2, withdraw ZJ
    # from JHZ, register SBK, and anchor the catalogs that changed: GA's (new schema hash) and RS's
    # (first). MZ's catalog document lists no relying departments, so it is unchanged.
    assert state.types["HJZM"].version == 2 and state.types["JHZ"].relying == set()
    assert state.types["SBK"].owner == "RS" and "RS" in state.departments
    assert sent == 3 + 1 + 1 + 1 + 2


def test_access_logs_are_registered_with_their_operator_by_governance(chain_snapshot: Web3, spec: ConsortiumSpec,
                                                                     deployed: Deployment) -> None:
    bootstrap(chain_snapshot, spec, deployed)
    changed = dataclasses.replace(
        spec, departments=(*spec.departments, DepartmentSpec(code="DSJ", name="市大数据管理局", roles=Role.LOG_OPERATOR,
                                                             account=6)),
        access_logs=(AccessLogSpec(code="ACCESS-LOG", operator="DSJ"),))
    # One proposal (propose, approve, execute) admits DSJ, then registers the log.
    assert bootstrap(chain_snapshot, changed, deployed) == 3
    assert _state(chain_snapshot, deployed).log_operators == {"ACCESS-LOG": "DSJ"}
    assert bootstrap(chain_snapshot, changed, deployed) == 0


def test_a_new_owner_in_the_spec_takes_over_through_governance(chain_snapshot: Web3, spec: ConsortiumSpec,
                                                               deployed: Deployment) -> None:
    bootstrap(chain_snapshot, spec, deployed)
    hjzm, jhz = spec.types
    item = spec.service_items[0]
    changed = dataclasses.replace(spec, types=(hjzm, dataclasses.replace(jhz, owner="GA")),
                                  service_items=(dataclasses.replace(item, owner="GA", handlers=("ZJ",)),))
    sent = bootstrap(chain_snapshot, changed, deployed)
    state = _state(chain_snapshot, deployed)
    assert state.types["JHZ"].owner == "GA" and state.service_items["BDC-DJ"][0] == "GA"
    # One proposal transfers both; GA, the new owner, adds ZJ as a handler and anchors its changed catalog
    # (MZ and ZJ now own nothing, so they publish no catalog document).
    assert sent == 3 + 1 + 1
    assert bootstrap(chain_snapshot, changed, deployed) == 0


def test_a_change_the_chain_cannot_make_is_refused_before_sending(chain_snapshot: Web3, spec: ConsortiumSpec,
                                                                  deployed: Deployment) -> None:
    bootstrap(chain_snapshot, spec, deployed)
    item = spec.service_items[0]
    changed = dataclasses.replace(spec, service_items=(dataclasses.replace(item, requires=("JHZ",)),))
    sent = _sent(chain_snapshot, spec)
    with pytest.raises(SpecError, match="the types a service item requires cannot change"):
        bootstrap(chain_snapshot, changed, deployed)
    assert _sent(chain_snapshot, spec) == sent


def test_under_sm2_sm3_each_department_registers_its_derived_sm2_key_once(chain_snapshot: Web3,
                                                                          spec: ConsortiumSpec,
                                                                          tmp_path: Path) -> None:
    national = dataclasses.replace(spec, crypto_suite="sm2-sm3")
    deployment = deploy(chain_snapshot, national, tmp_path / "manifest.json", engine="ganache",
                        rpc_url="test").deployment(chain_snapshot)
    bootstrap(chain_snapshot, national, deployment)
    expected = {d.code: {department_sm2_key(dev_account(d.account).key).key_id} for d in national.departments}
    assert {code: d.sm2_keys for code, d in _state(chain_snapshot, deployment).departments.items()} == expected
    assert bootstrap(chain_snapshot, national, deployment) == 0


def test_a_deployment_of_other_contract_sources_is_not_reused(chain_snapshot: Web3, spec: ConsortiumSpec,
                                                              tmp_path: Path) -> None:
    manifest_path = tmp_path / "manifest.json"
    deployed = deploy(chain_snapshot, spec, manifest_path, engine="ganache", rpc_url="test")
    dataclasses.replace(deployed, artifacts="0" * 64).save(manifest_path)  # as an earlier version recorded it
    with pytest.raises(LedgerError, match="deployed from other sources .artifacts 000000000000, now"):
        deploy_and_bootstrap(chain_snapshot, spec, manifest_path, engine="ganache", rpc_url="test")


def test_a_deployment_is_not_reused_under_another_suite(chain_snapshot: Web3, spec: ConsortiumSpec,
                                                        tmp_path: Path) -> None:
    deploy(chain_snapshot, spec, tmp_path / "manifest.json", engine="ganache", rpc_url="test")
    with pytest.raises(LedgerError, match="deployed under the secp256k1-keccak crypto suite"):
        deploy_and_bootstrap(chain_snapshot, dataclasses.replace(spec, crypto_suite="sm2-sm3"),
                             tmp_path / "manifest.json", engine="ganache", rpc_url="test")
