// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Checkpoints of off-chain append-only audit logs.
/// @notice A log operator anchors (tree size, root hash) of an RFC 6962 Merkle tree it keeps
/// off chain, so anyone can check that the log was only ever appended to. The first department
/// to checkpoint a log id operates it; only that department may extend it, and the tree size
/// must grow with every checkpoint.
interface IAuditCheckpoints {
    struct Checkpoint {
        uint64 treeSize;
        uint40 anchoredAt;
        uint64 anchoredBlock;
        bytes32 rootHash;
    }

    /// @notice A checkpoint was appended to a log.
    event CheckpointAppended(
        bytes32 indexed logId, bytes32 indexed operator, uint64 indexed index, uint64 treeSize, bytes32 rootHash
    );

    /// @notice The tree size must be larger than the last checkpoint's.
    error CheckpointTreeNotGrowing(bytes32 logId, uint64 previousTreeSize, uint64 treeSize);
    /// @notice Another department operates this log.
    error CheckpointNotLogOperator(bytes32 logId, bytes32 operator, bytes32 caller);
    /// @notice A zero log id or root hash.
    error CheckpointInvalid(bytes32 logId, bytes32 rootHash);
    /// @notice No checkpoint has this index.
    error CheckpointUnknown(bytes32 logId, uint64 index);

    /// @notice Appends a checkpoint of log `logId`.
    /// @dev Caller: a key of an active department with the log-operator role that operates the log
    /// (the first checkpoint makes it the operator).
    function appendCheckpoint(bytes32 logId, uint64 treeSize, bytes32 rootHash) external returns (uint64 index);

    /// @notice Number of checkpoints of a log.
    function checkpointCount(bytes32 logId) external view returns (uint64);

    /// @notice One checkpoint (indexes start at 0).
    function checkpoint(bytes32 logId, uint64 index) external view returns (Checkpoint memory);

    /// @notice The newest checkpoint; reverts when the log has none.
    function latestCheckpoint(bytes32 logId) external view returns (Checkpoint memory);

    /// @notice The department operating a log (zero if none yet).
    function logOperator(bytes32 logId) external view returns (bytes32);
}
