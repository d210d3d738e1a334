// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAuditCheckpoints} from "./interfaces/IAuditCheckpoints.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {ConsortiumMember} from "./ConsortiumMember.sol";
import {ROLE_LOG_OPERATOR, DepartmentStatus} from "./Common.sol";

/// @title AuditCheckpoints
/// @notice Append-only checkpoints of off-chain audit logs. See {IAuditCheckpoints}.
contract AuditCheckpoints is IAuditCheckpoints, ConsortiumMember {
    mapping(bytes32 logId => Checkpoint[]) private _checkpoints;
    mapping(bytes32 logId => uint32 departmentId) private _operators;

    constructor(IConsortium consortium_) ConsortiumMember(consortium_) {}

    /// @inheritdoc IAuditCheckpoints
    function setLogOperator(bytes32 logId, bytes32 operator) external {
        if (!_isGovernance()) revert CheckpointOnlyGovernance(msg.sender);
        if (logId == bytes32(0)) revert CheckpointInvalid(logId, bytes32(0));
        IConsortium.Department memory department = consortium.department(operator);
        if (department.status != DepartmentStatus.Active || department.roles & ROLE_LOG_OPERATOR == 0) {
            revert CheckpointOperatorIneligible(logId, operator);
        }
        uint32 previousId = _operators[logId];
        _operators[logId] = department.id;
        emit LogOperatorAssigned(logId, previousId == 0 ? bytes32(0) : consortium.departmentCode(previousId), operator);
    }

    /// @inheritdoc IAuditCheckpoints
    function appendCheckpoint(bytes32 logId, uint64 treeSize, bytes32 rootHash) external returns (uint64 index) {
        (uint32 callerId, bytes32 callerCode) = _callerDepartment(ROLE_LOG_OPERATOR);
        if (logId == bytes32(0) || rootHash == bytes32(0)) revert CheckpointInvalid(logId, rootHash);
        uint32 operatorId = _operators[logId];
        if (operatorId == 0) revert CheckpointUnregisteredLog(logId);
        if (operatorId != callerId) {
            revert CheckpointNotLogOperator(logId, consortium.departmentCode(operatorId), callerCode);
        }
        Checkpoint[] storage checkpoints = _checkpoints[logId];
        uint64 previousSize = checkpoints.length == 0 ? 0 : checkpoints[checkpoints.length - 1].treeSize;
        if (treeSize <= previousSize) revert CheckpointTreeNotGrowing(logId, previousSize, treeSize);
        index = uint64(checkpoints.length);
        // Pushed through the mapping itself (not a storage pointer) so that static analysis sees the write.
        _checkpoints[logId].push(
            Checkpoint({treeSize: treeSize, anchoredAt: _time(), anchoredBlock: uint64(block.number), rootHash: rootHash})
        );
        emit CheckpointAppended(logId, callerCode, index, treeSize, rootHash);
    }

    /// @inheritdoc IAuditCheckpoints
    function checkpointCount(bytes32 logId) external view returns (uint64) {
        return uint64(_checkpoints[logId].length);
    }

    /// @inheritdoc IAuditCheckpoints
    function checkpoint(bytes32 logId, uint64 index) public view returns (Checkpoint memory) {
        Checkpoint[] storage checkpoints = _checkpoints[logId];
        if (index >= checkpoints.length) revert CheckpointUnknown(logId, index);
        return checkpoints[index];
    }

    /// @inheritdoc IAuditCheckpoints
    function latestCheckpoint(bytes32 logId) external view returns (Checkpoint memory) {
        uint256 count = _checkpoints[logId].length;
        if (count == 0) revert CheckpointUnknown(logId, 0);
        return checkpoint(logId, uint64(count - 1));
    }

    /// @inheritdoc IAuditCheckpoints
    function logOperator(bytes32 logId) external view returns (bytes32) {
        uint32 operatorId = _operators[logId];
        return operatorId == 0 ? bytes32(0) : consortium.departmentCode(operatorId);
    }
}
