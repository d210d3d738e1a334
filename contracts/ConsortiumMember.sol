// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortium} from "./interfaces/IConsortium.sol";

/// @title ConsortiumMember
/// @notice Base for contracts whose callers act on behalf of consortium departments.
abstract contract ConsortiumMember {
    /// @notice The consortium that says which account acts for which department.
    IConsortium public immutable consortium;

    constructor(IConsortium consortium_) {
        consortium = consortium_;
    }

    /// @dev The caller's active department holding every bit of `role`; reverts with the
    /// consortium's reason otherwise.
    function _callerDepartment(uint8 role) internal view returns (uint32 id, bytes32 code) {
        return consortium.memberOf(msg.sender, role);
    }

    /// @dev True when the call comes from an executed consortium proposal.
    function _isGovernance() internal view returns (bool) {
        return msg.sender == address(consortium);
    }

    /// @dev The one source of time, so that tests and subclasses can control it.
    function _time() internal view virtual returns (uint40) {
        return uint40(block.timestamp);
    }
}
