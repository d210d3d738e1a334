// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @dev Values shared by every CertNet contract. Roles are bits of one uint8 mask so that a
/// department's roles and status share a storage slot and are read with one SLOAD.
uint8 constant ROLE_ISSUER = 1 << 0;
uint8 constant ROLE_RELYING_PARTY = 1 << 1;
uint8 constant ROLE_AUDITOR = 1 << 2;
uint8 constant ROLE_GOVERNOR = 1 << 3;
uint8 constant ROLE_LOG_OPERATOR = 1 << 4;
/// @dev Runs the holder-facing channel (the city's service app): registers holders' device keys, off chain.
uint8 constant ROLE_HOLDER_CHANNEL = 1 << 5;
uint8 constant ALL_ROLES = ROLE_ISSUER | ROLE_RELYING_PARTY | ROLE_AUDITOR | ROLE_GOVERNOR | ROLE_LOG_OPERATOR | ROLE_HOLDER_CHANNEL;

/// @dev Sentinel for "no role required": any active department passes.
uint8 constant ANY_ROLE = 0;

/// @dev `validUntil` value of a certificate that never expires.
uint40 constant NO_EXPIRATION = 0;

/// @dev Revocation reasons (ledger_node.types.REVOCATION_REASONS names them): 0 unspecified,
/// 1 issued in error, 2 holder request, 3 holder no longer eligible — the ones {revoke} takes, up to
/// REASON_MAX_REVOKE — and 4 superseded, recorded only by {supersede}, which names the successor.
uint8 constant REASON_MAX_REVOKE = 3;
/// @dev Recorded when a certificate is replaced by a newer one (RFC 5280 `superseded`).
uint8 constant REASON_SUPERSEDED = 4;

/// @dev The longest a governance proposal may stay open (seconds): an old, forgotten proposal
/// must not pass years later when the consortium has changed.
uint40 constant MAX_PROPOSAL_LIFETIME = 30 days;

/// @dev Crypto suites a consortium is deployed under ({IConsortium-cryptoSuite}).
uint8 constant SUITE_SECP256K1_KECCAK = 0;
uint8 constant SUITE_SM2_SM3 = 1;
/// @dev Bytes of an SM2 public key, x || y.
uint256 constant SM2_PUBLIC_KEY_LENGTH = 64;

/// @dev Lifecycle of a consortium member. `Removed` is final: a removed code is never reused.
enum DepartmentStatus {
    None,
    Active,
    Suspended,
    Removed
}
