"""The sm2-sm3 crypto suite: the standards' known answers, Tongsuo (the product's SM2/SM3) against the independent
pure-Python `gmssl`, and documents hashed and signed under it, offline and against an sm2-sm3 consortium."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from gmssl import func as gm_func
from gmssl import sm2 as gm_sm2
from gmssl import sm3 as gm_sm3

from gateway.certificates.document import METADATA_FIELDS, certificate_hash, field_hash, redact
from gateway.certificates.signing import recover_signer, sign, signing_digest, stated_signer
from gateway.certificates.suites import SECP256K1_KECCAK, SM2_SM3, Sm2PrivateKey, sm2_verify, sm3, suite_of
from gateway.certificates.verification import Outcome, Verdict, Verifier
from gateway.errors import InvalidDocument
from ledger_node.accounts import dev_account
from tests.conftest import CIVIL, CertificateDesk


def gm_sm3_hash(data: bytes) -> bytes:
    return bytes.fromhex(gm_sm3.sm3_hash(gm_func.bytes_to_list(data)))


# ----- SM3: GB/T 32905-2016, appendix A -----

SM3_VECTORS = [
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
]


@pytest.mark.parametrize(("message", "digest"), SM3_VECTORS)
def test_sm3_gives_the_standard_digests(message: bytes, digest: str) -> None:
    assert sm3(message).hex() == digest


@pytest.mark.parametrize(("message", "digest"), SM3_VECTORS)
def test_the_second_implementation_gives_the_standard_sm3_digests(message: bytes, digest: str) -> None:
    assert gm_sm3_hash(message).hex() == digest


def test_sm3_agrees_with_the_second_implementation_on_a_certificate_sized_input() -> None:
    data = rfc8785.dumps({"name": "holderName", "salt": "00" * 16, "value": "张三" * 200})
    assert sm3(data) == gm_sm3_hash(data)


# ----- SM2: GB/T 32918.2-2016 appendix A.2 (its 256-bit test curve, user ID ALICE123@YAHOO.COM) -----

TEST_CURVE = {
    "p": "8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3",
    "a": "787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498",
    "b": "63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A",
    "g": "421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D"
         "0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2",
    "n": "8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7",
}
EXAMPLE_PRIVATE = "128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263"
EXAMPLE_PUBLIC = ("0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A"
                  "7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857")
EXAMPLE_ID = b"ALICE123@YAHOO.COM"
EXAMPLE_MESSAGE = b"message digest"
EXAMPLE_ZA = "f4a38489e32b45b6f876e3ac2168ca392362dc8f23459c1d1146fc3dbfb7bc9a"
EXAMPLE_E = "b524f552cd82b8b028476e005c377fb19a87e6fc682d48bb5d42e3d9b9effe76"
EXAMPLE_SIGNATURE = ("40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1"
                     "6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7")


def example_za() -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A), with the product's SM3."""
    return sm3((len(EXAMPLE_ID) * 8).to_bytes(2, "big") + EXAMPLE_ID
               + bytes.fromhex(TEST_CURVE["a"] + TEST_CURVE["b"] + TEST_CURVE["g"] + EXAMPLE_PUBLIC))


def example_signer() -> Any:
    return gm_sm2.CryptSM2(private_key=EXAMPLE_PRIVATE, public_key=EXAMPLE_PUBLIC, ecc_table=TEST_CURVE)


def test_the_standard_example_z_a_and_digest_are_reproduced() -> None:
    za = example_za()
    assert (za.hex(), sm3(za + EXAMPLE_MESSAGE).hex()) == (EXAMPLE_ZA, EXAMPLE_E)


def test_the_standard_example_public_key_follows_from_its_private_key() -> None:
    signer = example_signer()
    assert signer._kg(int(EXAMPLE_PRIVATE, 16), TEST_CURVE["g"]).upper() == EXAMPLE_PUBLIC


def test_the_standard_example_signature_verifies() -> None:
    assert example_signer().verify(EXAMPLE_SIGNATURE, bytes.fromhex(EXAMPLE_E))


def test_the_standard_example_signature_fails_for_another_message() -> None:
    other = sm3(example_za() + b"message digesT")
    assert not example_signer().verify(EXAMPLE_SIGNATURE, other)


# ----- SM2 on the recommended curve: Tongsuo against gmssl, default user ID 1234567812345678 -----

def gmssl_twin(key: Sm2PrivateKey, private_hex: str = "00" * 32) -> Any:
    return gm_sm2.CryptSM2(private_key=private_hex, public_key=key.public_key.hex())


def test_a_tongsuo_signature_verifies_in_the_second_implementation_with_the_default_id() -> None:
    key = Sm2PrivateKey.generate()
    message = b"CertNet certificate digest"
    assert gmssl_twin(key).verify_with_sm3(key.sign(message).hex(), message)


def test_a_tongsuo_signature_of_one_message_fails_for_another_in_the_second_implementation() -> None:
    key = Sm2PrivateKey.generate()
    assert not gmssl_twin(key).verify_with_sm3(key.sign(b"one").hex(), b"another")


def test_a_second_implementation_signature_verifies_with_tongsuo() -> None:
    key = Sm2PrivateKey.generate()
    twin = gmssl_twin(key, format(key._key.private_numbers().private_value, "064x"))
    message = b"signed by gmssl"
    assert sm2_verify(key.public_key, message, bytes.fromhex(twin.sign_with_sm3(message)))


def test_a_signature_by_another_key_does_not_verify() -> None:
    key, other = Sm2PrivateKey.generate(), Sm2PrivateKey.generate()
    assert not sm2_verify(other.public_key, b"m", key.sign(b"m"))


def test_a_key_survives_pem() -> None:
    key = Sm2PrivateKey.generate()
    assert Sm2PrivateKey.from_pem(key.to_pem()).public_key == key.public_key


def test_a_key_derived_from_the_same_secret_is_the_same_key() -> None:
    assert Sm2PrivateKey.from_secret(b"s" * 32).public_key == Sm2PrivateKey.from_secret(b"s" * 32).public_key


# ----- documents under sm2-sm3 -----

def test_a_document_names_its_suite_and_hashes_its_fields_with_sm3(sm2_desk: CertificateDesk) -> None:
    document = sm2_desk.new()
    name, value = "holderName", document["credentialSubject"]["holderName"]
    salt = document["proof"]["salts"][name]
    assert (suite_of(document), field_hash(name, value, salt, SM2_SM3)) == (
        SM2_SM3, gm_sm3_hash(rfc8785.dumps({"name": name, "salt": salt, "value": value})))


def test_the_certificate_hash_is_the_second_implementations_sm3_of_its_commitment(sm2_desk: CertificateDesk) -> None:
    document = sm2_desk.new()
    salts = document["proof"]["salts"]
    fields = sorted("0x" + gm_sm3_hash(rfc8785.dumps({"name": name, "salt": salts[name], "value": value})).hex()
                    for name, value in document["credentialSubject"].items())
    metadata = {name: document[name] for name in METADATA_FIELDS if name in document}
    assert certificate_hash(document) == gm_sm3_hash(rfc8785.dumps({"metadata": metadata, "fields": fields}))


def test_an_sm2_signature_verifies_offline_and_names_its_key(sm2_desk: CertificateDesk) -> None:
    signed = sm2_desk.signed()
    assert recover_signer(signed) == stated_signer(signed) == "0x" + sm2_desk.signing_key.key_id.hex()


def test_the_sm2_signature_is_over_the_sm3_typed_digest_with_the_default_id(sm2_desk: CertificateDesk) -> None:
    signed = sm2_desk.signed()
    signature = signed["proof"]["signature"]
    message = signing_digest(signed, sm2_desk.issuing.domain, sm3)
    assert gmssl_twin(sm2_desk.signing_key).verify_with_sm3(signature["value"][2:], message)


def test_an_sm2_signature_under_another_public_key_is_refused(sm2_desk: CertificateDesk) -> None:
    signed = sm2_desk.signed()
    signed["proof"]["signature"]["publicKey"] = "0x" + Sm2PrivateKey.generate().public_key.hex()
    with pytest.raises(InvalidDocument, match="does not verify"):
        recover_signer(signed)


def test_a_keccak_document_is_not_signed_with_an_sm2_key(desk: CertificateDesk) -> None:
    with pytest.raises(InvalidDocument, match="cannot be signed"):
        sign(desk.new(), Sm2PrivateKey.generate(), desk.issuing.domain)


def test_an_sm2_document_is_not_signed_with_an_account_key(sm2_desk: CertificateDesk) -> None:
    with pytest.raises(InvalidDocument, match="cannot be signed"):
        sign(sm2_desk.new(), dev_account(3), sm2_desk.issuing.domain)


def test_an_unknown_suite_is_refused(sm2_desk: CertificateDesk) -> None:
    document = sm2_desk.new()
    document["proof"]["cryptosuite"] = "rsa-md5"
    with pytest.raises(InvalidDocument, match="unknown crypto suite"):
        certificate_hash(document)


def test_an_anchored_sm2_document_verifies_against_the_chain(sm2_desk: CertificateDesk) -> None:
    report = sm2_desk.verifier.verify(sm2_desk.anchored())
    assert report.verdict is Verdict.VALID, report.as_dict()


def test_every_member_of_an_sm2_batch_verifies(sm2_desk: CertificateDesk) -> None:
    assert [sm2_desk.verifier.verify(d).verdict for d in sm2_desk.batch(3)] == [Verdict.VALID] * 3


def test_a_redacted_sm2_document_still_verifies(sm2_desk: CertificateDesk) -> None:
    report = sm2_desk.verifier.verify(redact(sm2_desk.anchored(), ["holderName"]))
    assert report.verdict is Verdict.VALID, report.as_dict()


def test_a_tampered_sm2_document_is_refused(sm2_desk: CertificateDesk) -> None:
    document = sm2_desk.anchored()
    document["credentialSubject"]["spouseName"] = "王五"
    report = sm2_desk.verifier.verify(document)
    assert (report.verdict, report.check("integrity").outcome) == (Verdict.INVALID, Outcome.INVALID)


def test_a_signature_made_before_a_rotation_still_verifies(sm2_desk: CertificateDesk) -> None:
    document = sm2_desk.anchored()
    rotate_civil_sm2_key(sm2_desk)
    assert sm2_desk.verifier.verify(document, fresh=True).verdict is Verdict.VALID


def test_a_signature_by_a_rotated_away_sm2_key_is_refused(sm2_desk: CertificateDesk) -> None:
    rotate_civil_sm2_key(sm2_desk)
    report = sm2_desk.verifier.verify(sm2_desk.anchored(), fresh=True)
    assert (report.verdict, report.check("signature").outcome) == (Verdict.INVALID, Outcome.INVALID)


def test_an_sm2_key_of_no_department_is_refused(sm2_desk: CertificateDesk) -> None:
    sm2_desk.signing_key = Sm2PrivateKey.generate()
    report = sm2_desk.verifier.verify(sm2_desk.anchored(), fresh=True)
    assert report.check("signature").outcome is Outcome.INVALID


def test_a_keccak_document_is_not_accepted_by_an_sm2_consortium(sm2_desk: CertificateDesk) -> None:
    sm2_desk.suite, sm2_desk.signing_key = SECP256K1_KECCAK, sm2_desk.network.signer("issuer")
    report = Verifier(sm2_desk.network.deployment, now=sm2_desk.network.now).verify(sm2_desk.anchored())
    assert report.verdict is not Verdict.VALID
    assert "crypto suite" in report.check("anchored").reason


def rotate_civil_sm2_key(desk: CertificateDesk) -> None:
    """Civil affairs replaces its SM2 key by a new one, a block later (the old key's `until`)."""
    consortium, old = desk.network.consortium, desk.signing_key
    assert isinstance(old, Sm2PrivateKey)
    desk.network.advance_time(10)
    desk.network.send(consortium.functions.rotateSm2Key(CIVIL, old.key_id, Sm2PrivateKey.generate().public_key),
                      "issuer")
    desk.network.advance_time(10)
