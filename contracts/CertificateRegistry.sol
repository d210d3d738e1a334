// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ICertificateRegistry} from "./interfaces/ICertificateRegistry.sol";
import {ICatalog} from "./interfaces/ICatalog.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {IssuancePermits} from "./IssuancePermits.sol";
import {ANY_ROLE, NO_EXPIRATION, REASON_MAX_REVOKE, REASON_SUPERSEDED, ROLE_ISSUER} from "./Common.sol";

/// @title CertificateRegistry
/// @notice Anchors certificates alone or in Merkle batches and records their revocation and
/// supersession. See {ICertificateRegistry}; the permission checks of issuance are remembered
/// per (key, type) as described in {IssuancePermits}.
contract CertificateRegistry is ICertificateRegistry, IssuancePermits {
    /// @dev A batch member's revocation (and a single certificate's revoked more than 2^32 s after
    /// issuance): revokedAt | reason | revokerId (10 bytes). Kept per anchor ({_anchoredAs}), not
    /// per hash: see `_revocations`.
    struct Revocation {
        uint40 revokedAt;
        uint8 reason;
        uint32 revokerId;
    }

    /// @dev The storage form of {Anchor}: the same first six fields ({anchorOf} copies them), then
    /// the member count or a single certificate's revocation. One slot (32 bytes) per single
    /// certificate or batch root, written when anchored; a single certificate's revocation is then
    /// written into it, as revoke has already read it, instead of a new slot (2 900 gas, not 22 100).
    struct AnchorRecord {
        uint32 issuerId;
        uint32 typeId;
        uint32 typeVersion;
        uint40 issuedAt;
        uint40 issuedBlock;
        uint40 validUntil;
        /// @dev A batch root: its member count (> 0). A single certificate, once revoked: seconds
        /// from issuance to the revocation (REVOKED_AFTER_OVERFLOW: the time is in `_revocations`).
        uint32 membersOrRevokedAfter;
        /// @dev ANCHOR_BATCH | ANCHOR_REVOKED | revocation reason (low bits; single certificates).
        uint8 flags;
    }

    uint8 private constant ANCHOR_BATCH = 0x80;
    uint8 private constant ANCHOR_REVOKED = 0x40;
    uint8 private constant ANCHOR_REASON = 0x0f;
    uint32 private constant REVOKED_AFTER_OVERFLOW = type(uint32).max;

    mapping(bytes32 hash => AnchorRecord) private _anchors;
    /// @dev Revocations and successors are keyed by the certificate as anchored, (batch root, hash)
    /// ({_anchoredAs}), not by its hash alone: anchors are unique per hash or root, so one hash can be
    /// a member of another department's batch, or of a batch and a single anchor at once, and a
    /// revocation by one anchor's issuer must not reach the others' certificates.
    // slither-disable-next-line uninitialized-state (written by _recordRevocation's one SSTORE, in assembly)
    mapping(bytes32 anchoredAs => Revocation) private _revocations;
    mapping(bytes32 anchoredAs => bytes32 successor) private _successors;

    /// @inheritdoc ICertificateRegistry
    ICertificateRegistry public immutable predecessor;
    /// @dev Whether there is a predecessor: the warm path of issuance tests this, not the address.
    bool private immutable _hasPredecessor;
    /// @dev The registry that replaced this one; zero while it is not retired.
    address private _successor;

    /// @param predecessor_ the registry this one replaces (zero for a consortium's first): it
    /// anchors nothing the predecessors anchored, and only once the predecessor has retired in its
    /// favour (until then the consortium does not name it, see {_requireActive}).
    constructor(IConsortium consortium_, ICatalog catalog_, ICertificateRegistry predecessor_)
        IssuancePermits(consortium_, catalog_)
    {
        predecessor = predecessor_;
        _hasPredecessor = address(predecessor_) != address(0);
    }

    /// @inheritdoc ICertificateRegistry
    function issue(bytes32 certificateHash, uint72 terms) external {
        _anchor(certificateHash, _anchorFields(_issuancePermit(uint32(terms)), uint40(terms >> 32)));
        emit CertificateIssued(certificateHash);
    }

    /// @inheritdoc ICertificateRegistry
    function anchorBatch(bytes32 batchRoot, uint72 terms, uint32 memberCount) external {
        uint256 fields = _anchorFields(_issuancePermit(uint32(terms)), uint40(terms >> 32));
        if (memberCount == 0) revert RegistryInvalidAnchor(batchRoot);
        _anchor(batchRoot, fields | uint256(memberCount) << 216 | uint256(ANCHOR_BATCH) << 248);
        emit BatchAnchored(batchRoot);
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
        _successors[_anchoredAs(batchRoot, certificateHash)] = successor;
        _anchor(successor, _anchorFields(_issuancePermit(typeId), validUntil));
        emit CertificateIssued(successor);
        emit CertificateSuperseded(certificateHash, successor, callerCode);
    }

    /// @inheritdoc ICertificateRegistry
    function retire(ICertificateRegistry successor_) external {
        if (!_isGovernance()) revert RegistryOnlyGovernance(msg.sender);
        _requireActive();
        if (address(successor_) == address(0) || address(successor_) == address(this)) {
            revert RegistryInvalidSuccessor(address(successor_));
        }
        _successor = address(successor_);
        // No permit may outlive the hand-over: the hooks reach only the successor from now on.
        _forgetEveryPermit();
        emit RegistryRetired(address(successor_));
        consortium.handOverIssuancePermits(address(successor_));
        successor_.takeOver(); // reverts unless this registry is the successor's predecessor
    }

    /// @inheritdoc ICertificateRegistry
    function takeOver() external {
        if (address(predecessor) == address(0) || msg.sender != address(predecessor)) {
            revert RegistryNotPredecessor(msg.sender);
        }
        emit RegistryTookOver(msg.sender);
    }

    /// @inheritdoc ICertificateRegistry
    function successor() external view returns (address) {
        return _successor;
    }

    /// @inheritdoc ICertificateRegistry
    function isActive() external view returns (bool) {
        return _successor == address(0) && consortium.issuancePermits() == address(this);
    }

    /// @inheritdoc ICertificateRegistry
    function isAnchored(bytes32 hash) public view returns (bool) {
        return _anchors[hash].issuerId != 0 || (_hasPredecessor && predecessor.isAnchored(hash));
    }

    /// @inheritdoc ICertificateRegistry
    function certificateState(bytes32 certificateHash, bytes32 batchRoot, bytes32[] calldata proof)
        public
        view
        returns (CertificateState memory state)
    {
        AnchorRecord memory anchor = _anchors[batchRoot == bytes32(0) ? certificateHash : batchRoot];
        if (!_isMember(anchor, certificateHash, batchRoot, proof)) return state;

        state.issuer = consortium.departmentCode(anchor.issuerId);
        state.certificateType = catalog.typeCode(anchor.typeId);
        state.typeVersion = anchor.typeVersion;
        state.issuedAt = anchor.issuedAt;
        state.issuedBlock = anchor.issuedBlock;
        state.validUntil = anchor.validUntil;
        state.batchRoot = batchRoot;
        bytes32 anchoredAs = _anchoredAs(batchRoot, certificateHash);
        (state.revokedAt, state.revocationReason) = _revocationOf(anchor, anchoredAs);
        state.supersededBy = _successors[anchoredAs];
        if (state.supersededBy != bytes32(0)) state.status = CertificateStatus.Superseded;
        else if (state.revokedAt != 0) state.status = CertificateStatus.Revoked;
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
        AnchorRecord memory anchor = _anchors[hash];
        return Anchor({
            issuerId: anchor.issuerId,
            typeId: anchor.typeId,
            typeVersion: anchor.typeVersion,
            issuedAt: anchor.issuedAt,
            issuedBlock: anchor.issuedBlock,
            validUntil: anchor.validUntil,
            memberCount: anchor.flags & ANCHOR_BATCH != 0 ? anchor.membersOrRevokedAfter : 0
        });
    }

    /// @inheritdoc ICertificateRegistry
    function leafOf(bytes32 certificateHash) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(certificateHash))));
    }

    // ----- internals -----

    /// @dev The anchor slot's fields but a batch's members and flag, laid out as AnchorRecord (first
    /// field in the low bytes; the permit is its first 12 bytes), for a permitted caller.
    function _anchorFields(uint256 permit, uint40 validUntil) private view returns (uint256) {
        uint40 now_ = _time();
        // validUntil <= now_ unless it is NO_EXPIRATION (0), in one comparison: 0 - 1 wraps to the
        // largest uint40, later than any now.
        unchecked {
            if (validUntil - 1 < now_) revert RegistryInvalidValidity(validUntil, now_);
        }
        return permit | uint256(now_) << 96 | uint256(uint40(block.number)) << 136 | uint256(validUntil) << 176;
    }

    /// @dev Writes the anchor's single slot, `record` as laid out by {_anchorFields}, in one SSTORE
    /// (assigning the struct costs one SSTORE per field here).
    function _anchor(bytes32 hash, uint256 record) private {
        if (hash == bytes32(0)) revert RegistryInvalidAnchor(hash);
        AnchorRecord storage slot = _anchors[hash];
        if (slot.issuerId != 0) revert RegistryAlreadyAnchored(hash);
        // An immutable flag: free in a consortium's first registry; a successor pays the call.
        if (_hasPredecessor && predecessor.isAnchored(hash)) {
            revert RegistryAnchoredInPredecessor(hash, address(predecessor));
        }
        assembly ("memory-safe") {
            sstore(slot.slot, record)
        }
    }

    /// @dev Anchoring happens in the registry the consortium names only (a successor before its
    /// predecessor retires is not named: the two would not see each other's new anchors), and
    /// never after retirement. Asked only when a permit is filled: a registry that may not issue
    /// holds none ({retire} forgets them all), so the warm path needs no check of its own.
    function _requireActive() internal view override {
        address successor_ = _successor;
        if (successor_ != address(0)) revert RegistryIsRetired(successor_);
        if (consortium.issuancePermits() != address(this)) revert RegistryNotYetActive(address(predecessor));
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
        bytes32 anchorHash = batchRoot == bytes32(0) ? certificateHash : batchRoot;
        AnchorRecord storage stored = _anchors[anchorHash];
        AnchorRecord memory anchor = stored;
        // slither-disable-next-line incorrect-equality (issuerId 0: never anchored; see _isMember)
        if (anchor.issuerId == 0) revert RegistryNotAnchored(anchorHash);
        if (!_isMember(anchor, certificateHash, batchRoot, proof)) revert RegistryInvalidProof(batchRoot, certificateHash);
        if (anchor.issuerId != callerId) revert RegistryNotIssuer(certificateHash, callerCode);
        uint40 now_ = _time();
        if (batchRoot == bytes32(0)) {
            if (anchor.flags & ANCHOR_REVOKED != 0) revert RegistryAlreadyRevoked(certificateHash);
            uint40 revokedAfter = now_ - anchor.issuedAt;
            if (revokedAfter >= REVOKED_AFTER_OVERFLOW) {
                _recordRevocation(_anchoredAs(batchRoot, certificateHash), now_, reason, callerId);
                revokedAfter = REVOKED_AFTER_OVERFLOW;
            }
            stored.membersOrRevokedAfter = uint32(revokedAfter);
            stored.flags = ANCHOR_REVOKED | reason;
        } else {
            bytes32 anchoredAs = _anchoredAs(batchRoot, certificateHash);
            if (_revocations[anchoredAs].revokedAt != 0) revert RegistryAlreadyRevoked(certificateHash);
            _recordRevocation(anchoredAs, now_, reason, callerId);
        }
        emit CertificateRevoked(certificateHash, callerCode, batchRoot, reason);
        return anchor.typeId;
    }

    /// @dev Writes a Revocation in one SSTORE, laid out as the struct (first field in the low bytes):
    /// assigning the struct costs one SSTORE per field here.
    function _recordRevocation(bytes32 anchoredAs, uint40 revokedAt, uint8 reason, uint32 revokerId) private {
        Revocation storage revocation = _revocations[anchoredAs];
        uint256 packed = uint256(revokedAt) | uint256(reason) << 40 | uint256(revokerId) << 48;
        assembly ("memory-safe") {
            sstore(revocation.slot, packed)
        }
    }

    /// @dev When and why the certificate was revoked (zeros if it is not). A batch member's
    /// revocation has its own slot; a single certificate's is in its anchor.
    function _revocationOf(AnchorRecord memory anchor, bytes32 anchoredAs)
        private
        view
        returns (uint40 revokedAt, uint8 reason)
    {
        if (anchor.flags & ANCHOR_BATCH != 0 || anchor.membersOrRevokedAfter == REVOKED_AFTER_OVERFLOW) {
            Revocation memory revocation = _revocations[anchoredAs];
            return (revocation.revokedAt, revocation.reason);
        }
        if (anchor.flags & ANCHOR_REVOKED == 0) return (0, 0);
        return (anchor.issuedAt + anchor.membersOrRevokedAfter, anchor.flags & ANCHOR_REASON);
    }

    /// @dev The key of a certificate as anchored: its batch root (zero for a single certificate)
    /// and its hash.
    function _anchoredAs(bytes32 batchRoot, bytes32 certificateHash) private pure returns (bytes32 key) {
        assembly ("memory-safe") {
            // keccak256(abi.encode(batchRoot, certificateHash)) in scratch space: no memory allocated.
            mstore(0x00, batchRoot)
            mstore(0x20, certificateHash)
            key := keccak256(0x00, 0x40)
        }
    }

    /// @dev A single certificate is its own anchor (not a batch); a batch member needs a root
    /// anchored as a batch and a proof from its leaf to that root.
    /// The strict equality on issuerId is an existence check of a stored id, not of time: slither's
    /// incorrect-equality taint is not field-sensitive, and _anchor() stores block.timestamp in the
    /// same struct, so it flags every field read from it.
    function _isMember(AnchorRecord memory anchor, bytes32 certificateHash, bytes32 batchRoot, bytes32[] calldata proof)
        private
        pure
        returns (bool)
    {
        // slither-disable-next-line incorrect-equality (issuerId 0: never anchored, not a time)
        if (anchor.issuerId == 0) return false;
        bool isBatch = anchor.flags & ANCHOR_BATCH != 0;
        if (batchRoot == bytes32(0)) return !isBatch;
        return isBatch && MerkleProof.verifyCalldata(proof, batchRoot, leafOf(certificateHash));
    }
}
