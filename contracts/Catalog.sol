// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {ICatalog} from "./interfaces/ICatalog.sol";
import {IIssuancePermits} from "./interfaces/IIssuancePermits.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {ConsortiumMember} from "./ConsortiumMember.sol";
import {ANY_ROLE, ROLE_ISSUER, ROLE_RELYING_PARTY, DepartmentStatus} from "./Common.sol";

/// @title Catalog
/// @notice Certificate types, service items and department catalog snapshots. See {ICatalog}.
contract Catalog is ICatalog, ConsortiumMember {
    using BitMaps for BitMaps.BitMap;

    /// @dev One slot: id | owner | version | status | registeredAt (18 bytes), read once per issuance.
    struct TypeRecord {
        uint32 id;
        uint32 ownerId;
        uint32 version;
        TypeStatus status;
        uint40 registeredAt;
    }

    struct ServiceItemRecord {
        uint32 ownerId;
        uint40 registeredAt;
        bytes32[] requiredTypes;
    }

    mapping(bytes32 typeCode => TypeRecord) private _types;
    mapping(uint32 typeId => bytes32 typeCode) private _typeCodes;
    mapping(bytes32 typeCode => mapping(uint32 version => bytes32 schemaHash)) private _schemas;
    /// @dev Department ids as bit indexes: departments 1..255 of a type share one slot.
    mapping(bytes32 typeCode => BitMaps.BitMap) private _issuers;
    mapping(bytes32 typeCode => BitMaps.BitMap) private _relyingDepartments;
    mapping(bytes32 typeCode => mapping(bytes32 serviceItem => bool)) private _serviceItemUse;
    mapping(bytes32 serviceItem => ServiceItemRecord) private _serviceItems;
    /// @dev Departments besides the owner that handle an item, by department id.
    mapping(bytes32 serviceItem => BitMaps.BitMap) private _itemHandlers;
    mapping(uint32 departmentId => CatalogSnapshot[]) private _snapshots;
    uint32 private _typeCount;

    constructor(IConsortium consortium_) ConsortiumMember(consortium_) {}

    // ----- certificate types -----

    /// @inheritdoc ICatalog
    function registerType(bytes32 code, bytes32 schemaHash_, string calldata name, bytes32[] calldata issuers)
        external
    {
        (uint32 ownerId, bytes32 ownerCode) = _callerDepartment(ROLE_ISSUER);
        if (code == bytes32(0) || schemaHash_ == bytes32(0)) revert CatalogZeroValue();
        if (_types[code].id != 0) revert CatalogTypeExists(code);
        uint32 id = ++_typeCount;
        _types[code] = TypeRecord({
            id: id,
            ownerId: ownerId,
            version: 1,
            status: TypeStatus.Active,
            registeredAt: _time()
        });
        _typeCodes[id] = code;
        _schemas[code][1] = schemaHash_;
        emit TypeRegistered(code, ownerCode, id, schemaHash_, name);
        for (uint256 i = 0; i < issuers.length; ++i) {
            _setIssuer(code, issuers[i], true);
        }
    }

    /// @inheritdoc ICatalog
    function publishTypeVersion(bytes32 code, bytes32 schemaHash_) external {
        TypeRecord storage record = _managedType(code);
        if (schemaHash_ == bytes32(0)) revert CatalogZeroValue();
        uint32 version = ++record.version;
        _schemas[code][version] = schemaHash_;
        emit TypeVersionPublished(code, version, schemaHash_);
        _forgetPermits(record.id);
    }

    /// @inheritdoc ICatalog
    function setTypeStatus(bytes32 code, TypeStatus status) external {
        TypeRecord storage record = _managedType(code);
        if (status == TypeStatus.None) revert CatalogInvalidStatus(code, status);
        record.status = status;
        emit TypeStatusChanged(code, status);
        _forgetPermits(record.id);
    }

    /// @inheritdoc ICatalog
    function setIssuer(bytes32 code, bytes32 department, bool allowed) external {
        TypeRecord storage record = _managedType(code);
        _setIssuer(code, department, allowed);
        if (!allowed) _forgetPermits(record.id);
    }

    /// @inheritdoc ICatalog
    function setRelyingDepartment(bytes32 code, bytes32 department, bool allowed) external {
        _managedType(code);
        _relyingDepartments[code].setTo(consortium.departmentId(department), allowed);
        emit RelyingDepartmentChanged(code, department, allowed);
    }

    /// @inheritdoc ICatalog
    function setServiceItemUse(bytes32 code, bytes32 item, bool allowed) external {
        _managedType(code);
        _requireServiceItem(item);
        _serviceItemUse[code][item] = allowed;
        emit ServiceItemUseChanged(code, item, allowed);
    }

    /// @inheritdoc ICatalog
    function transferTypeOwnership(bytes32 code, bytes32 newOwner) external {
        TypeRecord storage record = _managedType(code);
        uint32 previousOwnerId = record.ownerId;
        record.ownerId = _activeDepartmentId(newOwner);
        emit TypeOwnershipTransferred(code, consortium.departmentCode(previousOwnerId), newOwner);
    }

    // ----- service items and snapshots -----

    /// @inheritdoc ICatalog
    function registerServiceItem(bytes32 code, string calldata name, bytes32[] calldata requiredTypes) external {
        (uint32 ownerId, bytes32 ownerCode) = _callerDepartment(ROLE_RELYING_PARTY);
        if (code == bytes32(0)) revert CatalogZeroValue();
        if (_serviceItems[code].ownerId != 0) revert CatalogServiceItemExists(code);
        for (uint256 i = 0; i < requiredTypes.length; ++i) {
            _requireType(requiredTypes[i]);
        }
        _serviceItems[code] = ServiceItemRecord({ownerId: ownerId, registeredAt: _time(), requiredTypes: requiredTypes});
        emit ServiceItemRegistered(code, ownerCode, requiredTypes, name);
    }

    /// @inheritdoc ICatalog
    function setServiceItemHandler(bytes32 code, bytes32 department, bool allowed) external {
        _managedServiceItem(code);
        _itemHandlers[code].setTo(consortium.departmentId(department), allowed);
        emit ServiceItemHandlerChanged(code, department, allowed);
    }

    /// @inheritdoc ICatalog
    function transferServiceItemOwnership(bytes32 code, bytes32 newOwner) external {
        ServiceItemRecord storage record = _managedServiceItem(code);
        uint32 previousOwnerId = record.ownerId;
        record.ownerId = _activeDepartmentId(newOwner);
        emit ServiceItemOwnershipTransferred(code, consortium.departmentCode(previousOwnerId), newOwner);
    }

    /// @inheritdoc ICatalog
    function anchorCatalogSnapshot(bytes32 contentHash, string calldata uri) external returns (uint32 version) {
        (uint32 departmentId, bytes32 departmentCode) = _callerDepartment(ANY_ROLE);
        if (contentHash == bytes32(0)) revert CatalogZeroValue();
        // Pushed through the mapping itself (not a storage pointer) so that static analysis sees the write.
        _snapshots[departmentId].push(
            CatalogSnapshot({contentHash: contentHash, anchoredAt: _time(), anchoredBlock: uint64(block.number), uri: uri})
        );
        version = uint32(_snapshots[departmentId].length);
        emit CatalogSnapshotAnchored(departmentCode, version, contentHash, uri);
    }

    // ----- views -----

    /// @inheritdoc ICatalog
    function issuanceVersion(uint32 typeId, uint32 issuerId) external view returns (uint32 version) {
        bytes32 code = _typeCodes[typeId];
        if (code == bytes32(0)) revert CatalogUnknownTypeId(typeId);
        TypeRecord storage record = _types[code];
        if (record.status != TypeStatus.Active) revert CatalogTypeDeprecated(code);
        if (!_issuers[code].get(issuerId)) revert CatalogIssuerNotAuthorised(code, consortium.departmentCode(issuerId));
        return record.version;
    }

    /// @inheritdoc ICatalog
    function certificateType(bytes32 code) external view returns (CertificateType memory) {
        TypeRecord storage record = _requireType(code);
        return CertificateType({
            code: code,
            id: record.id,
            owner: consortium.departmentCode(record.ownerId),
            version: record.version,
            status: record.status,
            registeredAt: record.registeredAt,
            schemaHash: _schemas[code][record.version]
        });
    }

    /// @inheritdoc ICatalog
    function typeCode(uint32 id) external view returns (bytes32) {
        return _typeCodes[id];
    }

    /// @inheritdoc ICatalog
    function schemaHash(bytes32 code, uint32 version) external view returns (bytes32) {
        return _schemas[code][version];
    }

    /// @inheritdoc ICatalog
    function typeCount() external view returns (uint32) {
        return _typeCount;
    }

    /// @inheritdoc ICatalog
    function isIssuer(bytes32 code, bytes32 department) external view returns (bool) {
        return _issuers[code].get(consortium.departmentId(department));
    }

    /// @inheritdoc ICatalog
    function isRelyingDepartment(bytes32 code, bytes32 department) external view returns (bool) {
        return _relyingDepartments[code].get(consortium.departmentId(department));
    }

    /// @inheritdoc ICatalog
    function isServiceItemAllowed(bytes32 code, bytes32 item) external view returns (bool) {
        return _serviceItemUse[code][item];
    }

    /// @inheritdoc ICatalog
    function serviceItem(bytes32 code) external view returns (ServiceItem memory) {
        ServiceItemRecord storage record = _requireServiceItem(code);
        return ServiceItem({
            code: code,
            owner: consortium.departmentCode(record.ownerId),
            registeredAt: record.registeredAt,
            requiredTypes: record.requiredTypes
        });
    }

    /// @inheritdoc ICatalog
    function isServiceItemHandler(bytes32 code, bytes32 department) external view returns (bool) {
        ServiceItemRecord storage record = _requireServiceItem(code);
        uint32 departmentId = consortium.departmentId(department);
        return departmentId == record.ownerId || _itemHandlers[code].get(departmentId);
    }

    /// @inheritdoc ICatalog
    function snapshotCount(bytes32 department) external view returns (uint32) {
        return uint32(_snapshots[consortium.departmentId(department)].length);
    }

    /// @inheritdoc ICatalog
    function snapshot(bytes32 department, uint32 version) external view returns (CatalogSnapshot memory) {
        CatalogSnapshot[] storage snapshots = _snapshots[consortium.departmentId(department)];
        if (version == 0 || version > snapshots.length) revert CatalogUnknownSnapshot(department, version);
        return snapshots[version - 1];
    }

    // ----- internals -----

    function _setIssuer(bytes32 code, bytes32 department, bool allowed) private {
        _issuers[code].setTo(consortium.departmentId(department), allowed);
        emit IssuerAuthorisationChanged(code, department, allowed);
    }

    /// @dev The registry the consortium names now (it changes when a registry retires) forgets what
    /// it remembered of the permission to issue this type. A registry not deployed (yet) at that
    /// address has nothing to forget.
    function _forgetPermits(uint32 typeId) private {
        address permits = consortium.issuancePermits();
        if (permits.code.length != 0) IIssuancePermits(permits).forgetTypePermits(typeId);
    }

    function _requireServiceItem(bytes32 code) private view returns (ServiceItemRecord storage record) {
        record = _serviceItems[code];
        if (record.ownerId == 0) revert CatalogUnknownServiceItem(code);
    }

    function _requireType(bytes32 code) private view returns (TypeRecord storage record) {
        record = _types[code];
        if (record.id == 0) revert CatalogUnknownType(code);
    }

    /// @dev The type, if the caller is governance or a key of its owning, active department.
    function _managedType(bytes32 code) private view returns (TypeRecord storage record) {
        record = _requireType(code);
        if (_isGovernance()) return record;
        (uint32 callerId, bytes32 callerCode) = _callerDepartment(ANY_ROLE);
        if (callerId != record.ownerId) revert CatalogNotTypeOwner(code, callerCode);
    }

    /// @dev The service item, if the caller is governance or a key of its owning, active department.
    function _managedServiceItem(bytes32 code) private view returns (ServiceItemRecord storage record) {
        record = _requireServiceItem(code);
        if (_isGovernance()) return record;
        (uint32 callerId, bytes32 callerCode) = _callerDepartment(ANY_ROLE);
        if (callerId != record.ownerId) revert CatalogNotServiceItemOwner(code, callerCode);
    }

    /// @dev The id of `department`, which must be active to take over a type or item.
    function _activeDepartmentId(bytes32 department) private view returns (uint32) {
        IConsortium.Department memory record = consortium.department(department);
        if (record.status != DepartmentStatus.Active) revert CatalogNewOwnerNotActive(department);
        return record.id;
    }
}
