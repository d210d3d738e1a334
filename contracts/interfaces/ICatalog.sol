// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The catalog: certificate types, service items and department catalog snapshots.
/// @notice A certificate type belongs to the department that registered it, a service item to
/// the department that registered it, until its owner or governance transfers it to another
/// active department. The owner decides which departments may issue a type, which relying
/// departments and service items may use it, publishes new schema versions (the version only goes
/// up) and, for an item, which other departments handle it. Governance (an executed Consortium
/// proposal) may make every one of these changes in the owner's place, so that a removed or merged
/// department freezes nothing. Every department anchors the hash of each published version of its
/// own data catalog; every version stays queryable.
interface ICatalog {
    enum TypeStatus {
        None,
        Active,
        Deprecated
    }

    /// @notice A certificate type as returned by {certificateType}.
    struct CertificateType {
        bytes32 code;
        uint32 id;
        bytes32 owner;
        uint32 version;
        TypeStatus status;
        uint40 registeredAt;
        bytes32 schemaHash;
    }

    /// @notice A service item (办件事项) as returned by {serviceItem}.
    struct ServiceItem {
        bytes32 code;
        bytes32 owner;
        uint40 registeredAt;
        bytes32[] requiredTypes;
    }

    /// @notice One anchored version of a department's data catalog.
    struct CatalogSnapshot {
        bytes32 contentHash;
        uint40 anchoredAt;
        uint64 anchoredBlock;
        string uri;
    }

    /// @notice A department registered a certificate type (version 1).
    event TypeRegistered(bytes32 indexed certificateType, bytes32 indexed owner, uint32 id, bytes32 schemaHash, string name);
    /// @notice The type's owner published a new schema version.
    event TypeVersionPublished(bytes32 indexed certificateType, uint32 version, bytes32 schemaHash);
    /// @notice The type was deprecated or reactivated.
    event TypeStatusChanged(bytes32 indexed certificateType, TypeStatus status);
    /// @notice A department was allowed or no longer allowed to issue the type.
    event IssuerAuthorisationChanged(bytes32 indexed certificateType, bytes32 indexed department, bool allowed);
    /// @notice A relying department was allowed or no longer allowed to use the type.
    event RelyingDepartmentChanged(bytes32 indexed certificateType, bytes32 indexed department, bool allowed);
    /// @notice A service item was allowed or no longer allowed to use the type.
    event ServiceItemUseChanged(bytes32 indexed certificateType, bytes32 indexed serviceItem, bool allowed);
    /// @notice A department registered a service item that needs the given certificate types.
    event ServiceItemRegistered(bytes32 indexed serviceItem, bytes32 indexed owner, bytes32[] requiredTypes, string name);
    /// @notice The item's owner let another department handle the item, or stopped it.
    event ServiceItemHandlerChanged(bytes32 indexed serviceItem, bytes32 indexed department, bool allowed);
    /// @notice The type passed to another owning department (by its owner or by governance).
    event TypeOwnershipTransferred(bytes32 indexed certificateType, bytes32 indexed previousOwner, bytes32 indexed owner);
    /// @notice The service item passed to another owning department (by its owner or by governance).
    event ServiceItemOwnershipTransferred(bytes32 indexed serviceItem, bytes32 indexed previousOwner, bytes32 indexed owner);
    /// @notice A department anchored a version of its data catalog.
    event CatalogSnapshotAnchored(bytes32 indexed department, uint32 indexed version, bytes32 contentHash, string uri);

    /// @notice No type has this code.
    error CatalogUnknownType(bytes32 certificateType);
    /// @notice No type has this id.
    error CatalogUnknownTypeId(uint32 typeId);
    /// @notice A type with this code exists.
    error CatalogTypeExists(bytes32 certificateType);
    /// @notice The type is deprecated: nothing new may be issued under it.
    error CatalogTypeDeprecated(bytes32 certificateType);
    /// @notice The caller's department does not own the type.
    error CatalogNotTypeOwner(bytes32 certificateType, bytes32 department);
    /// @notice The department is not authorised to issue the type.
    error CatalogIssuerNotAuthorised(bytes32 certificateType, bytes32 department);
    /// @notice The status change is not a deprecation or reactivation.
    error CatalogInvalidStatus(bytes32 certificateType, TypeStatus status);
    /// @notice A zero code or schema hash.
    error CatalogZeroValue();
    /// @notice No service item has this code.
    error CatalogUnknownServiceItem(bytes32 serviceItem);
    /// @notice A service item with this code exists.
    error CatalogServiceItemExists(bytes32 serviceItem);
    /// @notice The caller's department does not own the service item.
    error CatalogNotServiceItemOwner(bytes32 serviceItem, bytes32 department);
    /// @notice A type or item can pass only to an active department.
    error CatalogNewOwnerNotActive(bytes32 department);
    /// @notice The department has not anchored this catalog version.
    error CatalogUnknownSnapshot(bytes32 department, uint32 version);

    // ----- certificate types -----

    /// @notice Registers a type owned by the caller's department, with its first issuers.
    /// @dev Caller: a key of an active department with the issuer role.
    function registerType(bytes32 code, bytes32 schemaHash, string calldata name, bytes32[] calldata issuers) external;

    /// @notice Publishes a new schema version; certificates issued later record it.
    /// @dev Caller: a key of the type's owning, active department, or governance.
    function publishTypeVersion(bytes32 code, bytes32 schemaHash) external;

    /// @notice Deprecates (no further issuance) or reactivates a type.
    /// @dev Caller: the owning, active department, or governance.
    function setTypeStatus(bytes32 code, TypeStatus status) external;

    /// @notice Allows or disallows a department to issue the type.
    /// @dev Caller: the owning, active department, or governance.
    function setIssuer(bytes32 code, bytes32 department, bool allowed) external;

    /// @notice Allows or disallows a relying department to use certificates of the type.
    /// @dev Caller: the owning, active department, or governance.
    function setRelyingDepartment(bytes32 code, bytes32 department, bool allowed) external;

    /// @notice Allows or disallows a service item to use certificates of the type.
    /// @dev Caller: the owning, active department, or governance.
    function setServiceItemUse(bytes32 code, bytes32 serviceItem, bool allowed) external;

    /// @notice Makes `newOwner` the type's owner; the previous owner keeps only what it was
    /// authorised for (e.g. issuing).
    /// @dev Caller: the owning, active department, or governance. `newOwner` must be active.
    function transferTypeOwnership(bytes32 code, bytes32 newOwner) external;

    // ----- service items and snapshots -----

    /// @notice Registers a service item handled by the caller's department.
    /// @dev Caller: a key of an active department with the relying-party role.
    function registerServiceItem(bytes32 code, string calldata name, bytes32[] calldata requiredTypes) external;

    /// @notice Lets another department handle the item too (e.g. district offices), or stops it.
    /// The owner always handles its item.
    /// @dev Caller: a key of the item's owning, active department, or governance.
    function setServiceItemHandler(bytes32 code, bytes32 department, bool allowed) external;

    /// @notice Makes `newOwner` the item's owner (and so a handler of it); the previous owner
    /// handles it only if it was added as a handler.
    /// @dev Caller: a key of the item's owning, active department, or governance. `newOwner` must be active.
    function transferServiceItemOwnership(bytes32 code, bytes32 newOwner) external;

    /// @notice Anchors the hash (and where to fetch it) of the next version of the caller's data catalog.
    /// @dev Caller: a key of any active department.
    function anchorCatalogSnapshot(bytes32 contentHash, string calldata uri) external returns (uint32 version);

    // ----- views -----

    /// @notice What the registry needs to issue: the current version of type `typeId`, if `issuerId`
    /// may issue it now. Reverts with the reason otherwise.
    function issuanceVersion(uint32 typeId, uint32 issuerId) external view returns (uint32 version);

    /// @notice A type, with the schema hash of its current version.
    function certificateType(bytes32 code) external view returns (CertificateType memory);

    /// @notice The code of the type with this id (ids start at 1).
    function typeCode(uint32 id) external view returns (bytes32);

    /// @notice The schema hash of a given version of a type (zero if that version does not exist).
    function schemaHash(bytes32 code, uint32 version) external view returns (bytes32);

    /// @notice Number of types registered.
    function typeCount() external view returns (uint32);

    /// @notice Whether a department may issue the type (ignoring its status and the department's).
    function isIssuer(bytes32 code, bytes32 department) external view returns (bool);

    /// @notice Whether a relying department may use the type.
    function isRelyingDepartment(bytes32 code, bytes32 department) external view returns (bool);

    /// @notice Whether a service item may use the type.
    function isServiceItemAllowed(bytes32 code, bytes32 serviceItem) external view returns (bool);

    /// @notice A service item.
    function serviceItem(bytes32 code) external view returns (ServiceItem memory);

    /// @notice Whether the department handles the item: its owner, or one the owner added.
    function isServiceItemHandler(bytes32 code, bytes32 department) external view returns (bool);

    /// @notice Number of catalog versions a department has anchored.
    function snapshotCount(bytes32 department) external view returns (uint32);

    /// @notice One anchored catalog version of a department (versions start at 1).
    function snapshot(bytes32 department, uint32 version) external view returns (CatalogSnapshot memory);
}
