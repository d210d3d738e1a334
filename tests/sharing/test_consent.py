"""Consent records: P-256 and SM2 signatures over their RFC 8785 JSON, ids, and the format's rules."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
import rfc8785
from ecdsa import SECP256k1, SigningKey
from gmssl import sm2 as gm_sm2

from gateway.errors import InvalidInput
from gateway.sharing.consent import (MAX_CONSENT_DAYS, holder_public_key, key_id, load_public_key, load_signing_key, new_consent,
                                     new_holder_key, new_withdrawal, parse_consent, parse_withdrawal, record_id,
                                     sign_record, signed_by)

HOLDER = "urn:certnet:holder:" + "ab" * 32
NOW = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.timezone.utc)


def _consent(**changes: object) -> dict:
    record = new_consent(HOLDER, "11320100MB0000051T", "320100-SX-ZJ-0001", ["320100-MZ-001"],
                         not_before=NOW, not_after=NOW + dt.timedelta(days=30))
    return {**record, **changes}


def test_a_signed_consent_verifies_with_the_holders_public_key() -> None:
    key = new_holder_key()
    record = _consent()
    public = load_public_key(key.get_verifying_key().to_pem().decode())
    assert signed_by(public, record, sign_record(key, record))


def test_a_changed_record_no_longer_matches_its_signature() -> None:
    key = new_holder_key()
    record = _consent()
    signature = sign_record(key, record)
    assert not signed_by(key.get_verifying_key(), {**record, "grantee": "11320100MB0000019X"}, signature)


def test_another_key_does_not_verify() -> None:
    record = _consent()
    assert not signed_by(new_holder_key().get_verifying_key(), record, sign_record(new_holder_key(), record))


def test_a_malformed_signature_does_not_verify() -> None:
    assert not signed_by(new_holder_key().get_verifying_key(), _consent(), "0xnothex")


def test_the_signature_is_r_and_s_over_sha256_of_the_jcs_serialisation() -> None:
    key = new_holder_key()
    record = _consent()
    raw = bytes.fromhex(sign_record(key, record)[2:])
    assert len(raw) == 64
    assert key.get_verifying_key().verify_digest(raw, hashlib.sha256(rfc8785.dumps(record)).digest())


def test_the_record_id_is_sha256_of_the_jcs_serialisation() -> None:
    record = _consent()
    assert record_id(record) == "0x" + hashlib.sha256(rfc8785.dumps(record)).hexdigest()


def test_equal_grants_get_distinct_ids_by_their_nonce() -> None:
    assert record_id(_consent()) != record_id(_consent())


def test_a_consent_signed_with_an_sm2_key_verifies_with_its_pem_public_key() -> None:
    key = new_holder_key("SM2")
    record = _consent()
    public = load_public_key(holder_public_key(key).to_pem().decode())
    assert signed_by(public, record, sign_record(key, record))


def test_a_changed_record_no_longer_matches_its_sm2_signature() -> None:
    key = new_holder_key("SM2")
    record = _consent()
    signature = sign_record(key, record)
    assert not signed_by(holder_public_key(key), {**record, "grantee": "11320100MB0000019X"}, signature)


def test_another_sm2_key_does_not_verify() -> None:
    record = _consent()
    assert not signed_by(holder_public_key(new_holder_key("SM2")), record, sign_record(new_holder_key("SM2"), record))


def test_the_sm2_signature_is_r_and_s_over_the_jcs_serialisation_with_the_default_id() -> None:
    key = new_holder_key("SM2")
    record = _consent()
    raw = sign_record(key, record)[2:]
    assert gm_sm2.CryptSM2(private_key="00", public_key=key.public_key.hex()).verify_with_sm3(raw, rfc8785.dumps(record))


def test_an_sm2_signing_key_file_round_trips(tmp_path: Path) -> None:
    key = new_holder_key("SM2")
    (tmp_path / "key.pem").write_bytes(key.to_pem())
    assert holder_public_key(load_signing_key(tmp_path / "key.pem")).to_der() == holder_public_key(key).to_der()


def test_only_p256_and_sm2_public_keys_are_accepted() -> None:
    other = SigningKey.generate(curve=SECP256k1).get_verifying_key().to_pem().decode()
    with pytest.raises(InvalidInput, match="P-256 or SM2"):
        load_public_key(other)


def test_a_public_key_must_be_pem() -> None:
    with pytest.raises(InvalidInput, match="not a PEM public key"):
        load_public_key("not a key")


def test_the_key_id_is_sha256_of_the_der_public_key() -> None:
    public = new_holder_key().get_verifying_key()
    assert key_id(public) == "0x" + hashlib.sha256(public.to_der()).hexdigest()


def test_a_signing_key_file_round_trips(tmp_path: Path) -> None:
    key = new_holder_key()
    (tmp_path / "key.pem").write_bytes(key.to_pem())
    assert load_signing_key(tmp_path / "key.pem").to_string() == key.to_string()


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        load_signing_key(tmp_path / "absent.pem")


def test_a_well_formed_consent_parses() -> None:
    consent = parse_consent(_consent())
    assert (consent.serviceItem, consent.certificateTypes) == ("320100-SX-ZJ-0001", ["320100-MZ-001"])


@pytest.mark.parametrize("changes", [
    {"holder": "RIC:11010519491231002X"},  # personal data instead of a pseudonym
    {"type": "SomethingElse"},
    {"version": 2},
    {"certificateTypes": []},
    {"nonce": "short"},
    {"extra": "field"},
], ids=["cleartext-holder", "type", "version", "no-types", "short-nonce", "extra-field"])
def test_a_malformed_consent_is_refused(changes: dict) -> None:
    with pytest.raises(InvalidInput, match="not a consent record"):
        parse_consent(_consent(**changes))


def test_a_consent_must_end_after_it_starts() -> None:
    with pytest.raises(InvalidInput, match="notAfter must follow notBefore"):
        parse_consent(_consent(notAfter=_consent()["notBefore"]))


def test_a_consent_lasts_at_most_the_limit() -> None:
    too_long = (NOW + dt.timedelta(days=MAX_CONSENT_DAYS + 1)).isoformat()
    with pytest.raises(InvalidInput, match=f"at most {MAX_CONSENT_DAYS} days"):
        parse_consent(_consent(notAfter=too_long))


def test_consent_times_need_a_time_zone() -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        parse_consent(_consent(notBefore="2026-11-24T08:00:00"))


def test_a_withdrawal_names_a_consent_id() -> None:
    consent_id = record_id(_consent())
    assert parse_withdrawal(new_withdrawal(consent_id, NOW)).consent == consent_id
    with pytest.raises(InvalidInput, match="not a withdrawal record"):
        parse_withdrawal(new_withdrawal("consent-1", NOW))
