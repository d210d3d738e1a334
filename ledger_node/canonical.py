"""Content hashes of JSON documents (schemas, catalog documents): keccak256 of RFC 8785 JSON."""

from __future__ import annotations

from typing import Any

import rfc8785
from eth_hash.auto import keccak


def content_hash(document: Any) -> bytes:
    """keccak256 over the RFC 8785 canonical form, so key order and number spelling never matter."""
    return keccak(rfc8785.dumps(document))
