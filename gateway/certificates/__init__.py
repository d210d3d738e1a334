"""Certificate documents, batch proofs and verification."""
