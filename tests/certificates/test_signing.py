"""Issuer signatures: EIP-712 over the certificate hash, bound to a chain and registry."""

from __future__ import annotations

import copy

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message

from gateway.certificates.signing import (SigningDomain, _typed_message, recover_signer, sign, signature_domain,
                                          signing_digest, stated_signer)
from gateway.errors import InvalidDocument
from tests.certificates.test_document import certificate

DOMAIN = SigningDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
KEY = Account.from_key("0x" + "11" * 32)


def test_the_signature_recovers_to_the_signing_key() -> None:
    signed = sign(certificate(), KEY, DOMAIN)
    assert recover_signer(signed) == stated_signer(signed) == KEY.address


def test_the_signature_records_its_domain() -> None:
    assert signature_domain(sign(certificate(), KEY, DOMAIN)) == DOMAIN


def test_a_signature_moved_to_another_registry_recovers_to_someone_else() -> None:
    signed = sign(certificate(), KEY, DOMAIN)
    signed["proof"]["signature"]["verifyingContract"] = "0x" + "22" * 20
    assert recover_signer(signed) != KEY.address


def test_a_signature_moved_to_another_certificate_recovers_to_someone_else() -> None:
    signed, other = sign(certificate(), KEY, DOMAIN), certificate()
    other["proof"]["signature"] = signed["proof"]["signature"]
    assert recover_signer(other) != KEY.address


def test_a_document_whose_content_does_not_match_its_hash_is_not_signed() -> None:
    document = certificate()
    document["credentialSubject"]["holderName"] = "王五"
    with pytest.raises(InvalidDocument, match="refusing to sign"):
        sign(document, KEY, DOMAIN)


def test_signing_leaves_the_unsigned_document_untouched() -> None:
    document = certificate()
    before = copy.deepcopy(document)
    sign(document, KEY, DOMAIN)
    assert document == before


def test_an_unsigned_document_has_no_signer() -> None:
    with pytest.raises(InvalidDocument, match="not signed"):
        recover_signer(certificate())


def test_a_garbled_signature_is_reported_as_undecodable() -> None:
    signed = sign(certificate(), KEY, DOMAIN)
    signed["proof"]["signature"]["value"] = "0x1234"
    with pytest.raises(InvalidDocument, match="cannot be decoded"):
        recover_signer(signed)


def test_the_signed_digest_is_eth_accounts_eip712_hash() -> None:
    document = certificate()
    assert signing_digest(document, DOMAIN) == _hash_eip191_message(_typed_message(document, DOMAIN))


@pytest.mark.parametrize("v", [0, 1, 27, 28])
def test_a_signature_recovers_as_eth_account_recovers_it_whichever_v_it_states(v: int) -> None:
    signed = sign(certificate(), KEY, DOMAIN)
    value = bytes.fromhex(signed["proof"]["signature"]["value"][2:])
    signed["proof"]["signature"]["value"] = "0x" + (value[:64] + bytes([v])).hex()
    assert recover_signer(signed) == Account.recover_message(_typed_message(signed, DOMAIN),
                                                             signature=value[:64] + bytes([v]))


def test_a_signature_whose_v_is_not_a_recovery_id_is_undecodable() -> None:
    signed = sign(certificate(), KEY, DOMAIN)
    signed["proof"]["signature"]["value"] = signed["proof"]["signature"]["value"][:-2] + "1d"  # v = 29
    with pytest.raises(InvalidDocument, match="cannot be decoded"):
        recover_signer(signed)
