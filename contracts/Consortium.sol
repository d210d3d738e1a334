// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortium} from "./interfaces/IConsortium.sol";
import {IIssuancePermits} from "./interfaces/IIssuancePermits.sol";
import {
    ALL_ROLES,
    ANY_ROLE,
    MAX_PROPOSAL_LIFETIME,
    ROLE_GOVERNOR,
    SM2_PUBLIC_KEY_LENGTH,
    SUITE_SM2_SM3,
    DepartmentStatus
} from "./Common.sol";

/// @title Consortium
/// @notice Member departments, their roles and keys, and quorum governance over them.
/// See {IConsortium} for the API.
contract Consortium is IConsortium {
    /// @dev One slot: id | status | roles | admittedAt | keyCount (15 bytes). With `_currentKeys`
    /// mapping a key straight to its department's code, {memberOf} costs two SLOADs.
    struct DepartmentRecord {
        uint32 id;
        DepartmentStatus status;
        uint8 roles;
        uint40 admittedAt;
        uint32 keyCount;
    }

    /// @dev createdAt | expiresAt | executed | cancelled share one slot (12 bytes).
    struct ProposalRecord {
        bytes32 callsHash;
        bytes32 proposer;
        uint40 createdAt;
        uint40 expiresAt;
        bool executed;
        bool cancelled;
        bytes32[] approvers;
    }

    /// @notice Founding departments passed to the constructor.
    struct Founder {
        bytes32 code;
        string name;
        uint8 roles;
        address[] keys;
    }

    mapping(bytes32 code => DepartmentRecord) private _departments;
    mapping(uint32 departmentId => bytes32 code) private _codes;
    mapping(bytes32 code => string) private _names;
    /// @dev The department a key signs for now; zero once the key is removed. Its full history
    /// is in `_keys`, written only when a key is added or removed.
    mapping(address key => bytes32 code) private _currentKeys;
    mapping(address key => KeyRecord) private _keys;
    mapping(bytes32 code => address[]) private _keyHistory;
    /// @dev SM2 certificate-signing keys (sm2-sm3 suite) by id, with the same history as account keys.
    mapping(bytes32 key => KeyRecord) private _sm2Keys;
    mapping(bytes32 key => bytes) private _sm2PublicKeys;
    mapping(bytes32 code => bytes32[]) private _sm2KeyHistory;
    mapping(uint256 proposalId => ProposalRecord) private _proposals;
    mapping(uint256 proposalId => mapping(bytes32 department => bool)) private _approved;

    uint32 private _departmentCount;
    uint8 private _quorum;
    uint32 private _activeGovernors;
    uint256 private _proposalCount;

    /// @inheritdoc IConsortium
    uint8 public immutable cryptoSuite;

    /// @inheritdoc IConsortium
    address public issuancePermits;

    modifier onlyGovernance() {
        if (msg.sender != address(this)) revert ConsortiumOnlyGovernance(msg.sender);
        _;
    }

    /// @param founders the first departments; those with the governor role are the first governors.
    /// @param initialQuorum approvals a proposal needs (e.g. 2 of 3 founding governors).
    /// @param suite the crypto suite certificates use (SUITE_SECP256K1_KECCAK or SUITE_SM2_SM3), for good.
    /// @param issuancePermits_ the registry to keep exact (its address is known before it is
    /// deployed: the deployer's next-but-one contract); zero for none.
    constructor(Founder[] memory founders, uint8 initialQuorum, uint8 suite, address issuancePermits_) {
        if (suite > SUITE_SM2_SM3) revert ConsortiumUnknownCryptoSuite(suite);
        cryptoSuite = suite;
        issuancePermits = issuancePermits_;
        for (uint256 i = 0; i < founders.length; ++i) {
            _admit(founders[i].code, founders[i].name, founders[i].roles, founders[i].keys);
        }
        _setQuorum(initialQuorum);
    }

    // ----- governance -----

    /// @inheritdoc IConsortium
    function propose(Call[] calldata calls, string calldata description, uint40 lifetime)
        external
        returns (uint256 proposalId)
    {
        (, bytes32 proposer) = memberOf(msg.sender, ROLE_GOVERNOR);
        if (calls.length == 0) revert ConsortiumEmptyProposal();
        if (lifetime == 0 || lifetime > MAX_PROPOSAL_LIFETIME) {
            revert ConsortiumInvalidLifetime(lifetime, MAX_PROPOSAL_LIFETIME);
        }
        proposalId = ++_proposalCount;
        ProposalRecord storage record = _proposals[proposalId];
        record.callsHash = keccak256(abi.encode(calls));
        record.proposer = proposer;
        uint40 expiresAt = uint40(block.timestamp) + lifetime;
        record.createdAt = uint40(block.timestamp);
        record.expiresAt = expiresAt;
        emit ProposalCreated(proposalId, proposer, calls, description, expiresAt);
        _approve(proposalId, proposer);
    }

    /// @inheritdoc IConsortium
    function approve(uint256 proposalId) external {
        (, bytes32 governor) = memberOf(msg.sender, ROLE_GOVERNOR);
        _liveProposal(proposalId);
        if (_approved[proposalId][governor]) revert ConsortiumAlreadyApproved(proposalId, governor);
        _approve(proposalId, governor);
    }

    /// @inheritdoc IConsortium
    function execute(uint256 proposalId, Call[] calldata calls) external {
        (, bytes32 executor) = memberOf(msg.sender, ROLE_GOVERNOR);
        ProposalRecord storage record = _liveProposal(proposalId);
        bytes32 givenHash = keccak256(abi.encode(calls));
        if (givenHash != record.callsHash) revert ConsortiumCallsMismatch(proposalId, record.callsHash, givenHash);
        uint256 approvals = _countActiveApprovals(record.approvers);
        if (approvals < _quorum) revert ConsortiumQuorumNotReached(proposalId, approvals, _quorum);

        record.executed = true;
        emit ProposalExecuted(proposalId, executor);
        for (uint256 i = 0; i < calls.length; ++i) {
            (bool ok, bytes memory returned) = calls[i].target.call(calls[i].data);
            if (!ok) {
                // Bubble the callee's own custom error so callers see why the proposal failed.
                assembly ("memory-safe") {
                    revert(add(returned, 32), mload(returned))
                }
            }
        }
    }

    /// @inheritdoc IConsortium
    function cancel(uint256 proposalId) external {
        ProposalRecord storage record = _openProposal(proposalId);
        bytes32 canceller = bytes32(0); // zero: governance cancelled it (a passed proposal calling cancel)
        if (msg.sender != address(this)) {
            (, canceller) = memberOf(msg.sender, ANY_ROLE);
            if (canceller != record.proposer) revert ConsortiumNotProposer(proposalId, record.proposer, canceller);
        }
        record.cancelled = true;
        emit ProposalCancelled(proposalId, canceller);
    }

    // ----- membership (governance only) -----

    /// @inheritdoc IConsortium
    function admitDepartment(bytes32 code, string calldata name, uint8 roles, address[] calldata keys)
        external
        onlyGovernance
    {
        _admit(code, name, roles, keys);
    }

    /// @inheritdoc IConsortium
    function setRoles(bytes32 code, uint8 roles) external onlyGovernance {
        _requireValidRoles(roles);
        DepartmentRecord storage record = _requireDepartment(code);
        if (record.status == DepartmentStatus.Removed) {
            revert ConsortiumDepartmentNotActive(code, DepartmentStatus.Removed);
        }
        uint8 previousRoles = record.roles;
        record.roles = roles;
        if (record.status == DepartmentStatus.Active) _recountGovernor(previousRoles, roles);
        _requireQuorumReachable();
        emit DepartmentRolesChanged(code, previousRoles, roles);
        _forgetPermits(record.id);
    }

    /// @inheritdoc IConsortium
    function setStatus(bytes32 code, DepartmentStatus status) external onlyGovernance {
        DepartmentRecord storage record = _requireDepartment(code);
        DepartmentStatus previous = record.status;
        bool allowed = (previous == DepartmentStatus.Active && status == DepartmentStatus.Suspended)
            || (previous == DepartmentStatus.Suspended && status == DepartmentStatus.Active)
            || (previous != DepartmentStatus.Removed && status == DepartmentStatus.Removed);
        if (!allowed) revert ConsortiumInvalidStatusChange(code, previous, status);
        record.status = status;
        if (record.roles & ROLE_GOVERNOR != 0) {
            if (previous == DepartmentStatus.Active) --_activeGovernors;
            if (status == DepartmentStatus.Active) ++_activeGovernors;
        }
        _requireQuorumReachable();
        emit DepartmentStatusChanged(code, previous, status);
        _forgetPermits(record.id);
    }

    /// @inheritdoc IConsortium
    function setQuorum(uint8 newQuorum) external onlyGovernance {
        _setQuorum(newQuorum);
    }

    // ----- keys -----

    /// @inheritdoc IConsortium
    function addKey(bytes32 code, address key) external {
        _addKey(_authoriseKeyChange(code), code, key);
    }

    /// @inheritdoc IConsortium
    function removeKey(bytes32 code, address key) external {
        _removeKey(_authoriseKeyChange(code), code, key);
    }

    /// @inheritdoc IConsortium
    function rotateKey(bytes32 code, address oldKey, address newKey) external {
        DepartmentRecord storage record = _authoriseKeyChange(code);
        _addKey(record, code, newKey);
        _removeKey(record, code, oldKey);
    }

    /// @inheritdoc IConsortium
    function addSm2Key(bytes32 code, bytes calldata publicKey) external returns (bytes32 key) {
        return _addSm2Key(_authoriseKeyChange(code), code, publicKey);
    }

    /// @inheritdoc IConsortium
    function removeSm2Key(bytes32 code, bytes32 key) external {
        _removeSm2Key(_authoriseKeyChange(code), code, key);
    }

    /// @inheritdoc IConsortium
    function rotateSm2Key(bytes32 code, bytes32 oldKey, bytes calldata newPublicKey) external returns (bytes32 key) {
        DepartmentRecord storage record = _authoriseKeyChange(code);
        key = _addSm2Key(record, code, newPublicKey);
        _removeSm2Key(record, code, oldKey);
    }

    // ----- views -----

    /// @inheritdoc IConsortium
    function memberOf(address account, uint8 role) public view returns (uint32 departmentId, bytes32 departmentCode) {
        departmentCode = _currentKeys[account];
        if (departmentCode == bytes32(0)) revert ConsortiumUnknownKey(account);
        DepartmentRecord storage record = _departments[departmentCode];
        if (record.status != DepartmentStatus.Active) {
            revert ConsortiumDepartmentNotActive(departmentCode, record.status);
        }
        if (record.roles & role != role) revert ConsortiumMissingRole(departmentCode, role);
        departmentId = record.id;
    }

    /// @inheritdoc IConsortium
    function department(bytes32 code) external view returns (Department memory) {
        DepartmentRecord storage record = _requireDepartment(code);
        return Department({
            code: code,
            id: record.id,
            status: record.status,
            roles: record.roles,
            admittedAt: record.admittedAt,
            keyCount: record.keyCount,
            name: _names[code]
        });
    }

    /// @inheritdoc IConsortium
    function departmentCode(uint32 id) external view returns (bytes32) {
        return _codes[id];
    }

    /// @inheritdoc IConsortium
    function departmentId(bytes32 code) external view returns (uint32) {
        return _requireDepartment(code).id;
    }

    /// @inheritdoc IConsortium
    function departmentCount() external view returns (uint32) {
        return _departmentCount;
    }

    /// @inheritdoc IConsortium
    function keysOf(bytes32 code) external view returns (address[] memory) {
        _requireDepartment(code);
        return _keyHistory[code];
    }

    /// @inheritdoc IConsortium
    function keyRecord(address key) external view returns (KeyRecord memory) {
        return _keys[key];
    }

    /// @inheritdoc IConsortium
    function wasKeyOf(address key, bytes32 code, uint64 timestamp) external view returns (bool) {
        KeyRecord storage record = _keys[key];
        if (record.departmentId == 0 || record.departmentId != _departments[code].id) return false;
        return record.addedAt <= timestamp && (record.removedBlock == 0 || timestamp < record.removedAt);
    }

    /// @inheritdoc IConsortium
    function sm2KeysOf(bytes32 code) external view returns (bytes32[] memory) {
        _requireDepartment(code);
        return _sm2KeyHistory[code];
    }

    /// @inheritdoc IConsortium
    function sm2KeyRecord(bytes32 key) external view returns (KeyRecord memory record, bytes memory publicKey) {
        return (_sm2Keys[key], _sm2PublicKeys[key]);
    }

    /// @inheritdoc IConsortium
    function wasSm2KeyOf(bytes32 key, bytes32 code, uint64 timestamp) external view returns (bool) {
        KeyRecord storage record = _sm2Keys[key];
        if (record.departmentId == 0 || record.departmentId != _departments[code].id) return false;
        return record.addedAt <= timestamp && (record.removedBlock == 0 || timestamp < record.removedAt);
    }

    /// @inheritdoc IConsortium
    function quorum() external view returns (uint8) {
        return _quorum;
    }

    /// @inheritdoc IConsortium
    function activeGovernorCount() external view returns (uint256) {
        return _activeGovernors;
    }

    /// @inheritdoc IConsortium
    function proposalCount() external view returns (uint256) {
        return _proposalCount;
    }

    /// @inheritdoc IConsortium
    function proposal(uint256 proposalId) external view returns (ProposalState memory) {
        ProposalRecord storage record = _proposals[proposalId];
        if (record.proposer == bytes32(0)) revert ConsortiumUnknownProposal(proposalId);
        return ProposalState({
            proposer: record.proposer,
            callsHash: record.callsHash,
            createdAt: record.createdAt,
            executed: record.executed,
            approvals: _countActiveApprovals(record.approvers),
            expiresAt: record.expiresAt,
            cancelled: record.cancelled
        });
    }

    /// @inheritdoc IConsortium
    function handOverIssuancePermits(address successor) external {
        if (msg.sender != issuancePermits) revert ConsortiumNotIssuancePermits(msg.sender);
        issuancePermits = successor;
        emit IssuancePermitsHandedOver(msg.sender, successor);
    }

    // ----- internals -----

    function _admit(bytes32 code, string memory name, uint8 roles, address[] memory keys) private {
        if (code == bytes32(0) || _departments[code].id != 0) revert ConsortiumDepartmentExists(code);
        _requireValidRoles(roles);
        if (keys.length == 0) revert ConsortiumNoKeys(code);
        uint32 id = ++_departmentCount;
        DepartmentRecord storage record = _departments[code];
        record.id = id;
        record.status = DepartmentStatus.Active;
        record.roles = roles;
        record.admittedAt = uint40(block.timestamp);
        _codes[id] = code;
        _names[code] = name;
        if (roles & ROLE_GOVERNOR != 0) ++_activeGovernors;
        emit DepartmentAdmitted(code, id, name, roles);
        for (uint256 i = 0; i < keys.length; ++i) {
            _addKey(record, code, keys[i]);
        }
    }

    function _addKey(DepartmentRecord storage dept, bytes32 code, address key) private {
        KeyRecord storage record = _keys[key];
        if (record.departmentId != 0) revert ConsortiumKeyAlreadyRegistered(key, _codes[record.departmentId]);
        record.departmentId = dept.id;
        record.addedAt = uint40(block.timestamp);
        record.addedBlock = uint64(block.number);
        _currentKeys[key] = code;
        _keyHistory[code].push(key);
        ++dept.keyCount;
        emit KeyAdded(code, key);
    }

    function _removeKey(DepartmentRecord storage dept, bytes32 code, address key) private {
        if (_currentKeys[key] != code) revert ConsortiumKeyNotOfDepartment(key, code);
        if (dept.keyCount == 1) revert ConsortiumLastKey(code);
        KeyRecord storage record = _keys[key];
        record.removedAt = uint40(block.timestamp);
        record.removedBlock = uint64(block.number);
        delete _currentKeys[key];
        --dept.keyCount;
        emit KeyRemoved(code, key);
        _forgetPermits(dept.id);
    }

    /// @dev The id is derived here from the key, so that it always names the key it was registered with.
    function _addSm2Key(DepartmentRecord storage dept, bytes32 code, bytes calldata publicKey)
        private
        returns (bytes32 key)
    {
        if (publicKey.length != SM2_PUBLIC_KEY_LENGTH) revert ConsortiumInvalidSm2Key(publicKey.length);
        key = keccak256(publicKey);
        KeyRecord storage record = _sm2Keys[key];
        if (record.departmentId != 0) revert ConsortiumSm2KeyAlreadyRegistered(key, _codes[record.departmentId]);
        record.departmentId = dept.id;
        record.addedAt = uint40(block.timestamp);
        record.addedBlock = uint64(block.number);
        _sm2PublicKeys[key] = publicKey;
        _sm2KeyHistory[code].push(key);
        emit Sm2KeyAdded(code, key, publicKey);
    }

    /// @dev A department may remove its last SM2 key (a compromised key must be stoppable): it then cannot
    /// sign under sm2-sm3 until it adds one, while its account keys still carry its transactions.
    function _removeSm2Key(DepartmentRecord storage dept, bytes32 code, bytes32 key) private {
        KeyRecord storage record = _sm2Keys[key];
        if (record.departmentId != dept.id || record.removedBlock != 0) {
            revert ConsortiumSm2KeyNotOfDepartment(key, code);
        }
        record.removedAt = uint40(block.timestamp);
        record.removedBlock = uint64(block.number);
        emit Sm2KeyRemoved(code, key);
    }

    /// @dev Governance may change any department's keys (recovery); otherwise the caller must be a
    /// current key of that same, active department.
    function _authoriseKeyChange(bytes32 code) private view returns (DepartmentRecord storage record) {
        record = _requireDepartment(code);
        if (msg.sender == address(this)) return record;
        (, bytes32 callerCode) = memberOf(msg.sender, ANY_ROLE);
        if (callerCode != code) revert ConsortiumUnauthorised(msg.sender, code);
    }

    /// @dev The registry forgets what it remembered of this department's permission to issue. A
    /// registry not deployed (yet) at that address has nothing to forget.
    function _forgetPermits(uint32 id) private {
        address permits = issuancePermits;
        if (permits.code.length != 0) IIssuancePermits(permits).forgetDepartmentPermits(id);
    }

    function _approve(uint256 proposalId, bytes32 governor) private {
        _approved[proposalId][governor] = true;
        _proposals[proposalId].approvers.push(governor);
        emit ProposalApproved(proposalId, governor);
    }

    /// @dev A proposal neither executed nor cancelled (it may have expired: it can still be cancelled).
    function _openProposal(uint256 proposalId) private view returns (ProposalRecord storage record) {
        record = _proposals[proposalId];
        if (record.proposer == bytes32(0)) revert ConsortiumUnknownProposal(proposalId);
        if (record.executed) revert ConsortiumAlreadyExecuted(proposalId);
        if (record.cancelled) revert ConsortiumProposalCancelled(proposalId);
    }

    /// @dev An open proposal whose lifetime has not ended: one that may be approved or executed.
    function _liveProposal(uint256 proposalId) private view returns (ProposalRecord storage record) {
        record = _openProposal(proposalId);
        if (block.timestamp >= record.expiresAt) revert ConsortiumProposalExpired(proposalId, record.expiresAt);
    }

    function _countActiveApprovals(bytes32[] storage approvers) private view returns (uint256 count) {
        for (uint256 i = 0; i < approvers.length; ++i) {
            DepartmentRecord storage record = _departments[approvers[i]];
            if (record.status == DepartmentStatus.Active && record.roles & ROLE_GOVERNOR != 0) ++count;
        }
    }

    function _recountGovernor(uint8 previousRoles, uint8 roles) private {
        bool was = previousRoles & ROLE_GOVERNOR != 0;
        bool isNow = roles & ROLE_GOVERNOR != 0;
        if (was && !isNow) --_activeGovernors;
        if (!was && isNow) ++_activeGovernors;
    }

    function _setQuorum(uint8 newQuorum) private {
        if (newQuorum == 0 || newQuorum > _activeGovernors) revert ConsortiumInvalidQuorum(newQuorum, _activeGovernors);
        uint8 previousQuorum = _quorum;
        _quorum = newQuorum;
        emit QuorumChanged(previousQuorum, newQuorum);
    }

    /// @dev Governance must never lock itself out: keep at least `quorum` active governors.
    function _requireQuorumReachable() private view {
        if (_activeGovernors < _quorum) revert ConsortiumInvalidQuorum(_quorum, _activeGovernors);
    }

    function _requireValidRoles(uint8 roles) private pure {
        if (roles == 0 || roles & ~ALL_ROLES != 0) revert ConsortiumInvalidRoles(roles);
    }

    function _requireDepartment(bytes32 code) private view returns (DepartmentRecord storage record) {
        record = _departments[code];
        if (record.id == 0) revert ConsortiumUnknownDepartment(code);
    }
}
