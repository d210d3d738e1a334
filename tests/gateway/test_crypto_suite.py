"""The gateway over real HTTP on a devnet whose demo consortium was deployed under the sm2-sm3 suite (whatever
CERTNET_TEST_CRYPTO says): issuance single and in a batch, verification, and sharing with an SM2 consent."""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.certificates.document import redact
from gateway.certificates.suites import SM2_SM3
from gateway.sharing.consent import holder_public_key, new_consent, new_holder_key, sign_record
from ledger_node.sm2 import Sm2PrivateKey, department_sm2_key
from ledger_node.types import code32
from tests.conftest import (DEMO_DEPARTMENTS, MZ_MARRIAGE, Devnet, GatewayProcess, citizen_id, demo_account,
                            jsonld_expand, marriage_request, wait_done)

pytestmark = pytest.mark.slow

ITEM = "320100-SX-ZJ-0001"  # owned by housing (ZJ), needs civil affairs' (MZ) marriage certificate
_serials = itertools.count(700)
CERTNET_TERMS = "https://certnet.example/ns/certificate/v1#"


def _issued(gateway: GatewayProcess, holder: str | None = None) -> dict[str, Any]:
    number = f"J320102-2026-{next(_serials):06d}"
    request = marriage_request(number, holder) if holder else marriage_request(number)
    response = gateway.client.post("/v1/certificates", json=request, headers=gateway.auth("MZ"))
    assert response.status_code == 201, response.text
    return response.json()["certificate"]


def _verdict(gateway: GatewayProcess, document: dict[str, Any], **params: str) -> dict[str, Any]:
    response = gateway.client.post("/v1/verify", json={"document": document}, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_consortium_records_the_national_suite(sm2_devnet: Devnet) -> None:
    assert sm2_devnet.deployment.consortium.functions.cryptoSuite().call() == SM2_SM3.code


def test_the_manifest_records_the_national_suite(sm2_devnet: Devnet) -> None:
    from ledger_node.deploy import Manifest

    assert Manifest.load(sm2_devnet.data_dir / "manifest.json").crypto_suite == SM2_SM3.name


def test_the_bootstrap_registered_each_departments_derived_sm2_key(sm2_devnet: Devnet) -> None:
    expected = department_sm2_key(demo_account("MZ").key).key_id
    assert sm2_devnet.deployment.consortium.functions.sm2KeysOf(code32(DEMO_DEPARTMENTS["MZ"])).call() == [expected]


def test_an_issued_certificate_is_sm3_hashed_and_sm2_signed(sm2_gateway: GatewayProcess) -> None:
    document = _issued(sm2_gateway)
    signature = document["proof"]["signature"]
    assert (document["proof"]["cryptosuite"], signature["type"], signature["signer"]) == (
        SM2_SM3.name, "SM2", "0x" + department_sm2_key(demo_account("MZ").key).key_id.hex())


def test_an_issued_certificate_verifies(sm2_gateway: GatewayProcess) -> None:
    report = _verdict(sm2_gateway, _issued(sm2_gateway))
    assert report["verdict"] == "valid", report


def test_an_indexed_certificate_verifies_from_the_index_and_its_sm2_key_history(sm2_gateway: GatewayProcess) -> None:
    document = _issued(sm2_gateway)
    sm2_gateway.wait_indexed()
    report = _verdict(sm2_gateway, document)
    assert (report["verdict"], report["checkedAt"]["source"]) == ("valid", "index"), report


def test_index_verify_finds_the_indexed_sm2_keys_as_the_chain_has_them(sm2_gateway: GatewayProcess) -> None:
    _issued(sm2_gateway)
    sm2_gateway.wait_indexed()
    checked = subprocess.run([str(Path(sys.executable).with_name("certnet")), "index", "verify", "--data-dir",
                              str(sm2_gateway.data_dir)], env=sm2_gateway.env, capture_output=True, text=True,
                             timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_issued_certificate_verifies_from_the_chains_head(sm2_gateway: GatewayProcess) -> None:
    report = _verdict(sm2_gateway, _issued(sm2_gateway), fresh="true")
    assert report["verdict"] == "valid", report


def test_a_tampered_certificate_is_refused(sm2_gateway: GatewayProcess) -> None:
    document = _issued(sm2_gateway)
    document["credentialSubject"]["holderName"] = "李四"
    report = _verdict(sm2_gateway, document)
    assert report["verdict"] == "invalid"
    assert {c["name"]: c["outcome"] for c in report["checks"]}["integrity"] == "invalid"


def test_every_member_of_a_batch_verifies(sm2_gateway: GatewayProcess) -> None:
    members = [{k: v for k, v in marriage_request(f"J320102-2026-{next(_serials):06d}").items() if k != "type"}
               for _ in range(3)]
    accepted = sm2_gateway.client.post("/v1/batches", json={"type": MZ_MARRIAGE, "certificates": members},
                                       headers=sm2_gateway.auth("MZ"))
    assert accepted.status_code == 202, accepted.text
    documents = wait_done(sm2_gateway, f"/v1/batches/{accepted.json()['id']}")["certificates"]
    response = sm2_gateway.client.post("/v1/verify/batch", json={"documents": documents})
    assert [report["verdict"] for report in response.json()["reports"]] == ["valid"] * 3, response.text


def test_sharing_with_an_sm2_consent_hands_over_a_certificate_that_verifies(sm2_gateway: GatewayProcess) -> None:
    holder_id, key = citizen_id(next(_serials) % 1000), new_holder_key("SM2")
    registered = sm2_gateway.client.post("/v1/holders/keys", headers=sm2_gateway.auth("ZWB"), json={
        "holder": holder_id, "publicKey": holder_public_key(key).to_pem().decode()})
    assert registered.status_code == 201, registered.text
    pseudonym = registered.json()["holder"]
    document = _issued(sm2_gateway, holder_id)
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    record = new_consent(pseudonym, DEMO_DEPARTMENTS["ZJ"], ITEM, [MZ_MARRIAGE], not_before=start,
                         not_after=start + dt.timedelta(hours=1))
    given = sm2_gateway.client.post("/v1/consents", json={"record": record, "signature": sign_record(key, record)})
    assert given.status_code == 201, given.text
    shared = sm2_gateway.client.post("/v1/sharing/requests", headers=sm2_gateway.auth("ZJ"),
                                     json={"serviceItem": ITEM, "holder": pseudonym})
    assert shared.status_code == 200, shared.text
    handed = shared.json()["certificates"]
    assert [c["proof"]["certificateHash"] for c in handed] == [document["proof"]["certificateHash"]]
    assert _verdict(sm2_gateway, handed[0])["verdict"] == "valid"


def test_safe_mode_json_ld_expansion_defines_the_suite_and_sm2_terms(sm2_gateway: GatewayProcess) -> None:
    document = _issued(sm2_gateway)
    expanded = jsonld_expand([document, redact(document, ["holderName"])])
    assert expanded.returncode == 0, expanded.stderr
    assert CERTNET_TERMS + "publicKey" in expanded.stdout and CERTNET_TERMS + "cryptosuite" in expanded.stdout


def test_a_certificate_signed_before_a_key_rotation_still_verifies_and_the_old_key_signs_no_more(
        own_sm2_devnet: Devnet, tmp_path: Path) -> None:
    gateway = GatewayProcess(own_sm2_devnet, tmp_path / "gateway").start()
    try:
        document = _issued(gateway)
        department = code32(DEMO_DEPARTMENTS["MZ"])
        own_sm2_devnet.govern(own_sm2_devnet.deployment.consortium.functions.rotateSm2Key(
            department, department_sm2_key(demo_account("MZ").key).key_id, Sm2PrivateKey.generate().public_key))
        verdicts = [_verdict(gateway, document, **fresh)["verdict"] for fresh in ({}, {"fresh": "true"})]
        refused = gateway.client.post("/v1/certificates", headers=gateway.auth("MZ"),
                                      json=marriage_request(f"J320102-2026-{next(_serials):06d}"))
    finally:
        gateway.stop()
    assert verdicts == ["valid", "valid"]
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden"), refused.text
