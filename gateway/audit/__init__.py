"""The tamper-evident access log (issue 7): an RFC 6962 Merkle tree over the log's entries."""
