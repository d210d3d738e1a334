"""Bootstrap specs are checked before any transaction, and every problem names its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger_node.spec import SpecError, load_spec
from ledger_node.types import Role

SMALL = Path(__file__).parent / "specs" / "small.yaml"


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return info.value.problems


def _edited(old: str, new: str) -> str:
    text = SMALL.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new)


def test_a_valid_spec_loads() -> None:
    spec = load_spec(SMALL)
    assert spec.governors == ("GA", "MZ", "ZWB") and spec.quorum == 2
    assert spec.department("ZJ").roles == Role.ISSUER | Role.RELYING_PARTY
    assert [t.issuers for t in spec.types] == [("GA",), ("MZ",)]


def test_schema_hash_ignores_key_order(tmp_path: Path) -> None:
    reordered = _edited("{type: object, required: [id], properties: {id: {type: string}}}",
                        "{properties: {id: {type: string}}, required: [id], type: object}")
    path = tmp_path / "spec.yaml"
    path.write_text(reordered, encoding="utf-8")
    assert load_spec(path).types[0].schema_hash == load_spec(SMALL).types[0].schema_hash


def test_an_unknown_department_in_a_type_is_named_with_its_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _edited("relying: [ZJ]", "relying: [NOBODY]"))
    assert problems == ["line 15: relying department of type 'JHZ': unknown department 'NOBODY'"]


def test_duplicate_codes_point_at_both_lines(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _edited("{code: SJ, name: 市审计局", "{code: ZJ, name: 市审计局"))
    assert "line 9: duplicate department code 'ZJ' (first on line 8)" in problems


def test_missing_governors_are_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _edited("governors: [GA, MZ, ZWB]", "governors: []"))
    assert any("no governors" in p for p in problems)


def test_a_quorum_above_the_governors_is_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _edited("quorum: 2", "quorum: 4"))
    assert problems == ["line 2: quorum must be a whole number from 1 to the number of governors (3), got 4"]


def test_a_governor_must_hold_the_governor_role(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _edited("roles: [governor, issuer], account: 2", "roles: [issuer], account: 2"))
    assert problems == ["line 6: governor 'MZ' lacks the governor role"]


def test_an_owner_without_the_issuer_role_is_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _edited("owner: GA", "owner: SJ"))
    assert "line 11: owner of type 'HJZM': department 'SJ' lacks the issuer role" in problems


def test_a_service_item_needing_an_unknown_type_is_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _edited("requires: [JHZ, HJZM]", "requires: [JHZ, XXX]"))
    assert problems == ["line 21: service item 'BDC-DJ' requires unknown certificate type 'XXX'"]


def test_a_service_item_handler_needs_the_relying_party_role(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _edited("handlers: [GA]", "handlers: [SJ]"))
    assert problems == ["line 21: handler of service item 'BDC-DJ': department 'SJ' lacks the relying_party role"]


def test_an_unknown_role_is_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _edited("roles: [auditor]", "roles: [auditor, king]"))
    assert problems[0].startswith("line 9: department 'SJ' has unknown role 'king'")


def test_a_code_longer_than_bytes32_is_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _edited("code: HJZM", "code: " + "H" * 33))
    assert (f"line 11: certificate type code '{'H' * 33}' must be at most 32 ASCII characters "
            "(it is stored as bytes32)") in problems


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "quorum: 2\ngovernors: [GA\n")
    assert problems[0].startswith("line 3: not valid YAML")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = _edited("relying: [ZJ]", "relying: [NOBODY]").replace("quorum: 2", "quorum: 9")
    assert len(_problems(tmp_path, text)) == 2


def test_access_logs_name_their_operator(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(_edited("roles: [auditor]", "roles: [auditor, log_operator]")
                    + "access_logs:\n  - {code: ACCESS-LOG, operator: SJ}\n", encoding="utf-8")
    assert [(log.code, log.operator) for log in load_spec(path).access_logs] == [("ACCESS-LOG", "SJ")]


def test_an_access_log_operator_needs_the_log_operator_role(tmp_path: Path) -> None:
    text = SMALL.read_text(encoding="utf-8") + "access_logs:\n  - {code: ACCESS-LOG, operator: SJ}\n"
    line = text.count("\n")
    assert _problems(tmp_path, text) == [
        f"line {line}: operator of access log 'ACCESS-LOG': department 'SJ' lacks the log_operator role"]


def test_an_access_log_without_an_operator_is_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, SMALL.read_text(encoding="utf-8") + "access_logs:\n  - {code: ACCESS-LOG}\n")
    assert any("access log 'ACCESS-LOG' has no `operator` department" in p for p in problems)


def test_the_crypto_suite_defaults_to_the_original_one() -> None:
    assert load_spec(SMALL).crypto_suite == "secp256k1-keccak"


def test_a_spec_may_choose_the_national_suite(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(_edited("quorum: 2", "quorum: 2\ncrypto_suite: sm2-sm3"), encoding="utf-8")
    assert load_spec(path).crypto_suite == "sm2-sm3"


def test_an_unknown_crypto_suite_is_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _edited("quorum: 2", "quorum: 2\ncrypto_suite: rsa"))
    assert any("crypto_suite must be one of secp256k1-keccak, sm2-sm3, got 'rsa'" in p for p in problems)
