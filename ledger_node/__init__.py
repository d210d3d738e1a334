"""The chain side of CertNet: compiled contracts, deployment, transaction sending, event reading."""
