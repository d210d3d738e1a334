// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ICertificateRegistry} from "./interfaces/ICertificateRegistry.sol";
import {ICatalog} from "./interfaces/ICatalog.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {ConsortiumMember} from "./ConsortiumMember.sol";
import {ANY_ROLE, NO_EXPIRATION, REASON_MAX_REVOKE, REASON_SUPERSEDED, ROLE_ISSUER} from "./Common.sol";

/// @title CertificateRegistry
/// @notice Anchors certificates alone or in Merkle batches and records their revocation and
/// supersession. See {ICertificateRegistry}.
contract CertificateRegistry is ICertificateRegistry, ConsortiumMember {
    /// @dev One slot per revoked certificate: revokedAt | reason | revokerId (10 bytes).
    struct Revocation {
        uint40 revokedAt;
        uint8 reason;
        uint32 revokerId;
    }

    /// @dev Where the registry is in its life, one slot read by every anchoring: active (it anchors)
    /// from deployment, or for a successor from its predecessor's retirement, until it is itself
    /// retired, when `successor` is set.
    struct Lifecycle {
        bool active;
        address successor;
    }

    /// @notice The catalog that says who may issue which certificate type.
    ICatalog public immutable catalog;
    /// @inheritdoc ICertificateRegistry
    ICertificateRegistry public immutable predecessor;

    /// @dev Single certificates and batch roots share one map: one slot each, written once
    /// (issuerId | typeId | typeVersion | issuedAt | issuedBlock | validUntil | memberCount = 31 bytes).
    /// memberCount is 0 for a single certificate.
    mapping(bytes32 hash => Anchor) private _anchors;
    mapping(bytes32 certificateHash => Revocation) private _revocations;
    mapping(bytes32 certificateHash => bytes32 successor) private _successors;
    Lifecycle private _lifecycle;

    /// @param predecessor_ the registry this one replaces (zero for a consortium's first): it
    /// anchors nothing the predecessors anchored, and only once the predecessor has retired.
    constructor(IConsortium consortium_, ICatalog catalog_, ICertificateRegistry predecessor_)
        ConsortiumMember(consortium_)
    {
        catalog = catalog_;
        predecessor = predecessor_;
        _lifecycle.active = address(predecessor_) == address(0);
    }

    /// @inheritdoc ICertificateRegistry
    function issue(bytes32 certificateHash, bytes32 certificateType, uint40 validUntil) external {
        (uint32 issuerId, bytes32 issuerCode) = _callerDepartment(ROLE_ISSUER);
        _issue(certificateHash, certificateType, validUntil, issuerId, issuerCode);
    }

    /// @inheritdoc ICertificateRegistry
    function anchorBatch(bytes32 batchRoot, bytes32 certificateType, uint32 memberCount, uint40 validUntil) external {
        (uint32 issuerId, bytes32 issuerCode) = _callerDepartment(ROLE_ISSUER);
        if (memberCount == 0) revert RegistryInvalidAnchor(batchRoot);
        uint32 typeVersion = _anchor(batchRoot, certificateType, validUntil, issuerId, memberCount);
        emit BatchAnchored(batchRoot, issuerCode, certificateType, typeVersion, memberCount, validUntil);
    }

    /// @inheritdoc ICertificateRegistry
    function revoke(bytes32 certificateHash, bytes32 batchRoot, bytes32[] calldata proof, uint8 reason) external {
        (uint32 callerId, bytes32 callerCode) = _callerDepartment(ANY_ROLE);
        if (reason > REASON_MAX_REVOKE) revert RegistryInvalidReason(reason);
        _revokeAsIssuer(certificateHash, batchRoot, proof, reason, callerId, callerCode);
    }

    /// @inheritdoc ICertificateRegistry
    function supersede(
        bytes32 certificateHash,
        bytes32 batchRoot,
        bytes32[] calldata proof,
        bytes32 successor,
        uint40 validUntil
    ) external {
        (uint32 callerId, bytes32 callerCode) = _callerDepartment(ROLE_ISSUER);
        uint32 typeId = _revokeAsIssuer(certificateHash, batchRoot, proof, REASON_SUPERSEDED, callerId, callerCode);
        _successors[certificateHash] = successor;
        _issue(successor, catalog.typeCode(typeId), validUntil, callerId, callerCode);
        emit CertificateSuperseded(certificateHash, successor, callerCode);
    }

    /// @inheritdoc ICertificateRegistry
    function retire(ICertificateRegistry successor_) external {
        if (!_isGovernance()) revert RegistryOnlyGovernance(msg.sender);
        _requireActive();
        if (address(successor_) == address(0) || address(successor_) == address(this)) {
            revert RegistryInvalidSuccessor(address(successor_));
        }
        _lifecycle = Lifecycle({active: false, successor: address(successor_)});
        emit RegistryRetired(address(successor_));
        successor_.takeOver(); // reverts unless this registry is the successor's predecessor
    }

    /// @inheritdoc ICertificateRegistry
    function takeOver() external {
        if (address(predecessor) == address(0) || msg.sender != address(predecessor)) {
            revert RegistryNotPredecessor(msg.sender);
        }
        _lifecycle.active = true;
        emit RegistryTookOver(msg.sender);
    }

    /// @inheritdoc ICertificateRegistry
    function successor() external view returns (address) {
        return _lifecycle.successor;
    }

    /// @inheritdoc ICertificateRegistry
    function isActive() external view returns (bool) {
        return _lifecycle.active;
    }

    /// @inheritdoc ICertificateRegistry
    function isAnchored(bytes32 hash) public view returns (bool) {
        return _anchors[hash].issuerId != 0 || (address(predecessor) != address(0) && predecessor.isAnchored(hash));
    }

    /// @inheritdoc ICertificateRegistry
    function certificateState(bytes32 certificateHash, bytes32 batchRoot, bytes32[] calldata proof)
        public
        view
        returns (CertificateState memory state)
    {
        Anchor memory anchor = _anchors[batchRoot == bytes32(0) ? certificateHash : batchRoot];
        if (!_isMember(anchor, certificateHash, batchRoot, proof)) return state;

        Revocation memory revocation = _revocations[certificateHash];
        state.issuer = consortium.departmentCode(anchor.issuerId);
        state.certificateType = catalog.typeCode(anchor.typeId);
        state.typeVersion = anchor.typeVersion;
        state.issuedAt = anchor.issuedAt;
        state.issuedBlock = anchor.issuedBlock;
        state.validUntil = anchor.validUntil;
        state.batchRoot = batchRoot;
        state.revokedAt = revocation.revokedAt;
        state.revocationReason = revocation.reason;
        state.supersededBy = _successors[certificateHash];
        if (state.supersededBy != bytes32(0)) state.status = CertificateStatus.Superseded;
        else if (revocation.revokedAt != 0) state.status = CertificateStatus.Revoked;
        else if (anchor.validUntil != NO_EXPIRATION && anchor.validUntil <= _time()) state.status = CertificateStatus.Expired;
        else state.status = CertificateStatus.Valid;
    }

    /// @inheritdoc ICertificateRegistry
    function verificationOf(bytes32 certificateHash, bytes32 batchRoot, bytes32[] calldata proof, address signer)
        external
        view
        returns (CertificateState memory state, bool signerWasIssuerKey, bytes32 schemaHash)
    {
        // Not anchored: issuer, type and version are zero, so both answers below are false and zero.
        state = certificateState(certificateHash, batchRoot, proof);
        signerWasIssuerKey = consortium.wasKeyOf(signer, state.issuer, state.issuedAt);
        schemaHash = catalog.schemaHash(state.certificateType, state.typeVersion);
    }

    /// @inheritdoc ICertificateRegistry
    function isBatchMember(bytes32 batchRoot, bytes32 certificateHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        return batchRoot != bytes32(0) && _isMember(_anchors[batchRoot], certificateHash, batchRoot, proof);
    }

    /// @inheritdoc ICertificateRegistry
    function anchorOf(bytes32 hash) external view returns (Anchor memory) {
        return _anchors[hash];
    }

    /// @inheritdoc ICertificateRegistry
    function leafOf(bytes32 certificateHash) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(certificateHash))));
    }

    // ----- internals -----

    function _issue(bytes32 certificateHash, bytes32 certificateType, uint40 validUntil, uint32 issuerId, bytes32 issuerCode)
        private
    {
        uint32 typeVersion = _anchor(certificateHash, certificateType, validUntil, issuerId, 0);
        emit CertificateIssued(certificateHash, issuerCode, certificateType, typeVersion, validUntil);
    }

    /// @dev Checks the registry is active, the catalog, that no registry version anchored the hash
    /// yet, and writes the anchor's single slot.
    function _anchor(bytes32 hash, bytes32 certificateType, uint40 validUntil, uint32 issuerId, uint32 memberCount)
        private
        returns (uint32 typeVersion)
    {
        _requireActive();
        if (hash == bytes32(0)) revert RegistryInvalidAnchor(hash);
        uint40 now_ = _time();
        if (validUntil != NO_EXPIRATION && validUntil <= now_) revert RegistryInvalidValidity(validUntil, now_);
        (uint32 typeId, uint32 version) = catalog.issuanceTerms(certificateType, issuerId);
        if (_anchors[hash].issuerId != 0) revert RegistryAlreadyAnchored(hash);
        if (address(predecessor) != address(0) && predecessor.isAnchored(hash)) {
            revert RegistryAnchoredInPredecessor(hash, address(predecessor));
        }
        _anchors[hash] = Anchor({
            issuerId: issuerId,
            typeId: typeId,
            typeVersion: version,
            issuedAt: now_,
            issuedBlock: uint40(block.number),
            validUntil: validUntil,
            memberCount: memberCount
        });
        return version;
    }

    /// @dev Anchoring happens in the active registry only: not in a successor before its
    /// predecessor retires (the two would not see each other's new anchors), not after retirement.
    function _requireActive() private view {
        Lifecycle memory lifecycle = _lifecycle;
        if (lifecycle.active) return;
        if (lifecycle.successor != address(0)) revert RegistryIsRetired(lifecycle.successor);
        revert RegistryNotYetActive(address(predecessor));
    }

    /// @dev Records (and announces) the revocation after checking that the caller's department
    /// issued the certificate; returns the certificate's type id.
    function _revokeAsIssuer(
        bytes32 certificateHash,
        bytes32 batchRoot,
        bytes32[] calldata proof,
        uint8 reason,
        uint32 callerId,
        bytes32 callerCode
    ) private returns (uint32 typeId) {
        Anchor memory anchor = _anchors[batchRoot == bytes32(0) ? certificateHash : batchRoot];
        // slither-disable-next-line incorrect-equality (issuerId 0: never anchored; see _isMember)
        if (anchor.issuerId == 0) revert RegistryNotAnchored(batchRoot == bytes32(0) ? certificateHash : batchRoot);
        if (!_isMember(anchor, certificateHash, batchRoot, proof)) revert RegistryInvalidProof(batchRoot, certificateHash);
        if (anchor.issuerId != callerId) revert RegistryNotIssuer(certificateHash, callerCode);
        if (_revocations[certificateHash].revokedAt != 0) revert RegistryAlreadyRevoked(certificateHash);
        _revocations[certificateHash] = Revocation({revokedAt: _time(), reason: reason, revokerId: callerId});
        emit CertificateRevoked(certificateHash, callerCode, batchRoot, reason);
        return anchor.typeId;
    }

    /// @dev A single certificate is its own anchor (no root, no members); a batch member needs
    /// a root anchored as a batch and a proof from its leaf to that root.
    /// The strict equalities on anchor fields are existence and single-vs-batch checks of stored
    /// ids and counts, not of time: slither's incorrect-equality taint is not field-sensitive, and
    /// _anchor() stores block.timestamp in the same struct, so it flags every field read from it.
    function _isMember(Anchor memory anchor, bytes32 certificateHash, bytes32 batchRoot, bytes32[] calldata proof)
        private
        pure
        returns (bool)
    {
        // slither-disable-next-line incorrect-equality (issuerId 0: never anchored, not a time)
        if (anchor.issuerId == 0) return false;
        // slither-disable-next-line incorrect-equality (memberCount 0: a single certificate, not a time)
        if (batchRoot == bytes32(0)) return anchor.memberCount == 0;
        return anchor.memberCount > 0 && MerkleProof.verifyCalldata(proof, batchRoot, leafOf(certificateHash));
    }
}
