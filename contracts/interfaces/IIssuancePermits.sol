// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The registry's cache of issuance permissions, and the hooks that keep it exact.
/// @notice The registry remembers, per (signing key, certificate type), what the full check of an
/// issuance found: the key's department, the type's id and current version. The Consortium and the
/// Catalog call these hooks on every change that can withdraw a permission or change the version,
/// and the registry forgets every permit the change could touch; the next issuance checks in full
/// again. A forgotten permit only costs gas, so forgetting is coarse: by department or by type.
interface IIssuancePermits {
    /// @notice Only the Consortium (departments) or the Catalog (types) may make the registry forget permits.
    error PermitsUnauthorised(address caller);

    /// @notice Forgets the permits of every key of department `departmentId` (its roles or status
    /// changed, or one of its keys stopped signing).
    /// @dev Caller: the Consortium the registry was deployed with.
    function forgetDepartmentPermits(uint32 departmentId) external;

    /// @notice Forgets every permit for type `typeId` (status changed, version published, an issuer withdrawn).
    /// @dev Caller: the Catalog the registry was deployed with (which reaches the registry the
    /// Consortium names at the time).
    function forgetTypePermits(uint32 typeId) external;

    /// @notice What the registry remembers of `key`'s permission to issue type `typeId` (all zero:
    /// nothing; the next issuance checks in full). For operators and tests: issuance never needs it.
    function issuancePermit(address key, uint32 typeId)
        external
        view
        returns (uint32 issuerId, uint32 permittedTypeId, uint32 typeVersion);
}
