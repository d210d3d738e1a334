"""Bootstrap specs: the consortium a city wants on chain, as YAML, checked before any transaction.

A spec names the governors (founders, admitted when the contracts are deployed), the other
departments with their roles and keys, the certificate types with their JSON schemas, issuers
and relying departments, the service items with the types they need, and the access logs with
the log-operator department that checkpoints each. `load_spec` reports
every problem with its line number; nothing is sent for a spec with problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ledger_node.canonical import content_hash
from ledger_node.errors import LedgerError
from ledger_node.types import CRYPTO_SUITES, Role, TypeStatus

ROLE_NAMES = {
    "issuer": Role.ISSUER,
    "relying_party": Role.RELYING_PARTY,
    "auditor": Role.AUDITOR,
    "governor": Role.GOVERNOR,
    "log_operator": Role.LOG_OPERATOR,
    "holder_channel": Role.HOLDER_CHANNEL,
}
#: Where a department's catalog document is published; content-addressed by its hash.
DEFAULT_CATALOG_URI = "https://catalog.certnet.local/{department}/{hash}.json"


class SpecError(LedgerError):
    """The spec is invalid; `problems` lists each as `line N: message`."""

    code = "invalid_spec"

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name: str
    roles: Role
    account: int | None = None  # index in the development mnemonic
    keystore: str | None = None  # encrypted key file, outside development
    line: int = 0


@dataclass(frozen=True)
class TypeSpec:
    code: str
    name: str
    owner: str
    issuers: tuple[str, ...]
    relying: tuple[str, ...]
    schema: dict[str, Any]
    status: TypeStatus = TypeStatus.ACTIVE
    line: int = 0

    @property
    def schema_hash(self) -> bytes:
        return content_hash(self.schema)


@dataclass(frozen=True)
class ServiceItemSpec:
    code: str
    name: str
    owner: str
    requires: tuple[str, ...]
    handlers: tuple[str, ...] = ()  # departments besides the owner that handle it
    line: int = 0


@dataclass(frozen=True)
class AccessLogSpec:
    """An access log id (AuditCheckpoints) and the department registered to checkpoint it."""

    code: str
    operator: str
    line: int = 0


@dataclass(frozen=True)
class ConsortiumSpec:
    quorum: int
    governors: tuple[str, ...]
    departments: tuple[DepartmentSpec, ...]
    types: tuple[TypeSpec, ...] = ()
    service_items: tuple[ServiceItemSpec, ...] = ()
    access_logs: tuple[AccessLogSpec, ...] = ()
    catalog_uri: str = DEFAULT_CATALOG_URI
    #: What certificates are hashed and signed with (`CRYPTO_SUITES`), fixed when the consortium is deployed.
    crypto_suite: str = CRYPTO_SUITES[0]
    _by_code: dict[str, DepartmentSpec] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {d.code: d for d in self.departments})

    def department(self, code: str) -> DepartmentSpec:
        return self._by_code[code]

    def catalog_document(self, department: str) -> dict[str, Any]:
        """What a department publishes as its catalog: the types and service items it owns."""
        return {
            "department": department,
            "name": self.department(department).name,
            "certificateTypes": [
                {"code": t.code, "name": t.name, "schemaHash": "0x" + t.schema_hash.hex(), "status": t.status.name.lower()}
                for t in self.types if t.owner == department
            ],
            "serviceItems": [
                {"code": s.code, "name": s.name, "requires": list(s.requires), "handlers": [s.owner, *s.handlers]}
                for s in self.service_items if s.owner == department
            ],
        }


class _LineLoader(yaml.SafeLoader):
    """Records each mapping's line number under `__line__`, so problems can point at it."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def load_spec(path: Path) -> ConsortiumSpec:
    """Reads and checks a spec file; raises `SpecError` listing every problem."""
    try:
        raw = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LineLoader)
    except OSError as exc:
        raise SpecError(str(path), [f"cannot read: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise SpecError(str(path), [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]) from exc
    return parse_spec(raw, source=str(path))


def parse_spec(raw: Any, *, source: str = "spec") -> ConsortiumSpec:
    """Checks an already-loaded spec (a mapping, as from YAML or a generator)."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise SpecError(source, ["line 1: the spec must be a mapping with departments, governors and quorum"])

    def problem(node: Any, message: str) -> None:
        """Records a problem at the line of `node`: a YAML mapping, or a parsed entry."""
        line = node.get("__line__") if isinstance(node, dict) else getattr(node, "line", None)
        problems.append(f"line {line or raw.get('__line__', 1)}: {message}")

    departments = [_department(d, problem) for d in _entries(raw, "departments", problem)]
    types = [_type(t, problem) for t in _entries(raw, "certificate_types", problem, required=False)]
    items = [_service_item(s, problem) for s in _entries(raw, "service_items", problem, required=False)]
    logs = [_access_log(entry, problem) for entry in _entries(raw, "access_logs", problem, required=False)]
    departments = [d for d in departments if d]
    types = [t for t in types if t]
    items = [s for s in items if s]
    logs = [entry for entry in logs if entry]
    _check_unique(departments, "department", problems)
    _check_unique(types, "certificate type", problems)
    _check_unique(items, "service item", problems)
    _check_unique(logs, "access log", problems)

    by_code = {d.code: d for d in departments}
    governors = raw.get("governors") or []
    quorum = raw.get("quorum")
    if not governors:
        problem(raw, "no governors: list the founding governor departments under `governors`")
    for code in governors:
        if code not in by_code:
            problem(raw, f"governor {code!r} is not a department of this spec")
        elif not by_code[code].roles & Role.GOVERNOR:
            problem(by_code[code], f"governor {code!r} lacks the governor role")
    if not isinstance(quorum, int) or isinstance(quorum, bool) or not 1 <= quorum <= max(len(governors), 1):
        problem(raw, f"quorum must be a whole number from 1 to the number of governors ({len(governors)}), got {quorum!r}")
    for d in departments:
        if d.roles & Role.GOVERNOR and d.code not in governors:
            problem(d, f"department {d.code!r} has the governor role but is not a founding governor; "
                       "add it to `governors` (later governors are made by proposal)")

    type_codes = {t.code for t in types}
    for t in types:
        _require_department(by_code, t.owner, Role.ISSUER, f"owner of type {t.code!r}", t, problem)
        for issuer in t.issuers:
            _require_department(by_code, issuer, Role.ISSUER, f"issuer of type {t.code!r}", t, problem)
        for relying in t.relying:
            _require_department(by_code, relying, Role.RELYING_PARTY, f"relying department of type {t.code!r}", t, problem)
    for s in items:
        _require_department(by_code, s.owner, Role.RELYING_PARTY, f"owner of service item {s.code!r}", s, problem)
        for handler in s.handlers:
            _require_department(by_code, handler, Role.RELYING_PARTY, f"handler of service item {s.code!r}", s,
                                problem)
        for required in s.requires:
            if required not in type_codes:
                problem(s, f"service item {s.code!r} requires unknown certificate type {required!r}")
    for entry in logs:
        _require_department(by_code, entry.operator, Role.LOG_OPERATOR, f"operator of access log {entry.code!r}",
                            entry, problem)
    crypto_suite = raw.get("crypto_suite", CRYPTO_SUITES[0])
    if crypto_suite not in CRYPTO_SUITES:
        problem(raw, f"crypto_suite must be one of {', '.join(CRYPTO_SUITES)}, got {crypto_suite!r}")
    if problems:
        raise SpecError(source, problems)
    return ConsortiumSpec(
        crypto_suite=crypto_suite,
        quorum=quorum,
        governors=tuple(governors),
        departments=tuple(departments),
        types=tuple(types),
        service_items=tuple(items),
        access_logs=tuple(logs),
        catalog_uri=raw.get("catalog_uri", DEFAULT_CATALOG_URI),
    )


def _entries(raw: dict[str, Any], key: str, problem: Any, *, required: bool = True) -> list[dict[str, Any]]:
    value = raw.get(key)
    if value is None:
        if required:
            problem(raw, f"`{key}` is missing")
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problem(raw, f"`{key}` must be a list of mappings")
        return []
    return value


def _code(entry: dict[str, Any], problem: Any, what: str) -> str | None:
    code = entry.get("code")
    if not isinstance(code, str) or not code:
        problem(entry, f"{what} without a `code`")
        return None
    if not code.isascii() or len(code) > 32:
        problem(entry, f"{what} code {code!r} must be at most 32 ASCII characters (it is stored as bytes32)")
        return None
    return code


def _name(entry: dict[str, Any], problem: Any, what: str, code: str) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        problem(entry, f"{what} {code!r} has no `name`")
        return ""
    return name


def _department(entry: dict[str, Any], problem: Any) -> DepartmentSpec | None:
    code = _code(entry, problem, "department")
    if code is None:
        return None
    name = _name(entry, problem, "department", code)
    roles = Role(0)
    for role in entry.get("roles") or []:
        if role not in ROLE_NAMES:
            problem(entry, f"department {code!r} has unknown role {role!r} (known: {', '.join(ROLE_NAMES)})")
        else:
            roles |= ROLE_NAMES[role]
    if not roles:
        problem(entry, f"department {code!r} needs at least one role")
    account, keystore = entry.get("account"), entry.get("keystore")
    if (account is None) == (keystore is None):
        problem(entry, f"department {code!r} needs exactly one of `account` (development) or `keystore`")
    elif account is not None and (not isinstance(account, int) or isinstance(account, bool) or account < 1):
        problem(entry, f"department {code!r}: `account` must be a mnemonic index of 1 or more (0 deploys)")
    return DepartmentSpec(code=code, name=name, roles=roles, account=account, keystore=keystore,
                          line=entry.get("__line__", 0))


def _type(entry: dict[str, Any], problem: Any) -> TypeSpec | None:
    code = _code(entry, problem, "certificate type")
    if code is None:
        return None
    name = _name(entry, problem, "certificate type", code)
    owner = _department_named(entry, "owner", problem, f"certificate type {code!r}")
    schema = entry.get("schema")
    if not isinstance(schema, dict):
        problem(entry, f"certificate type {code!r} needs a JSON `schema` (a mapping)")
        schema = {}
    status = entry.get("status", "active")
    if status not in ("active", "deprecated"):
        problem(entry, f"certificate type {code!r} has status {status!r}; use active or deprecated")
        status = "active"
    return TypeSpec(
        code=code,
        name=name,
        owner=owner,
        issuers=tuple(entry.get("issuers") or [owner]),
        relying=tuple(entry.get("relying") or []),
        schema=_strip_lines(schema),
        status=TypeStatus[status.upper()],
        line=entry.get("__line__", 0),
    )


def _service_item(entry: dict[str, Any], problem: Any) -> ServiceItemSpec | None:
    code = _code(entry, problem, "service item")
    if code is None:
        return None
    return ServiceItemSpec(code=code, name=_name(entry, problem, "service item", code),
                           owner=_department_named(entry, "owner", problem, f"service item {code!r}"),
                           requires=tuple(entry.get("requires") or []), handlers=tuple(entry.get("handlers") or []),
                           line=entry.get("__line__", 0))


def _access_log(entry: dict[str, Any], problem: Any) -> AccessLogSpec | None:
    code = _code(entry, problem, "access log")
    if code is None:
        return None
    return AccessLogSpec(code=code, operator=_department_named(entry, "operator", problem, f"access log {code!r}"),
                         line=entry.get("__line__", 0))


def _department_named(entry: dict[str, Any], key: str, problem: Any, what: str) -> str:
    """The department code under `key` ("" after reporting a problem when there is none)."""
    code = entry.get(key)
    if not isinstance(code, str):
        problem(entry, f"{what} has no `{key}` department")
        return ""
    return code


def _strip_lines(value: Any) -> Any:
    """The value without the loader's `__line__` bookkeeping (schemas are hashed as written)."""
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def _check_unique(entries: list[Any], what: str, problems: list[str]) -> None:
    first_line: dict[str, int] = {}
    for entry in entries:
        if entry.code in first_line:
            problems.append(f"line {entry.line}: duplicate {what} code {entry.code!r} (first on line {first_line[entry.code]})")
        else:
            first_line[entry.code] = entry.line


def _require_department(by_code: dict[str, DepartmentSpec], code: str, role: Role, what: str, entry: Any,
                        problem: Any) -> None:
    if code not in by_code:
        problem(entry, f"{what}: unknown department {code!r}")
    elif not by_code[code].roles & role:
        problem(entry, f"{what}: department {code!r} lacks the {role.name.lower()} role")
