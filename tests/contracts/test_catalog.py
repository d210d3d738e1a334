"""Catalog: certificate types and their versions, usage grants, service items, catalog snapshots,
ownership transfers and governance acting in a removed owner's place."""

from __future__ import annotations

import pytest
from web3.logs import DISCARD

from ledger_node.transactions import read
from ledger_node.types import DepartmentStatus, TypeStatus
from tests.conftest import (CIVIL, HOUSING, MARRIAGE, PROPERTY, RELYING, SCHEMA_V1, SERVICE_ITEM, SUSPENDED, Network,
                            random_hash)


class TestTypes:
    def test_registered_type_is_owned_by_the_registering_department(self, network: Network) -> None:
        code, owner, version, status, schema = _type(network, MARRIAGE)
        assert (code, owner, version, status, schema) == (MARRIAGE, CIVIL, 1, TypeStatus.ACTIVE, SCHEMA_V1)

    def test_a_type_code_is_registered_once(self, network: Network, reverts) -> None:
        with reverts("CatalogTypeExists", MARRIAGE):
            network.send(network.catalog.functions.registerType(MARRIAGE, SCHEMA_V1, "重复", []), "other_issuer")

    def test_versions_only_go_up_and_all_stay_queryable(self, network: Network) -> None:
        for n in (2, 3):
            network.send(network.catalog.functions.publishTypeVersion(MARRIAGE, bytes([n]) * 32), "issuer")
        assert _type(network, MARRIAGE)[2] == 3
        schemas = [network.catalog.functions.schemaHash(MARRIAGE, v).call() for v in (1, 2, 3)]
        assert schemas == [SCHEMA_V1, b"\x02" * 32, b"\x03" * 32]

    def test_a_deprecated_type_can_be_reactivated(self, network: Network) -> None:
        network.send(network.catalog.functions.setTypeStatus(MARRIAGE, TypeStatus.DEPRECATED), "issuer")
        network.send(network.catalog.functions.setTypeStatus(MARRIAGE, TypeStatus.ACTIVE), "issuer")
        network.issue()

    def test_governance_can_deprecate_any_type(self, network: Network) -> None:
        network.govern(network.catalog.functions.setTypeStatus(PROPERTY, TypeStatus.DEPRECATED))
        assert _type(network, PROPERTY)[3] == TypeStatus.DEPRECATED

    def test_governance_can_authorise_an_issuer(self, network: Network) -> None:
        network.govern(network.catalog.functions.setIssuer(MARRIAGE, HOUSING, True))
        network.issue("other_issuer", MARRIAGE)

    def test_owner_can_withdraw_an_issuers_authorisation(self, network: Network, reverts) -> None:
        network.send(network.catalog.functions.setIssuer(MARRIAGE, CIVIL, False), "issuer")
        with reverts("CatalogIssuerNotAuthorised", MARRIAGE, CIVIL):
            network.issue()

    def test_authorising_an_unknown_department_is_refused(self, network: Network, reverts) -> None:
        unknown = random_hash()
        with reverts("ConsortiumUnknownDepartment", unknown):
            network.send(network.catalog.functions.setIssuer(MARRIAGE, unknown, True), "issuer")

    def test_zero_schema_hash_is_refused(self, network: Network, reverts) -> None:
        with reverts("CatalogZeroValue"):
            network.send(network.catalog.functions.publishTypeVersion(MARRIAGE, b"\0" * 32), "issuer")

    def test_unknown_type_is_reported(self, network: Network, reverts) -> None:
        unknown = random_hash()
        with reverts("CatalogUnknownType", unknown):
            network.send(network.catalog.functions.publishTypeVersion(unknown, SCHEMA_V1), "issuer")


class TestIssuanceVersion:
    """What the registry asks before it remembers a permit: the type's current version, if the issuer may issue
    it now."""

    def test_is_the_current_version_for_an_authorised_issuer(self, network: Network) -> None:
        network.send(network.catalog.functions.publishTypeVersion(MARRIAGE, b"\x02" * 32), "issuer")
        assert network.catalog.functions.issuanceVersion(_type_id(network, MARRIAGE), _department_id(network, CIVIL)
                                                         ).call() == 2

    @pytest.mark.parametrize("type_id", [0, "next", 2**32 - 1], ids=["zero", "not-yet-registered", "largest"])
    def test_an_unknown_type_id_is_refused(self, network: Network, reverts, type_id: int | str) -> None:
        if type_id == "next":
            type_id = network.catalog.functions.typeCount().call() + 1
        with reverts("CatalogUnknownTypeId", type_id):
            read(network.catalog.functions.issuanceVersion(type_id, _department_id(network, CIVIL)))

    def test_a_deprecated_type_is_refused(self, network: Network, reverts) -> None:
        network.send(network.catalog.functions.setTypeStatus(MARRIAGE, TypeStatus.DEPRECATED), "issuer")
        with reverts("CatalogTypeDeprecated", MARRIAGE):
            read(network.catalog.functions.issuanceVersion(_type_id(network, MARRIAGE), _department_id(network, CIVIL)))

    def test_a_department_not_authorised_for_the_type_is_refused(self, network: Network, reverts) -> None:
        with reverts("CatalogIssuerNotAuthorised", MARRIAGE, HOUSING):
            read(network.catalog.functions.issuanceVersion(_type_id(network, MARRIAGE),
                                                           _department_id(network, HOUSING)))

    def test_an_issuer_withdrawn_from_the_type_is_refused(self, network: Network, reverts) -> None:
        network.send(network.catalog.functions.setIssuer(MARRIAGE, CIVIL, False), "issuer")
        with reverts("CatalogIssuerNotAuthorised", MARRIAGE, CIVIL):
            read(network.catalog.functions.issuanceVersion(_type_id(network, MARRIAGE), _department_id(network, CIVIL)))

    def test_an_unknown_department_id_is_refused_as_unauthorised(self, network: Network, reverts) -> None:
        """No department has the id: none is authorised under it (the error names the zero code)."""
        unknown = network.consortium.functions.departmentCount().call() + 1
        with reverts("CatalogIssuerNotAuthorised", MARRIAGE, b"\0" * 32):
            read(network.catalog.functions.issuanceVersion(_type_id(network, MARRIAGE), unknown))


class TestUsage:
    def test_relying_department_is_allowed_by_the_owner(self, network: Network) -> None:
        assert not network.catalog.functions.isRelyingDepartment(MARRIAGE, RELYING).call()
        network.send(network.catalog.functions.setRelyingDepartment(MARRIAGE, RELYING, True), "issuer")
        assert network.catalog.functions.isRelyingDepartment(MARRIAGE, RELYING).call()

    def test_service_item_is_allowed_by_the_owner(self, network: Network) -> None:
        network.send(network.catalog.functions.setServiceItemUse(MARRIAGE, SERVICE_ITEM, True), "issuer")
        assert network.catalog.functions.isServiceItemAllowed(MARRIAGE, SERVICE_ITEM).call()

    def test_unknown_service_item_is_refused(self, network: Network, reverts) -> None:
        unknown = random_hash()
        with reverts("CatalogUnknownServiceItem", unknown):
            network.send(network.catalog.functions.setServiceItemUse(MARRIAGE, unknown, True), "issuer")


class TestServiceItems:
    def test_service_item_lists_the_types_it_needs(self, network: Network) -> None:
        code, owner, _, required = network.catalog.functions.serviceItem(SERVICE_ITEM).call()
        assert (code, owner, list(required)) == (SERVICE_ITEM, RELYING, [MARRIAGE, PROPERTY])

    def test_service_item_needing_an_unknown_type_is_refused(self, network: Network, reverts) -> None:
        unknown = random_hash()
        with reverts("CatalogUnknownType", unknown):
            network.send(network.catalog.functions.registerServiceItem(random_hash(), "事项", [unknown]), "relying")

    def test_service_item_code_is_registered_once(self, network: Network, reverts) -> None:
        with reverts("CatalogServiceItemExists", SERVICE_ITEM):
            network.send(network.catalog.functions.registerServiceItem(SERVICE_ITEM, "重复", []), "relying")

    def test_the_owner_handles_its_item(self, network: Network) -> None:
        assert network.catalog.functions.isServiceItemHandler(SERVICE_ITEM, RELYING).call()
        assert not network.catalog.functions.isServiceItemHandler(SERVICE_ITEM, HOUSING).call()

    def test_the_owner_adds_and_removes_handlers(self, network: Network) -> None:
        network.send(network.catalog.functions.setServiceItemHandler(SERVICE_ITEM, HOUSING, True), "relying")
        assert network.catalog.functions.isServiceItemHandler(SERVICE_ITEM, HOUSING).call()
        network.send(network.catalog.functions.setServiceItemHandler(SERVICE_ITEM, HOUSING, False), "relying")
        assert not network.catalog.functions.isServiceItemHandler(SERVICE_ITEM, HOUSING).call()

    def test_the_owner_cannot_stop_handling_its_own_item(self, network: Network) -> None:
        network.send(network.catalog.functions.setServiceItemHandler(SERVICE_ITEM, RELYING, False), "relying")
        assert network.catalog.functions.isServiceItemHandler(SERVICE_ITEM, RELYING).call()

    def test_handlers_of_an_unknown_item_are_refused(self, network: Network, reverts) -> None:
        unknown = random_hash()
        with reverts("CatalogUnknownServiceItem", unknown):
            network.send(network.catalog.functions.setServiceItemHandler(unknown, HOUSING, True), "relying")
        with reverts("CatalogUnknownServiceItem", unknown):
            read(network.catalog.functions.isServiceItemHandler(unknown, HOUSING))


class TestOwnership:
    def test_the_owner_transfers_its_type(self, network: Network) -> None:
        receipt = network.send(network.catalog.functions.transferTypeOwnership(MARRIAGE, HOUSING), "issuer")
        event = network.catalog.events.TypeOwnershipTransferred().process_receipt(receipt, errors=DISCARD)[0]["args"]
        assert (event["certificateType"], event["previousOwner"], event["owner"]) == (MARRIAGE, CIVIL, HOUSING)
        assert _type(network, MARRIAGE)[1] == HOUSING

    def test_the_new_owner_manages_the_type_and_the_old_one_no_longer(self, network: Network, reverts) -> None:
        network.send(network.catalog.functions.transferTypeOwnership(MARRIAGE, HOUSING), "issuer")
        network.send(network.catalog.functions.publishTypeVersion(MARRIAGE, b"\x02" * 32), "other_issuer")
        with reverts("CatalogNotTypeOwner", MARRIAGE, CIVIL):
            network.send(network.catalog.functions.publishTypeVersion(MARRIAGE, b"\x03" * 32), "issuer")

    def test_the_previous_owner_keeps_its_issuer_authorisation(self, network: Network) -> None:
        network.send(network.catalog.functions.transferTypeOwnership(MARRIAGE, HOUSING), "issuer")
        network.issue("issuer", MARRIAGE)

    def test_governance_transfers_a_type(self, network: Network) -> None:
        network.govern(network.catalog.functions.transferTypeOwnership(PROPERTY, CIVIL))
        assert _type(network, PROPERTY)[1] == CIVIL

    def test_a_type_passes_only_to_an_active_department(self, network: Network, reverts) -> None:
        with reverts("CatalogNewOwnerNotActive", SUSPENDED):
            network.send(network.catalog.functions.transferTypeOwnership(MARRIAGE, SUSPENDED), "issuer")

    def test_a_type_passes_only_to_a_known_department(self, network: Network, reverts) -> None:
        unknown = random_hash()
        with reverts("ConsortiumUnknownDepartment", unknown):
            network.send(network.catalog.functions.transferTypeOwnership(MARRIAGE, unknown), "issuer")

    def test_the_owner_transfers_its_service_item(self, network: Network) -> None:
        receipt = network.send(network.catalog.functions.transferServiceItemOwnership(SERVICE_ITEM, HOUSING), "relying")
        event = network.catalog.events.ServiceItemOwnershipTransferred().process_receipt(receipt, errors=DISCARD)[0]["args"]
        assert (event["serviceItem"], event["previousOwner"], event["owner"]) == (SERVICE_ITEM, RELYING, HOUSING)
        assert network.catalog.functions.serviceItem(SERVICE_ITEM).call()[1] == HOUSING

    def test_the_new_item_owner_handles_it_and_the_old_one_no_longer(self, network: Network) -> None:
        network.send(network.catalog.functions.transferServiceItemOwnership(SERVICE_ITEM, HOUSING), "relying")
        assert network.catalog.functions.isServiceItemHandler(SERVICE_ITEM, HOUSING).call()
        assert not network.catalog.functions.isServiceItemHandler(SERVICE_ITEM, RELYING).call()

    def test_the_old_item_owner_can_no_longer_manage_it(self, network: Network, reverts) -> None:
        network.send(network.catalog.functions.transferServiceItemOwnership(SERVICE_ITEM, HOUSING), "relying")
        with reverts("CatalogNotServiceItemOwner", SERVICE_ITEM, RELYING):
            network.send(network.catalog.functions.setServiceItemHandler(SERVICE_ITEM, CIVIL, True), "relying")

    def test_governance_transfers_a_service_item(self, network: Network) -> None:
        network.govern(network.catalog.functions.transferServiceItemOwnership(SERVICE_ITEM, CIVIL))
        assert network.catalog.functions.serviceItem(SERVICE_ITEM).call()[1] == CIVIL

    def test_a_service_item_passes_only_to_an_active_department(self, network: Network, reverts) -> None:
        with reverts("CatalogNewOwnerNotActive", SUSPENDED):
            network.send(network.catalog.functions.transferServiceItemOwnership(SERVICE_ITEM, SUSPENDED), "relying")


class TestGovernanceForARemovedOwner:
    """Civil affairs, owner of the marriage type, and the tax bureau, owner of the service item, are
    removed: governance changes what they alone could change before."""

    def _remove_owners(self, network: Network) -> None:
        network.govern(network.consortium.functions.setStatus(CIVIL, DepartmentStatus.REMOVED),
                       network.consortium.functions.setStatus(RELYING, DepartmentStatus.REMOVED))

    def test_governance_publishes_a_type_version(self, network: Network) -> None:
        self._remove_owners(network)
        network.govern(network.catalog.functions.publishTypeVersion(MARRIAGE, b"\x02" * 32))
        assert _type(network, MARRIAGE)[2:5:2] == (2, b"\x02" * 32)

    def test_governance_allows_a_relying_department(self, network: Network) -> None:
        self._remove_owners(network)
        network.govern(network.catalog.functions.setRelyingDepartment(MARRIAGE, HOUSING, True))
        assert network.catalog.functions.isRelyingDepartment(MARRIAGE, HOUSING).call()

    def test_governance_allows_a_service_item(self, network: Network) -> None:
        self._remove_owners(network)
        network.govern(network.catalog.functions.setServiceItemUse(MARRIAGE, SERVICE_ITEM, True))
        assert network.catalog.functions.isServiceItemAllowed(MARRIAGE, SERVICE_ITEM).call()

    def test_governance_adds_a_service_item_handler(self, network: Network) -> None:
        self._remove_owners(network)
        network.govern(network.catalog.functions.setServiceItemHandler(SERVICE_ITEM, HOUSING, True))
        assert network.catalog.functions.isServiceItemHandler(SERVICE_ITEM, HOUSING).call()

    def test_governance_hands_a_removed_owners_type_to_another_department(self, network: Network) -> None:
        self._remove_owners(network)
        network.govern(network.catalog.functions.transferTypeOwnership(MARRIAGE, HOUSING))
        network.send(network.catalog.functions.setRelyingDepartment(MARRIAGE, RELYING, False), "other_issuer")
        assert _type(network, MARRIAGE)[1] == HOUSING

    def test_a_removed_owner_itself_can_change_nothing(self, network: Network, reverts) -> None:
        self._remove_owners(network)
        with reverts("ConsortiumDepartmentNotActive", CIVIL, DepartmentStatus.REMOVED):
            network.send(network.catalog.functions.transferTypeOwnership(MARRIAGE, HOUSING), "issuer")


class TestSnapshots:
    def test_every_version_of_a_departments_catalog_stays_queryable(self, network: Network) -> None:
        hashes = [random_hash() for _ in range(3)]
        for i, content_hash in enumerate(hashes):
            network.send(network.catalog.functions.anchorCatalogSnapshot(content_hash, f"https://c/{i}.json"), "issuer")
        assert network.catalog.functions.snapshotCount(CIVIL).call() == 3
        stored = [network.catalog.functions.snapshot(CIVIL, v).call() for v in (1, 2, 3)]
        assert [s[0] for s in stored] == hashes and stored[2][3] == "https://c/2.json"

    def test_a_missing_version_is_reported(self, network: Network, reverts) -> None:
        with reverts("CatalogUnknownSnapshot", CIVIL, 1):
            read(network.catalog.functions.snapshot(CIVIL, 1))


def _type_id(network: Network, code: bytes) -> int:
    return network.catalog.functions.certificateType(code).call()[1]


def _department_id(network: Network, code: bytes) -> int:
    return network.consortium.functions.departmentId(code).call()


def _type(network: Network, code: bytes) -> tuple:
    record = network.catalog.functions.certificateType(code).call()
    return record[0], record[2], record[3], record[4], record[6]
