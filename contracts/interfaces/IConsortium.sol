// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DepartmentStatus} from "../Common.sol";

/// @title The consortium: member departments, their roles and signing keys, and their governance.
/// @notice A department is identified by a `bytes32` code (for example its unified social credit
/// code). Membership, roles, status and the quorum change only through a proposal that a quorum
/// of governor departments has approved; a department manages its own signing keys. A proposal
/// stays open for the lifetime its proposer gave (at most MAX_PROPOSAL_LIFETIME, Common.sol) and
/// can be cancelled by its proposer or by governance.
interface IConsortium {
    /// @notice A member department as returned by {department}.
    struct Department {
        bytes32 code;
        uint32 id;
        DepartmentStatus status;
        uint8 roles;
        uint40 admittedAt;
        uint32 keyCount;
        string name;
    }

    /// @notice One signing key's whole history. A key belongs to at most one department, ever.
    struct KeyRecord {
        uint32 departmentId;
        uint40 addedAt;
        uint40 removedAt;
        uint64 addedBlock;
        uint64 removedBlock;
    }

    /// @notice One call a proposal makes when it executes.
    struct Call {
        address target;
        bytes data;
    }

    /// @notice The state of a governance proposal.
    struct ProposalState {
        bytes32 proposer;
        bytes32 callsHash;
        uint40 createdAt;
        bool executed;
        uint256 approvals;
        uint40 expiresAt;
        bool cancelled;
    }

    /// @notice A department registered an SM2 public key (x || y) for certificate signatures under the
    /// sm2-sm3 suite; `key` is its id, keccak256 of the 64 bytes.
    event Sm2KeyAdded(bytes32 indexed department, bytes32 indexed key, bytes publicKey);
    /// @notice An SM2 key stopped signing for its department; its history is kept.
    event Sm2KeyRemoved(bytes32 indexed department, bytes32 indexed key);

    /// @notice The registry `previous`, retiring, handed issuance over to `successor`: the hooks
    /// reach the successor from now on, and only it issues.
    event IssuancePermitsHandedOver(address indexed previous, address indexed successor);
    /// @notice A department was admitted with its first roles and keys.
    event DepartmentAdmitted(bytes32 indexed department, uint32 indexed id, string name, uint8 roles);
    /// @notice A department's roles changed.
    event DepartmentRolesChanged(bytes32 indexed department, uint8 previousRoles, uint8 roles);
    /// @notice A department was suspended, reinstated or removed.
    event DepartmentStatusChanged(bytes32 indexed department, DepartmentStatus previousStatus, DepartmentStatus status);
    /// @notice A signing key was registered for a department.
    event KeyAdded(bytes32 indexed department, address indexed key);
    /// @notice A signing key stopped signing for a department; its history stays.
    event KeyRemoved(bytes32 indexed department, address indexed key);
    /// @notice The number of governor approvals a proposal needs changed.
    event QuorumChanged(uint8 previousQuorum, uint8 quorum);
    /// @notice A governor department proposed calls, open until `expiresAt`; the calls are here so
    /// that indexers can show them.
    event ProposalCreated(
        uint256 indexed proposalId, bytes32 indexed proposer, Call[] calls, string description, uint40 expiresAt
    );
    /// @notice A governor department approved a proposal.
    event ProposalApproved(uint256 indexed proposalId, bytes32 indexed governor);
    /// @notice A proposal's calls ran.
    event ProposalExecuted(uint256 indexed proposalId, bytes32 indexed executor);
    /// @notice A proposal was withdrawn: by its proposer's department, or by governance (`canceller` zero).
    event ProposalCancelled(uint256 indexed proposalId, bytes32 indexed canceller);

    /// @notice No department has this code.
    error ConsortiumUnknownDepartment(bytes32 department);
    /// @notice A department with this code exists or existed.
    error ConsortiumDepartmentExists(bytes32 department);
    /// @notice The department is suspended or removed.
    error ConsortiumDepartmentNotActive(bytes32 department, DepartmentStatus status);
    /// @notice The department lacks a role the call needs.
    error ConsortiumMissingRole(bytes32 department, uint8 role);
    /// @notice The account is not a current signing key of any department.
    error ConsortiumUnknownKey(address key);
    /// @notice The key is, or once was, registered (keys are never reused across departments).
    error ConsortiumKeyAlreadyRegistered(address key, bytes32 department);
    /// @notice The key does not currently sign for this department.
    error ConsortiumKeyNotOfDepartment(address key, bytes32 department);
    /// @notice A department must keep at least one signing key.
    error ConsortiumLastKey(bytes32 department);
    /// @notice The constructor's crypto suite is not one of SUITE_SECP256K1_KECCAK, SUITE_SM2_SM3.
    error ConsortiumUnknownCryptoSuite(uint8 suite);
    /// @notice An SM2 public key is 64 bytes, x || y.
    error ConsortiumInvalidSm2Key(uint256 length);
    /// @notice An SM2 key belongs to at most one department, ever.
    error ConsortiumSm2KeyAlreadyRegistered(bytes32 key, bytes32 department);
    /// @notice The SM2 key is not a current key of that department.
    error ConsortiumSm2KeyNotOfDepartment(bytes32 key, bytes32 department);
    /// @notice Only an executed proposal may call this function.
    error ConsortiumOnlyGovernance(address caller);
    /// @notice The caller is neither governance nor a key of the department concerned.
    error ConsortiumUnauthorised(address caller, bytes32 department);
    /// @notice Only the registry the consortium names now may hand that role over (when it retires).
    error ConsortiumNotIssuancePermits(address caller);
    /// @notice Roles outside the known role bits, or an empty role set.
    error ConsortiumInvalidRoles(uint8 roles);
    /// @notice The status change is not allowed (e.g. from Removed).
    error ConsortiumInvalidStatusChange(bytes32 department, DepartmentStatus from, DepartmentStatus to);
    /// @notice A quorum of zero, or more than the active governors.
    error ConsortiumInvalidQuorum(uint8 quorum, uint256 activeGovernors);
    /// @notice A department was admitted without any signing key.
    error ConsortiumNoKeys(bytes32 department);
    /// @notice No proposal has this id.
    error ConsortiumUnknownProposal(uint256 proposalId);
    /// @notice This governor department has already approved the proposal.
    error ConsortiumAlreadyApproved(uint256 proposalId, bytes32 governor);
    /// @notice The proposal has already been executed.
    error ConsortiumAlreadyExecuted(uint256 proposalId);
    /// @notice The calls given differ from those proposed.
    error ConsortiumCallsMismatch(uint256 proposalId, bytes32 expected, bytes32 given);
    /// @notice Fewer active governors approved than the quorum.
    error ConsortiumQuorumNotReached(uint256 proposalId, uint256 approvals, uint8 quorum);
    /// @notice A proposal has no calls.
    error ConsortiumEmptyProposal();
    /// @notice A proposal's lifetime is zero or longer than the maximum.
    error ConsortiumInvalidLifetime(uint40 lifetime, uint40 maxLifetime);
    /// @notice The proposal's lifetime ended: it can no longer be approved or executed.
    error ConsortiumProposalExpired(uint256 proposalId, uint40 expiresAt);
    /// @notice The proposal was cancelled.
    error ConsortiumProposalCancelled(uint256 proposalId);
    /// @notice Only the proposing department or governance may cancel a proposal.
    error ConsortiumNotProposer(uint256 proposalId, bytes32 proposer, bytes32 caller);

    // ----- governance -----

    /// @notice Proposes calls to run once a quorum approves; counts as the proposer's approval.
    /// The proposal can be approved and executed for `lifetime` seconds (1 to MAX_PROPOSAL_LIFETIME).
    /// @dev Caller: a key of an active department with the governor role.
    function propose(Call[] calldata calls, string calldata description, uint40 lifetime)
        external
        returns (uint256 proposalId);

    /// @notice Approves an open proposal on behalf of the caller's department (once per department).
    /// @dev Caller: a key of an active governor department.
    function approve(uint256 proposalId) external;

    /// @notice Runs an open proposal's calls. Approvals count only from departments that are active
    /// governors now, so a governor suspended after approving no longer counts.
    /// @dev Caller: a key of an active governor department.
    function execute(uint256 proposalId, Call[] calldata calls) external;

    /// @notice Withdraws a proposal that has not been executed (expired or not); it can then never
    /// be approved or executed.
    /// @dev Caller: a key of the proposing department while it is active (whatever its roles now),
    /// or governance (a proposal cancelling another).
    function cancel(uint256 proposalId) external;

    // ----- membership (governance only) -----

    /// @notice Admits a department with its roles and first signing keys.
    function admitDepartment(bytes32 code, string calldata name, uint8 roles, address[] calldata keys) external;

    /// @notice Replaces a department's roles.
    function setRoles(bytes32 department, uint8 roles) external;

    /// @notice Suspends (Active -> Suspended), reinstates (Suspended -> Active) or removes (final).
    function setStatus(bytes32 department, DepartmentStatus status) external;

    /// @notice Sets how many governor departments must approve a proposal.
    function setQuorum(uint8 quorum) external;

    // ----- keys (the department itself, or governance for recovery) -----

    /// @notice Registers a new signing key for a department.
    /// @dev Caller: a current key of that active department, or governance.
    function addKey(bytes32 department, address key) external;

    /// @notice Stops a key signing for its department; its history is kept.
    /// @dev Caller: a current key of that active department, or governance.
    function removeKey(bytes32 department, address key) external;

    /// @notice Adds `newKey` and removes `oldKey` in one step.
    /// @dev Caller: a current key of that active department, or governance.
    function rotateKey(bytes32 department, address oldKey, address newKey) external;

    /// @notice Registers an SM2 public key (64 bytes x || y) that signs certificates for a department
    /// under the sm2-sm3 suite; returns its id, keccak256 of the key.
    /// @dev Caller: a current key of that active department, or governance (as for account keys).
    function addSm2Key(bytes32 department, bytes calldata publicKey) external returns (bytes32 key);

    /// @notice Stops an SM2 key signing for its department; its history is kept.
    /// @dev Caller: a current key of that active department, or governance.
    function removeSm2Key(bytes32 department, bytes32 key) external;

    /// @notice Adds `newPublicKey` and removes the SM2 key `oldKey` in one step; returns the new key's id.
    /// @dev Caller: a current key of that active department, or governance.
    function rotateSm2Key(bytes32 department, bytes32 oldKey, bytes calldata newPublicKey)
        external
        returns (bytes32 key);

    /// @notice Names `successor` as the registry that issues and whose permits the hooks keep exact.
    /// @dev Caller: the registry named now, inside its {ICertificateRegistry-retire} (governance), after
    /// it forgot all its permits: so no registry ever holds a permit the hooks no longer reach.
    function handOverIssuancePermits(address successor) external;

    // ----- views -----

    /// @notice The registry whose issuance permits this consortium (and its catalog) keeps exact:
    /// every change of a department's roles, status or keys makes it forget that department's
    /// permits (zero: none). Only this registry issues; it changes when the registry retires.
    function issuancePermits() external view returns (address);

    /// @notice Resolves a caller to its active department, requiring every bit of `role`.
    /// Reverts with the reason the account may not act. Other CertNet contracts call this.
    function memberOf(address account, uint8 role) external view returns (uint32 departmentId, bytes32 departmentCode);

    /// @notice A department by code.
    function department(bytes32 code) external view returns (Department memory);

    /// @notice The code of the department with this id (ids start at 1).
    function departmentCode(uint32 id) external view returns (bytes32);

    /// @notice The id of the department with this code; reverts if unknown.
    function departmentId(bytes32 code) external view returns (uint32);

    /// @notice Number of departments ever admitted.
    function departmentCount() external view returns (uint32);

    /// @notice Every key a department ever had, current and removed, in the order added.
    function keysOf(bytes32 department) external view returns (address[] memory);

    /// @notice A key's history (departmentId 0 if it was never registered).
    function keyRecord(address key) external view returns (KeyRecord memory);

    /// @notice Whether `key` signed for `department` at time `timestamp` (seconds).
    function wasKeyOf(address key, bytes32 department, uint64 timestamp) external view returns (bool);

    /// @notice The crypto suite certificates are hashed and signed with, fixed at deployment:
    /// 0 secp256k1-keccak (EIP-712 by account keys), 1 sm2-sm3 (SM3 hashes, SM2 by SM2 keys).
    function cryptoSuite() external view returns (uint8);

    /// @notice Every SM2 key a department ever had, by id, in the order added.
    function sm2KeysOf(bytes32 department) external view returns (bytes32[] memory);

    /// @notice An SM2 key's history (departmentId 0 if never registered) and its public key.
    function sm2KeyRecord(bytes32 key) external view returns (KeyRecord memory record, bytes memory publicKey);

    /// @notice Whether the SM2 key `key` signed for `department` at time `timestamp` (seconds).
    function wasSm2KeyOf(bytes32 key, bytes32 department, uint64 timestamp) external view returns (bool);

    /// @notice Approvals a proposal needs.
    function quorum() external view returns (uint8);

    /// @notice Active departments holding the governor role.
    function activeGovernorCount() external view returns (uint256);

    /// @notice Number of proposals ever created (ids start at 1).
    function proposalCount() external view returns (uint256);

    /// @notice A proposal, with approvals counted from currently active governors. A proposal
    /// neither executed nor cancelled is open until `expiresAt` (exclusive).
    function proposal(uint256 proposalId) external view returns (ProposalState memory);
}
