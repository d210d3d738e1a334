// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The certificate registry: issuance, batch anchoring, revocation and supersession.
/// @notice A certificate is known by its hash (the document's commitment; never personal data).
/// It is anchored alone ({issue}) or as a member of a Merkle batch ({anchorBatch}) whose leaves
/// are hashed as OpenZeppelin's StandardMerkleTree hashes a `bytes32` value:
/// `keccak256(bytes.concat(keccak256(abi.encode(certificateHash))))`, with sorted pairs, so
/// an inner node of the tree can never pass as a certificate.
interface ICertificateRegistry {
    enum CertificateStatus {
        Unknown,
        Valid,
        Expired,
        Revoked,
        Superseded
    }

    /// @notice Everything a verifier needs about one certificate.
    struct CertificateState {
        CertificateStatus status;
        bytes32 issuer;
        bytes32 certificateType;
        uint32 typeVersion;
        uint40 issuedAt;
        uint40 issuedBlock;
        uint40 validUntil;
        bytes32 batchRoot;
        uint40 revokedAt;
        uint8 revocationReason;
        bytes32 supersededBy;
    }

    /// @notice What was recorded when a certificate or batch was anchored.
    struct Anchor {
        uint32 issuerId;
        uint32 typeId;
        uint32 typeVersion;
        uint40 issuedAt;
        uint40 issuedBlock;
        uint40 validUntil;
        uint32 memberCount;
    }

    /// @notice A certificate was anchored on its own. Its issuer, type, version and validity are in
    /// its anchor ({anchorOf}: ids that {IConsortium-departmentCode} and {ICatalog-typeCode} name),
    /// not repeated here: the event costs what DocumentStore's does (two topics, no data).
    event CertificateIssued(bytes32 indexed certificateHash);
    /// @notice A Merkle batch of certificates was anchored. Its issuer, type, version, validity and
    /// member count are in its anchor ({anchorOf}), as for {CertificateIssued}.
    event BatchAnchored(bytes32 indexed batchRoot);
    /// @notice A certificate (single or batch member) was revoked; a supersession emits it too,
    /// with reason superseded (4), so that a reader of revocations alone sees every one.
    event CertificateRevoked(bytes32 indexed certificateHash, bytes32 indexed issuer, bytes32 indexed batchRoot, uint8 reason);
    /// @notice A certificate was replaced by a newer one (correction or renewal).
    event CertificateSuperseded(bytes32 indexed certificateHash, bytes32 indexed successor, bytes32 indexed issuer);
    /// @notice Governance retired this registry in favour of `successor`: it anchors nothing new
    /// from now on; its certificates still verify here and their issuers can still revoke them.
    event RegistryRetired(address indexed successor);
    /// @notice This registry took over from its retired `predecessor` and anchors from now on.
    event RegistryTookOver(address indexed predecessor);

    /// @notice The hash was already anchored on its own, or as a batch root.
    error RegistryAlreadyAnchored(bytes32 hash);
    /// @notice A zero hash or root, or a batch without members.
    error RegistryInvalidAnchor(bytes32 hash);
    /// @notice The validity end is not in the future.
    error RegistryInvalidValidity(uint40 validUntil, uint40 now_);
    /// @notice Nothing was anchored under this hash or root.
    error RegistryNotAnchored(bytes32 hash);
    /// @notice The proof does not show the certificate is a member of the batch.
    error RegistryInvalidProof(bytes32 batchRoot, bytes32 certificateHash);
    /// @notice Only the issuing department may revoke or supersede.
    error RegistryNotIssuer(bytes32 certificateHash, bytes32 department);
    /// @notice The certificate is already revoked or superseded.
    error RegistryAlreadyRevoked(bytes32 certificateHash);
    /// @notice Not a reason {revoke} takes: 0 to 3 (superseded, 4, only through {supersede}).
    error RegistryInvalidReason(uint8 reason);
    /// @notice This registry is retired: anchor in `successor` instead.
    error RegistryIsRetired(address successor);
    /// @notice This registry has not taken over yet: `predecessor` still anchors until governance retires it.
    error RegistryNotYetActive(address predecessor);
    /// @notice The hash is anchored in an earlier registry (`predecessor` or one before it): a
    /// certificate is anchored once across all registry versions.
    error RegistryAnchoredInPredecessor(bytes32 hash, address predecessor);
    /// @notice Only an executed consortium proposal may retire the registry.
    error RegistryOnlyGovernance(address caller);
    /// @notice Only this registry's predecessor, while it retires, hands over to it.
    error RegistryNotPredecessor(address caller);
    /// @notice A registry cannot be retired in favour of nothing or of itself.
    error RegistryInvalidSuccessor(address successor);

    /// @notice Anchors one certificate. `terms` packs its type and validity, `typeId | validUntil << 32`:
    /// the type's id ({ICatalog-certificateType}) in the low 32 bits, the end of validity in the next 40
    /// (0: no end).
    /// @dev Caller: a key of an active issuer department authorised for the active type.
    /// One word, not a type code and a time: a calldata word of mostly zero bytes costs 130 to 250 gas,
    /// and `issue` is what the network runs most (docs/gas.md).
    function issue(bytes32 certificateHash, uint72 terms) external;

    /// @notice Anchors a batch of `memberCount` certificates by its Merkle root; `terms` as for {issue}.
    /// @dev Caller: as for {issue}. Gas does not depend on the batch size.
    function anchorBatch(bytes32 batchRoot, uint72 terms, uint32 memberCount) external;

    /// @notice Revokes a certificate. For a batch member pass its batch root and proof; for a
    /// single certificate pass a zero root and an empty proof. `reason`: 0 unspecified, 1 issued
    /// in error, 2 holder request, 3 holder no longer eligible.
    /// @dev Caller: a key of the issuing department while it is active.
    function revoke(bytes32 certificateHash, bytes32 batchRoot, bytes32[] calldata proof, uint8 reason) external;

    /// @notice Replaces a certificate by `successor`, anchored in the same call under the same
    /// type (at its current version) and marks the old one superseded (revoked with reason 4:
    /// emits CertificateRevoked, CertificateIssued for the successor, then CertificateSuperseded).
    /// @dev Caller: a key of the issuing department, still authorised to issue the type.
    function supersede(
        bytes32 certificateHash,
        bytes32 batchRoot,
        bytes32[] calldata proof,
        bytes32 successor,
        uint40 validUntil
    ) external;

    /// @notice Everything a verifier needs. Pass a zero root and an empty proof for a single
    /// certificate; an invalid proof gives status Unknown.
    function certificateState(bytes32 certificateHash, bytes32 batchRoot, bytes32[] calldata proof)
        external
        view
        returns (CertificateState memory);

    /// @notice What a verifier checks against the chain, in one call: the certificate's state,
    /// whether `signer` was a key of the issuing department when it was issued, and the schema
    /// hash of the type version it was issued under (all zero/false if it is not anchored).
    function verificationOf(bytes32 certificateHash, bytes32 batchRoot, bytes32[] calldata proof, address signer)
        external
        view
        returns (CertificateState memory state, bool signerWasIssuerKey, bytes32 schemaHash);

    /// @notice Whether `certificateHash` is a member of the anchored batch `batchRoot`.
    function isBatchMember(bytes32 batchRoot, bytes32 certificateHash, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice The raw anchor of a single certificate or a batch root (issuerId 0 if none).
    function anchorOf(bytes32 hash) external view returns (Anchor memory);

    /// @notice The Merkle leaf of a certificate hash, as the registry computes it.
    function leafOf(bytes32 certificateHash) external pure returns (bytes32);

    // ----- upgrading: a successor registry takes over from a retired one -----

    /// @notice Retires this registry in favour of `successor`, whose predecessor it must be, and
    /// hands over to it in the same call: it forgets every issuance permit it holds, the consortium
    /// names the successor ({IConsortium-handOverIssuancePermits}) and the successor confirms
    /// ({takeOver}). From then on this registry refuses to anchor (issue, batches, supersession)
    /// and the successor anchors. Revocation of the certificates anchored here keeps working, and
    /// so does everything a verifier reads.
    /// @dev Caller: governance (an executed Consortium proposal). Gas grows with the permits held:
    /// at most departmentCount x PERMIT_LIST_LIMIT slots are forgotten.
    function retire(ICertificateRegistry successor) external;

    /// @notice Confirms that this registry succeeds the caller (and says so in {RegistryTookOver}).
    /// Called by its predecessor's {retire}, after the consortium named this registry.
    function takeOver() external;

    /// @notice The registry this one replaced (zero for the first), fixed at deployment.
    function predecessor() external view returns (ICertificateRegistry);

    /// @notice The registry that replaced this one (zero while it is not retired).
    function successor() external view returns (address);

    /// @notice Whether this registry anchors now: while the consortium names it (the first from
    /// deployment, a successor from its takeover) and it is not retired.
    function isActive() external view returns (bool);

    /// @notice Whether `hash` is anchored (as a single certificate or batch root) here or in any
    /// predecessor.
    function isAnchored(bytes32 hash) external view returns (bool);
}
