"""A content-addressed store of certificate types' JSON schemas.

The catalog on chain records only each type version's schema hash (keccak256 of the RFC 8785
form); the schemas themselves live here, one file per hash, written when a spec is bootstrapped
and read when a certificate is made, so a schema can never be swapped under its hash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ledger_node.canonical import content_hash
from ledger_node.errors import LedgerError


class SchemaNotFound(LedgerError):
    code = "schema_not_found"


class SchemaStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, schema_hash: bytes) -> Path:
        return self.directory / f"0x{schema_hash.hex()}.json"

    def put(self, schema: dict[str, Any]) -> bytes:
        schema_hash = content_hash(schema)
        path = self._path(schema_hash)
        if not path.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(schema, ensure_ascii=False, indent=2), encoding="utf-8")
        return schema_hash

    def get(self, schema_hash: bytes) -> dict[str, Any]:
        path = self._path(schema_hash)
        if not path.exists():
            raise SchemaNotFound(f"no schema with hash 0x{schema_hash.hex()} in {self.directory}: bootstrap the spec "
                                 "that defines it, or pass --schema FILE")
        schema = json.loads(path.read_text(encoding="utf-8"))
        if content_hash(schema) != schema_hash:
            raise SchemaNotFound(f"{path} does not hash to its name; the store was altered")
        return schema
