// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Checkpoints of off-chain append-only audit logs.
/// @notice A log operator anchors (tree size, root hash) of an RFC 6962 Merkle tree it keeps
/// off chain, so anyone can check that the log was only ever appended to. Governance registers
/// each log id with the department that operates it (and may hand it to another operator, e.g.
/// when departments merge); only that department may checkpoint it, and the tree size must grow
/// with every checkpoint.
interface IAuditCheckpoints {
    struct Checkpoint {
        uint64 treeSize;
        uint40 anchoredAt;
        uint64 anchoredBlock;
        bytes32 rootHash;
    }

    /// @notice Governance registered a log with its operator, or handed it to another one
    /// (`previousOperator` zero: newly registered).
    event LogOperatorAssigned(bytes32 indexed logId, bytes32 indexed previousOperator, bytes32 indexed operator);
    /// @notice A checkpoint was appended to a log.
    event CheckpointAppended(
        bytes32 indexed logId, bytes32 indexed operator, uint64 indexed index, uint64 treeSize, bytes32 rootHash
    );

    /// @notice The tree size must be larger than the last checkpoint's.
    error CheckpointTreeNotGrowing(bytes32 logId, uint64 previousTreeSize, uint64 treeSize);
    /// @notice Another department operates this log.
    error CheckpointNotLogOperator(bytes32 logId, bytes32 operator, bytes32 caller);
    /// @notice The log id was never registered: governance registers it with its operator first.
    error CheckpointUnregisteredLog(bytes32 logId);
    /// @notice The department to operate a log is not active or lacks the log-operator role.
    error CheckpointOperatorIneligible(bytes32 logId, bytes32 operator);
    /// @notice Only an executed consortium proposal may call this function.
    error CheckpointOnlyGovernance(address caller);
    /// @notice A zero log id or root hash.
    error CheckpointInvalid(bytes32 logId, bytes32 rootHash);
    /// @notice No checkpoint has this index.
    error CheckpointUnknown(bytes32 logId, uint64 index);

    /// @notice Registers log `logId` with the department that operates it, or hands a registered
    /// log (and its checkpoints) to another operator.
    /// @dev Caller: governance. The operator must be an active department with the log-operator role.
    function setLogOperator(bytes32 logId, bytes32 operator) external;

    /// @notice Appends a checkpoint of log `logId`.
    /// @dev Caller: a key of the log's registered operator, active and with the log-operator role.
    function appendCheckpoint(bytes32 logId, uint64 treeSize, bytes32 rootHash) external returns (uint64 index);

    /// @notice Number of checkpoints of a log.
    function checkpointCount(bytes32 logId) external view returns (uint64);

    /// @notice One checkpoint (indexes start at 0).
    function checkpoint(bytes32 logId, uint64 index) external view returns (Checkpoint memory);

    /// @notice The newest checkpoint; reverts when the log has none.
    function latestCheckpoint(bytes32 logId) external view returns (Checkpoint memory);

    /// @notice The department operating a log (zero if it is not registered).
    function logOperator(bytes32 logId) external view returns (bytes32);
}
