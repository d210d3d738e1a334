// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ICatalog} from "./interfaces/ICatalog.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {IIssuancePermits} from "./interfaces/IIssuancePermits.sol";
import {ConsortiumMember} from "./ConsortiumMember.sol";
import {ROLE_ISSUER} from "./Common.sol";

/// @dev Most permits a department's list or a type's list holds. A list that is full is emptied
/// (its permits forgotten) before the next one is added, so that forgetting a list costs at most
/// this many slot deletions in the call that triggers it.
uint256 constant PERMIT_LIST_LIMIT = 128;

/// @title IssuancePermits
/// @notice The registry's exact cache of issuance permissions. See {IIssuancePermits}.
/// @dev Issuance needs: the caller key is a current key of an active department with the issuer
/// role (Consortium), the type is active and that department may issue it, at the type's current
/// version (Catalog). Asked in full that is two cold calls and four cold slots; a permit is one
/// slot. Every permit is listed under its department and under its type, so the hooks find every
/// permit a change touches; a list may also hold ids of permits already forgotten (forgetting more
/// is always safe, forgetting less never happens).
abstract contract IssuancePermits is IIssuancePermits, ConsortiumMember {
    /// @notice The catalog that says who may issue which certificate type.
    ICatalog public immutable catalog;

    /// @dev What the full check found for one (key, type), packed in one slot as the first 12 bytes
    /// of an anchor are: issuerId | typeId << 32 | typeVersion << 64; zero: none. The id is the key and
    /// the type id side by side ({_permitId}): unique without hashing.
    mapping(bytes32 permitId => uint256 permit) private _permits;
    mapping(uint32 departmentId => bytes32[] permitIds) private _departmentPermits;
    mapping(uint32 typeId => bytes32[] permitIds) private _typePermits;

    constructor(IConsortium consortium_, ICatalog catalog_) ConsortiumMember(consortium_) {
        catalog = catalog_;
    }

    /// @inheritdoc IIssuancePermits
    function forgetDepartmentPermits(uint32 departmentId) external {
        if (msg.sender != address(consortium)) revert PermitsUnauthorised(msg.sender);
        _forgetAll(_departmentPermits[departmentId]);
    }

    /// @inheritdoc IIssuancePermits
    function forgetTypePermits(uint32 typeId) external {
        if (msg.sender != address(catalog)) revert PermitsUnauthorised(msg.sender);
        _forgetAll(_typePermits[typeId]);
    }

    /// @inheritdoc IIssuancePermits
    function issuancePermit(address key, uint32 typeId)
        external
        view
        returns (uint32 issuerId, uint32 permittedTypeId, uint32 typeVersion)
    {
        uint256 permit = _permits[_permitId(key, typeId)];
        return (uint32(permit), uint32(permit >> 32), uint32(permit >> 64));
    }

    /// @dev The caller's permit to issue type `typeId`: the remembered one, or else the full check's
    /// (which reverts with the Consortium's or the Catalog's reason), remembered.
    function _issuancePermit(uint32 typeId) internal returns (uint256 permit) {
        // _permitId(msg.sender, typeId), written out: the compiler does not clean msg.sender (18 gas).
        bytes32 permitId = bytes32(uint256(uint160(msg.sender)) << 32 | typeId);
        permit = _permits[permitId];
        if (permit == 0) permit = _checkAndRemember(permitId, typeId);
    }

    /// @dev Reverts unless this registry may issue now: the one the consortium names (so the hooks
    /// reach it), not retired. Only the slow path asks: a registry that may not issue holds no permit.
    function _requireActive() internal view virtual;

    function _checkAndRemember(bytes32 permitId, uint32 typeId) private returns (uint256 permit) {
        _requireActive();
        // slither-disable-next-line unused-return (a permit records the department's id; its code is not needed)
        (uint32 issuerId,) = _callerDepartment(ROLE_ISSUER);
        uint32 typeVersion = catalog.issuanceVersion(typeId, issuerId);
        permit = uint256(issuerId) | uint256(typeId) << 32 | uint256(typeVersion) << 64;
        _list(_departmentPermits[issuerId], permitId);
        _list(_typePermits[typeId], permitId);
        _permits[permitId] = permit;
    }

    /// @dev Forgets every permit (the registry retires): each department's list, so at most
    /// departmentCount x PERMIT_LIST_LIMIT slots. The type lists keep ids of forgotten permits,
    /// which is safe (see above) and never read again, as a retired registry fills no permit.
    function _forgetEveryPermit() internal {
        uint32 departments = consortium.departmentCount();
        for (uint32 id = 1; id <= departments; ++id) {
            _forgetAll(_departmentPermits[id]);
        }
    }

    function _permitId(address key, uint32 typeId) private pure returns (bytes32) {
        return bytes32(uint256(uint160(key)) << 32 | typeId);
    }

    function _list(bytes32[] storage permitIds, bytes32 permitId) private {
        if (permitIds.length == PERMIT_LIST_LIMIT) _forgetAll(permitIds);
        permitIds.push(permitId);
    }

    function _forgetAll(bytes32[] storage permitIds) private {
        for (uint256 i = permitIds.length; i > 0; --i) {
            delete _permits[permitIds[i - 1]];
            permitIds.pop();
        }
    }
}
