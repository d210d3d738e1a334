"""Brings the chain to a spec: admits departments, registers types and service items (and hands
them to the owner the spec names), registers access logs with their operators, anchors each
department's catalog snapshot — sending only the difference between the spec and the chain.

The plan is computed from the chain's events before anything is sent, so a re-run of the same
spec sends nothing and a changed spec sends only what changed. Work goes in phases: every
transaction of a phase depends only on earlier phases (already mined) and on earlier nonces of
its own account, so a phase is sent pipelined and its receipts awaited together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD

from ledger_node.accounts import development_account, load_keystore, passphrase_from_env
from ledger_node.canonical import content_hash
from ledger_node.chainstate import ChainState, TypeState, read_chain_state
from ledger_node.deploy import Deployment, Founder
from ledger_node.errors import LedgerError
from ledger_node.sender import Sender, Submitted
from ledger_node.spec import ConsortiumSpec, DepartmentSpec, SpecError
from ledger_node.sm2 import department_sm2_key
from ledger_node.types import CRYPTO_SUITES, PROPOSAL_LIFETIME, code32

#: Calls per governance proposal: keeps an execute well inside a block's gas limit.
PROPOSAL_CHUNK = 25


@dataclass(frozen=True)
class Step:
    """One transaction the plan needs: what it is for, who sends it, and the call."""

    label: str
    sender: str  # department code whose key signs
    function: ContractFunction


@dataclass
class Plan:
    governance: list[ContractFunction] = field(default_factory=list)  # run through proposals
    phases: list[list[Step]] = field(default_factory=list)

    @property
    def transaction_count(self) -> int:
        proposals = -(-len(self.governance) // PROPOSAL_CHUNK)
        return sum(len(p) for p in self.phases) + 3 * proposals

    @property
    def empty(self) -> bool:
        return not self.governance and not any(self.phases)


def department_account(department: DepartmentSpec, chain_id: int) -> LocalAccount:
    """The department's signing key: from the development mnemonic (development chains only), or its keystore file."""
    if department.account is not None:
        return development_account(chain_id, department.account)
    return load_keystore(department.keystore, passphrase_from_env())


def founders_of(spec: ConsortiumSpec, accounts: dict[str, LocalAccount]) -> list[Founder]:
    """The governors admitted at deployment, with their keys."""
    return [Founder(code32(code), spec.department(code).name, int(spec.department(code).roles),
                    [accounts[code].address]) for code in spec.governors]


def plan(spec: ConsortiumSpec, state: ChainState, deployment: Deployment,
         accounts: dict[str, LocalAccount]) -> Plan:
    """What must be sent to bring `state` to `spec`; raises `SpecError` for changes the chain cannot make."""
    consortium, catalog = deployment.consortium.functions, deployment.catalog.functions
    unchangeable: list[str] = []
    # Transfers of ownership go through governance, which may act whatever the state of the previous
    # owner (removed, merged); the proposals run before the phases, so the new owner sends the changes.
    transfers: list[ContractFunction] = []
    registrations, type_changes = _plan_types(spec, state, catalog, transfers)
    item_registrations, item_uses = _plan_service_items(spec, state, catalog, transfers, unchangeable)
    if unchangeable:
        raise SpecError("spec", unchangeable)
    phases = (_plan_sm2_keys(spec, state, deployment, accounts), registrations, type_changes, item_registrations,
              item_uses, _plan_snapshots(spec, state, catalog))
    governance = [*_plan_membership(spec, state, consortium, accounts), *transfers,
                  *_plan_access_logs(spec, state, deployment.checkpoints.functions)]
    return Plan(governance=governance, phases=[p for p in phases if p])


def _plan_membership(spec: ConsortiumSpec, state: ChainState, consortium: Any,
                     accounts: dict[str, LocalAccount]) -> list[ContractFunction]:
    """Governance calls: admit new departments, change roles, register a department's new key."""
    calls = []
    for d in spec.departments:
        on_chain = state.departments.get(d.code)
        key = accounts[d.code].address
        if on_chain is None:
            calls.append(consortium.admitDepartment(code32(d.code), d.name, int(d.roles), [key]))
            continue
        if on_chain.roles != d.roles:
            calls.append(consortium.setRoles(code32(d.code), int(d.roles)))
        if key not in on_chain.keys:
            calls.append(consortium.addKey(code32(d.code), key))
    return calls


def _plan_sm2_keys(spec: ConsortiumSpec, state: ChainState, deployment: Deployment,
                   accounts: dict[str, LocalAccount]) -> list[Step]:
    """Under the sm2-sm3 suite, each department registers the SM2 key derived from its account key (itself:
    a department may change its own keys) unless it is already one of its current SM2 keys."""
    if CRYPTO_SUITES[deployment.consortium.functions.cryptoSuite().call()] != "sm2-sm3":
        return []
    steps = []
    for d in spec.departments:
        key = department_sm2_key(accounts[d.code].key)
        on_chain = state.departments.get(d.code)
        if on_chain is None or key.key_id not in on_chain.sm2_keys:
            steps.append(Step(f"SM2 key of {d.code}", d.code,
                              deployment.consortium.functions.addSm2Key(code32(d.code), key.public_key)))
    return steps


def _plan_access_logs(spec: ConsortiumSpec, state: ChainState, checkpoints: Any) -> list[ContractFunction]:
    """Governance calls: register each new access log with its operator, or hand it to the spec's."""
    return [checkpoints.setLogOperator(code32(log.code), code32(log.operator)) for log in spec.access_logs
            if state.log_operators.get(log.code) != log.operator]


def _plan_types(spec: ConsortiumSpec, state: ChainState, catalog: Any,
                transfers: list[ContractFunction]) -> tuple[list[Step], list[Step]]:
    """Registrations of new types, then changes to types (new versions, issuers, relying, status);
    adds to `transfers` the governance calls handing a type to the owner the spec names."""
    registrations, changes = [], []
    for t in spec.types:
        on_chain = state.types.get(t.code)
        if on_chain is None:
            registrations.append(Step(f"register type {t.code}", t.owner, catalog.registerType(
                code32(t.code), t.schema_hash, t.name, [code32(i) for i in t.issuers])))
            on_chain = TypeState(owner=t.owner, schema_hash=t.schema_hash, issuers=set(t.issuers))
        else:
            if on_chain.owner != t.owner:
                transfers.append(catalog.transferTypeOwnership(code32(t.code), code32(t.owner)))
            if on_chain.schema_hash != t.schema_hash:
                changes.append(Step(f"publish version {on_chain.version + 1} of {t.code}", t.owner,
                                    catalog.publishTypeVersion(code32(t.code), t.schema_hash)))
        for issuer in sorted(set(t.issuers) ^ on_chain.issuers):
            allowed = issuer in t.issuers
            changes.append(Step(f"{'allow' if allowed else 'withdraw'} issuer {issuer} of {t.code}", t.owner,
                                catalog.setIssuer(code32(t.code), code32(issuer), allowed)))
        for relying in sorted(set(t.relying) ^ on_chain.relying):
            allowed = relying in t.relying
            changes.append(Step(f"{'allow' if allowed else 'withdraw'} relying {relying} on {t.code}", t.owner,
                                catalog.setRelyingDepartment(code32(t.code), code32(relying), allowed)))
        if t.status != on_chain.status:
            changes.append(Step(f"set {t.code} {t.status.name.lower()}", t.owner,
                                catalog.setTypeStatus(code32(t.code), int(t.status))))
    return registrations, changes


def _plan_service_items(spec: ConsortiumSpec, state: ChainState, catalog: Any, transfers: list[ContractFunction],
                        unchangeable: list[str]) -> tuple[list[Step], list[Step]]:
    """Registrations of new service items, then each required type's owner allowing the item and
    each item's owner adding its other handlers; adds to `transfers` the governance calls handing
    an item to the owner the spec names."""
    owners = {t.code: t.owner for t in spec.types}
    registrations, uses = [], []
    for s in spec.service_items:
        on_chain = state.service_items.get(s.code)
        if on_chain is None:
            registrations.append(Step(f"register service item {s.code}", s.owner, catalog.registerServiceItem(
                code32(s.code), s.name, [code32(t) for t in s.requires])))
        elif on_chain[1] != s.requires:
            unchangeable.append(f"line {s.line}: service item {s.code!r} requires {list(on_chain[1])} on chain; "
                                "the types a service item requires cannot change")
            continue
        elif on_chain[0] != s.owner:
            transfers.append(catalog.transferServiceItemOwnership(code32(s.code), code32(s.owner)))
        for required in s.requires:
            if (required, s.code) not in state.service_item_uses:
                uses.append(Step(f"allow {s.code} to use {required}", owners[required],
                                 catalog.setServiceItemUse(code32(required), code32(s.code), True)))
        for handler in s.handlers:
            if (s.code, handler) not in state.service_item_handlers:
                uses.append(Step(f"let {handler} handle {s.code}", s.owner,
                                 catalog.setServiceItemHandler(code32(s.code), code32(handler), True)))
    return registrations, uses


def _plan_snapshots(spec: ConsortiumSpec, state: ChainState, catalog: Any) -> list[Step]:
    """A new catalog snapshot for every department whose catalog document changed."""
    steps = []
    for d in spec.departments:
        document = spec.catalog_document(d.code)
        if not document["certificateTypes"] and not document["serviceItems"]:
            continue
        digest = content_hash(document)
        if state.snapshots.get(d.code) != digest:
            uri = spec.catalog_uri.format(department=d.code, hash=digest.hex())
            steps.append(Step(f"anchor catalog of {d.code}", d.code, catalog.anchorCatalogSnapshot(digest, uri)))
    return steps


class BootstrapError(LedgerError):
    code = "bootstrap_failed"


def apply(plan_: Plan, spec: ConsortiumSpec, deployment: Deployment, sender: Sender,
          accounts: dict[str, LocalAccount], progress: Callable[[str], None] = lambda label: None) -> int:
    """Sends the plan; returns the number of transactions mined. Governance runs first."""
    mined = 0
    governors = [accounts[code].address for code in spec.governors]
    for start in range(0, len(plan_.governance), PROPOSAL_CHUNK):
        chunk = plan_.governance[start:start + PROPOSAL_CHUNK]
        mined += run_proposal(deployment, sender, governors, spec.quorum, chunk, progress,
                              description=f"bootstrap: {len(chunk)} governance changes")
    for phase in plan_.phases:
        submitted: list[Submitted] = [
            sender.submit(step.function, accounts[step.sender].address, label=step.label) for step in phase
        ]
        sender.wait(submitted, on_receipt=lambda item: progress(item.label))
        mined += len(submitted)
    return mined


def run_proposal(deployment: Deployment, sender: Sender, governors: list[str], quorum: int,
                 functions: list[ContractFunction], progress: Callable[[str], None] = lambda label: None, *,
                 description: str) -> int:
    """Proposes `functions` as one proposal of the first governor, approves it by the next ones up to
    `quorum` and executes it; returns the number of transactions mined."""
    consortium = deployment.consortium
    calls = [(f.address, f._encode_transaction_data()) for f in functions]
    receipt = sender.transact(consortium.functions.propose(calls, description, PROPOSAL_LIFETIME),
                              governors[0], label="propose governance changes")
    progress("propose")
    proposal_id = consortium.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0]["args"]["proposalId"]
    for governor in governors[1:quorum]:
        sender.transact(consortium.functions.approve(proposal_id), governor, label=f"approve proposal {proposal_id}")
        progress("approve")
    sender.transact(consortium.functions.execute(proposal_id, calls), governors[0], label=f"execute proposal {proposal_id}")
    progress("execute")
    return 1 + (quorum - 1) + 1


def bootstrap(w3: Web3, spec: ConsortiumSpec, deployment: Deployment, *,
              progress_total: Callable[[int], None] = lambda total: None,
              progress: Callable[[str], None] = lambda label: None) -> int:
    """Plans against the chain and applies; returns the number of transactions sent (0: up to date)."""
    chain_id = w3.eth.chain_id
    accounts = {d.code: department_account(d, chain_id) for d in spec.departments}
    state = read_chain_state(w3, deployment)
    missing_governors = [code for code in spec.governors if code not in state.departments]
    if missing_governors:
        raise BootstrapError(f"governors {missing_governors} are not on chain: deploy with this spec first")
    the_plan = plan(spec, state, deployment, accounts)
    if the_plan.empty:
        return 0
    progress_total(the_plan.transaction_count)
    return apply(the_plan, spec, deployment, Sender(w3, accounts.values()), accounts, progress)
