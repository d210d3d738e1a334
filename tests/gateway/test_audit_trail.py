"""The access log over HTTP: departments' verifications, history reads and audit queries are
logged; checkpoints anchored on demand only grow; inclusion and consistency proofs check against
them; `certnet audit verify` passes an untouched log and names a tampered entry."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.orm import Session

from gateway.audit.merkle_log import verify_consistency, verify_inclusion
from gateway.db import AccessedCertificate, AccessLogEntry, make_engine, session_factory
from ledger_node.types import DEFAULT_ACCESS_LOG_ID, code32
from ledger_node.devnet import start_devnet
from tests.conftest import (DEMO_DEPARTMENTS, Devnet, GatewayProcess, issued_marriage, marriage_request,
                            rewrite_access_log)

pytestmark = pytest.mark.slow


#: Access-log ids that governance registers for the audit bureau on the module's chain, one per
#: test that needs a log of its own (a checkpointed log only grows, so two databases cannot share one).
OWN_LOG_IDS = [f"audit-trail-test-{n}" for n in range(12)]


def _verified_and_read(gateway: GatewayProcess, document: dict) -> str:
    """The audit bureau verifies `document` and reads its history: two access-log entries naming it. Its hash."""
    assert gateway.client.post("/v1/verify", json={"document": document}, headers=gateway.auth("SJ")).json()[
        "verdict"] == "valid"
    gateway.wait_indexed()
    certificate_hash = document["proof"]["certificateHash"]
    assert gateway.client.get(f"/v1/certificates/{certificate_hash}/history",
                              headers=gateway.auth("SJ")).status_code == 200
    return certificate_hash


@pytest.fixture(scope="module")
def audit_chain(devnet_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A devnet for this module, where governance registered OWN_LOG_IDS for the audit bureau."""
    net = start_devnet(tmp_path_factory.mktemp("audit") / "chain", devnet_template)
    operator = code32(DEMO_DEPARTMENTS["DSJ"])
    net.govern(*[net.deployment.checkpoints.functions.setLogOperator(code32(log), operator) for log in OWN_LOG_IDS])
    yield net
    net.node.stop()


@pytest.fixture(scope="module")
def audit_gateway(audit_chain: Devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """The module's gateway, on the demo's access log."""
    gateway = GatewayProcess(audit_chain, tmp_path_factory.mktemp("gateway")).start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def shared_document(audit_gateway: GatewayProcess) -> dict:
    """A marriage certificate issued through the module's gateway."""
    return issued_marriage(audit_gateway, number="AUDIT-1")["certificate"]


@pytest.fixture(scope="module")
def audited(audit_gateway: GatewayProcess, shared_document: dict) -> tuple[GatewayProcess, str]:
    """The module's gateway and the certificate of its first two log entries. Tests on it only add
    entries and checkpoints, so they assert about the entries they made or about entries 0 and 1."""
    return audit_gateway, _verified_and_read(audit_gateway, shared_document)


@pytest.fixture(scope="module")
def unused_log_ids() -> Iterator[str]:
    return iter(OWN_LOG_IDS)


@pytest.fixture
def own_log(audited: tuple[GatewayProcess, str], shared_document: dict, unused_log_ids: Iterator[str],
            tmp_path: Path) -> Iterator[tuple[GatewayProcess, str]]:
    """A gateway with a database and access log of its own on the module's chain, whose log starts
    as the module's does (the audit bureau verified the module's certificate and read its history):
    for tests that rewrite, delete or garble the log, or restart the gateway."""
    gateway = GatewayProcess(audited[0].devnet, tmp_path / "gateway", access_log_id=next(unused_log_ids)).start()
    yield gateway, _verified_and_read(gateway, shared_document)
    gateway.stop()


def _fresh_certificate(gateway: GatewayProcess, number: str) -> str:
    """A certificate of the test's own that the audit bureau verified and whose history it read
    (two entries naming it, verify then history): for tests that count a certificate's accesses."""
    return _verified_and_read(gateway, issued_marriage(gateway, number=number)["certificate"])


def _anchored_checkpoint(gateway: GatewayProcess) -> dict:
    """The audit bureau reads the log (one more entry, so the tree has grown) and anchors a checkpoint of it."""
    auditor = gateway.auth("SJ")
    gateway.client.get("/v1/audit/log/entries", params={"limit": 1}, headers=auditor)
    response = gateway.client.post("/v1/audit/log/checkpoints", headers=auditor)
    assert response.json()["state"] == "done", response.text
    return gateway.client.get("/v1/audit/log/checkpoints", headers=auditor).json()["checkpoints"][-1]


def _hex(text: str) -> bytes:
    return bytes.fromhex(text[2:])


def _audit_cli(gateway: GatewayProcess, *args: str) -> subprocess.CompletedProcess[str]:
    certnet = Path(sys.executable).with_name("certnet")
    return subprocess.run([str(certnet), "audit", *args, "--data-dir", str(gateway.data_dir)], env=gateway.env,
                          capture_output=True, text=True, timeout=120)


def test_a_departments_verification_and_history_read_are_logged(audited: tuple[GatewayProcess, str]) -> None:
    gateway, certificate_hash = audited
    entries = gateway.client.get("/v1/audit/log/entries", headers=gateway.auth("SJ")).json()["entries"]
    assert [(e["action"], e["certificates"], e["outcome"]) for e in entries[:2]] == [
        ("verify", [certificate_hash], "valid"), ("history", [certificate_hash], "read")]
    assert {e["department"] for e in entries[:2]} == {"11320100MB0000086D"}


def test_a_departments_batch_verification_is_logged_once_naming_every_certificate(
        audited: tuple[GatewayProcess, str]) -> None:
    gateway, certificate_hash = audited
    document = gateway.client.post("/v1/certificates", json=marriage_request("J320100-2026-LOGGED-B"),
                                   headers=gateway.auth("MZ")).json()["certificate"]
    gateway.client.post("/v1/verify/batch", json={"documents": [document, document, {"not": "one"}]},
                        headers=gateway.auth("SJ"))
    entry = gateway.client.get("/v1/audit/log/entries?action=verify&limit=1000",
                               headers=gateway.auth("SJ")).json()["entries"][-1]
    assert (entry["action"], entry["certificates"], entry["outcome"]) == (
        "verify", [document["proof"]["certificateHash"]], "1 invalid, 2 valid")


def test_public_verification_is_not_logged(audited: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = audited
    before = len(gateway.client.get("/v1/audit/log/entries", headers=gateway.auth("SJ")).json()["entries"])
    gateway.client.post("/v1/verify", json={"document": {"not": "a certificate"}})
    after = gateway.client.get("/v1/audit/log/entries", headers=gateway.auth("SJ")).json()["entries"]
    assert len(after) == before + 1 and after[-1]["action"] == "audit_query"  # only the auditor's own query


def test_history_summarises_every_access_newest_first(audited: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = audited
    certificate_hash = _fresh_certificate(gateway, "AUDIT-SUMMARY")
    history = gateway.client.get(f"/v1/certificates/{certificate_hash}/history", headers=gateway.auth("MZ")).json()
    assert (history["accesses"]["count"], [a["action"] for a in history["accesses"]["latest"]]) == (
        2, ["history", "verify"])


def test_each_page_of_a_history_is_logged_as_a_history_read(audited: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = audited
    certificate_hash = _fresh_certificate(gateway, "AUDIT-PAGES")
    for part in ("events", "accesses", "accesses"):
        assert gateway.client.get(f"/v1/certificates/{certificate_hash}/history/{part}", params={"limit": 1},
                                  headers=gateway.auth("GH")).status_code == 200
    entries = _entries_naming(gateway, certificate_hash)
    assert [(e["action"], e["department"], e["certificates"], e["outcome"]) for e in entries[2:]] == [
        ("history", DEMO_DEPARTMENTS["GH"], [certificate_hash], "read")] * 3


def _entries_naming(gateway: GatewayProcess, certificate_hash: str) -> list[dict]:
    """The access-log entries naming the certificate, oldest first (the module's log stays well under
    the 1 000 entries of one page)."""
    entries = gateway.client.get("/v1/audit/log/entries", params={"limit": 1000},
                                 headers=gateway.auth("SJ")).json()["entries"]
    assert len(entries) < 1000
    return [e for e in entries if certificate_hash in e.get("certificates", [])]


def _read_history(gateway: GatewayProcess, certificate_hash: str, times: int) -> dict:
    """The history `times` times by the planning bureau (GH), each read logged; the last answer."""
    for _ in range(times):
        response = gateway.client.get(f"/v1/certificates/{certificate_hash}/history", headers=gateway.auth("GH"))
        assert response.status_code == 200, response.text
    return response.json()


def test_a_popular_certificates_history_stays_bounded(audited: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = audited
    certificate_hash = _fresh_certificate(gateway, "AUDIT-POPULAR")
    history = _read_history(gateway, certificate_hash, 50)
    assert (history["accesses"]["count"], len(history["accesses"]["latest"])) == (2 + 49, 20)
    rest = gateway.client.get(history["accesses"]["nextUrl"], headers=gateway.auth("GH")).json()["accesses"]
    assert history["accesses"]["latest"][-1]["position"] > rest[0]["position"]  # the link continues the list


def test_pages_of_accesses_hold_every_access_once(audited: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = audited
    certificate_hash = _fresh_certificate(gateway, "AUDIT-PAGED")
    _read_history(gateway, certificate_hash, 50)
    logged = [e["position"] for e in _entries_naming(gateway, certificate_hash)]
    paged, cursor = [], None
    while True:  # each page read is itself an access, newer than the pages: not among them
        page = gateway.client.get(f"/v1/certificates/{certificate_hash}/history/accesses",
                                  params={"limit": 7, **({"cursor": cursor} if cursor else {})},
                                  headers=gateway.auth("GH")).json()
        assert len(page["accesses"]) <= 7
        paged += [a["position"] for a in page["accesses"]]
        if (cursor := page["next"]) is None:
            break
    assert (len(logged), paged) == (52, sorted(logged, reverse=True))


def test_the_demo_access_log_is_checkpointed_by_its_registered_operator(audited: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = audited
    _anchored_checkpoint(gateway)
    log_id = code32(DEFAULT_ACCESS_LOG_ID)
    assert gateway.devnet.deployment.checkpoints.functions.logOperator(log_id).call() == code32(DEMO_DEPARTMENTS["DSJ"])


def test_a_log_id_governance_did_not_register_is_not_checkpointed(devnet: Devnet, tmp_path: Path) -> None:
    gateway = GatewayProcess(devnet, tmp_path / "gateway", access_log_id=f"unregistered-{uuid.uuid4().hex[:16]}",
                             checkpoint_interval_seconds="0").start()
    try:
        assert gateway.client.get("/v1/audit/events", headers=gateway.auth("SJ")).status_code == 200  # one entry
        response = gateway.client.post("/v1/audit/log/checkpoints", headers=gateway.auth("SJ"))
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
        assert "is not registered on chain" in response.json()["message"]
    finally:
        gateway.stop()


def test_checkpoints_only_grow_and_proofs_check_against_them(audited: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = audited
    auditor = gateway.auth("SJ")
    first = _anchored_checkpoint(gateway)
    assert gateway.client.post("/v1/audit/log/checkpoints", headers=auditor).json() == {"upToDate": True}
    second = _anchored_checkpoint(gateway)  # one more entry: the tree grew
    assert first["treeSize"] < second["treeSize"]
    proof = gateway.client.get("/v1/audit/log/entries/0/inclusion", params={"treeSize": first["treeSize"]},
                               headers=auditor).json()
    assert verify_inclusion(_hex(proof["leafHash"]), 0, first["treeSize"], [_hex(p) for p in proof["proof"]],
                            _hex(first["root"]))
    consistency = gateway.client.get("/v1/audit/log/consistency", headers=auditor,
                                     params={"from": first["treeSize"], "to": second["treeSize"]}).json()
    assert verify_consistency(first["treeSize"], second["treeSize"], _hex(first["root"]), _hex(second["root"]),
                              [_hex(p) for p in consistency["proof"]])


def _edit(session: Session) -> None:
    row = session.get(AccessLogEntry, 1)
    session.execute(update(AccessLogEntry).where(AccessLogEntry.position == 1)
                    .values(entry={**row.entry, "outcome": "not_found"}))


def _delete(session: Session) -> None:
    session.execute(delete(AccessedCertificate).where(AccessedCertificate.position == 1))
    session.execute(delete(AccessLogEntry).where(AccessLogEntry.position == 1))


def _reorder(session: Session) -> None:
    """Swaps entries 0 and 1 wholesale, leaf hashes included."""
    first, second = session.get(AccessLogEntry, 0), session.get(AccessLogEntry, 1)
    swapped = [({"entry": second.entry, "leaf_hash": second.leaf_hash}, 0),
               ({"entry": first.entry, "leaf_hash": first.leaf_hash}, 1)]
    for values, position in swapped:
        session.execute(update(AccessLogEntry).where(AccessLogEntry.position == position).values(**values))


def _relabel(session: Session) -> None:
    """Changes the copied action of entry 1 (a history read), which the API filters by: a query for
    `action=history` would no longer show it."""
    session.execute(update(AccessLogEntry).where(AccessLogEntry.position == 1).values(action="audit_query"))


def _garble(session: Session) -> None:
    session.execute(text("UPDATE access_log SET entry = '{\"position\": 1, ' WHERE position = 1"))


@pytest.mark.parametrize(("tamper", "named"), [
    (_edit, "entry 1 was altered"), (_delete, "entry 1 is missing"), (_reorder, "entry 0 was moved"),
    (_relabel, "entry 1's action column ('audit_query') differs from its hashed content ('history')"),
    (_garble, "entry 1 is unreadable (not a JSON object)"),
], ids=["edit", "delete", "reorder", "relabel", "unreadable"])
def test_audit_verify_passes_an_untouched_log_and_names_a_tampered_entry(
        own_log: tuple[GatewayProcess, str], tamper: Callable[[Session], None], named: str) -> None:
    gateway, _hash = own_log
    gateway.client.post("/v1/audit/log/checkpoints", headers=gateway.auth("SJ"))
    clean = _audit_cli(gateway, "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    with session_factory(make_engine(gateway.database_url)).begin() as session:
        tamper(session)
    tampered = _audit_cli(gateway, "verify")
    assert (tampered.returncode, tampered.stderr.count("\n")) == (1, 1), tampered.stderr
    assert named in tampered.stdout, tampered.stdout


def test_audit_verify_places_a_consistent_rewrite_by_the_checkpoints(own_log: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = own_log
    auditor = gateway.auth("SJ")
    assert gateway.client.post("/v1/audit/log/checkpoints", headers=auditor).json()["state"] == "done"  # size 2
    gateway.client.get("/v1/audit/log/entries", headers=auditor)  # entry 2
    assert gateway.client.post("/v1/audit/log/checkpoints", headers=auditor).json()["state"] == "done"  # size 3
    rewrite_access_log(session_factory(make_engine(gateway.database_url)), 2)
    verified = _audit_cli(gateway, "verify")
    assert verified.returncode == 1
    assert verified.stdout.splitlines()[-1] == \
        "entry 2 differs from what the checkpoint of size 3 proves (the first 2 entries are as anchored)"


def test_audit_verify_reports_anchored_entries_lost_from_the_end_of_the_log(own_log: tuple[GatewayProcess, str]) -> None:
    """The tail a power cut takes back (docs/gateway.md, "Durability"): were it to reach into entries
    a checkpoint anchored (a disk that acknowledged writes it had not made, an older backup
    restored), the checkpoint on chain shows them missing."""
    gateway, _hash = own_log
    auditor = gateway.auth("SJ")
    assert gateway.client.post("/v1/audit/log/checkpoints", headers=auditor).json()["state"] == "done"  # size 2
    gateway.client.get("/v1/audit/log/entries", headers=auditor)  # entry 2, not anchored
    with session_factory(make_engine(gateway.database_url)).begin() as session:
        session.execute(delete(AccessedCertificate).where(AccessedCertificate.position >= 1))
        session.execute(delete(AccessLogEntry).where(AccessLogEntry.position >= 1))
    verified = _audit_cli(gateway, "verify")
    assert verified.returncode == 1
    assert verified.stdout.splitlines()[0] == \
        "entry 1 is missing: the log ends there, but a checkpoint of size 2 is anchored on chain"


def test_audit_verify_reports_an_unreachable_chain_in_one_line(own_devnet: Devnet, tmp_path: Path) -> None:
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway").start()
    gateway.stop()
    own_devnet.stop_chain()
    verified = _audit_cli(gateway, "verify")
    assert (verified.returncode, verified.stderr.count("\n"), "Traceback" in verified.stderr) == (1, 1, False), \
        verified.stderr


def test_an_inclusion_proof_checks_against_the_chain(audited: tuple[GatewayProcess, str], tmp_path: Path) -> None:
    gateway, _hash = audited
    size = _anchored_checkpoint(gateway)["treeSize"]
    proof = gateway.client.get("/v1/audit/log/entries/1/inclusion", params={"treeSize": size},
                               headers=gateway.auth("SJ")).json()
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    checked = _audit_cli(gateway, "check-inclusion", str(tmp_path / "proof.json"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"checkpoint of size {size}" in checked.stdout


def test_an_inclusion_proof_of_an_altered_entry_is_rejected(audited: tuple[GatewayProcess, str],
                                                            tmp_path: Path) -> None:
    gateway, _hash = audited
    size = _anchored_checkpoint(gateway)["treeSize"]
    proof = gateway.client.get("/v1/audit/log/entries/1/inclusion", params={"treeSize": size},
                               headers=gateway.auth("SJ")).json()
    proof["entry"]["outcome"] = "not_found"
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    checked = _audit_cli(gateway, "check-inclusion", str(tmp_path / "proof.json"))
    assert checked.returncode == 1
    assert "entry 1 does not hash to the leaf" in checked.stderr


@pytest.mark.parametrize(("proof_text", "said"), [
    ("[" * 100_000, "error (invalid_input):"),
    ('{"treeSize": 1}', "error (invalid_input): not an inclusion proof"),
    ('{"treeSize": TREE_SIZE, "position": 1, "leafHash": "0x00", "proof": [], "entry": {"n": NaN}}',
     "error (proof_rejected): entry 1 does not hash to the leaf 0x00"),
], ids=["nested-too-deep", "incomplete", "entry-not-canonical"])
def test_check_inclusion_refuses_a_malformed_proof_in_one_line(audited: tuple[GatewayProcess, str], tmp_path: Path,
                                                                proof_text: str, said: str) -> None:
    gateway, _hash = audited
    tree_size = _anchored_checkpoint(gateway)["treeSize"]  # TREE_SIZE: a size anchored on chain
    (tmp_path / "proof.json").write_text(proof_text.replace("TREE_SIZE", str(tree_size)))
    checked = _audit_cli(gateway, "check-inclusion", str(tmp_path / "proof.json"))
    assert (checked.returncode, checked.stderr.count("\n")) == (1, 1), checked.stderr
    assert checked.stderr.startswith(said), checked.stderr


def test_a_restarted_gateway_continues_the_same_log(own_log: tuple[GatewayProcess, str]) -> None:
    gateway, certificate_hash = own_log
    gateway.client.post("/v1/audit/log/checkpoints", headers=gateway.auth("SJ"))
    gateway.stop()
    gateway.start()
    gateway.client.get(f"/v1/certificates/{certificate_hash}/history", headers=gateway.auth("SJ"))
    assert gateway.client.post("/v1/audit/log/checkpoints", headers=gateway.auth("SJ")).json()["state"] == "done"
    sizes = [c["treeSize"] for c in gateway.client.get("/v1/audit/log/checkpoints",
                                                       headers=gateway.auth("SJ")).json()["checkpoints"]]
    assert sizes == sorted(sizes) and len(sizes) == 2
    verified = _audit_cli(gateway, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_only_auditors_read_the_log(audited: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = audited
    assert gateway.client.get("/v1/audit/log/entries", headers=gateway.auth("MZ")).status_code == 403
    assert gateway.client.post("/v1/audit/log/checkpoints", headers=gateway.auth("MZ")).status_code == 403
    assert gateway.client.get("/v1/audit/log/entries").status_code == 401


def test_an_unknown_action_filter_is_invalid_input(audited: tuple[GatewayProcess, str]) -> None:
    response = audited[0].client.get("/v1/audit/log/entries", params={"action": "frobnicate"},
                                              headers=audited[0].auth("SJ"))
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")


def test_export_writes_csv_for_a_time_range(audited: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = audited
    future = _audit_cli(gateway, "export", "--format", "csv", "--since", "2999-01-01T00:00:00")
    assert future.stdout.splitlines() == ["position,recordedAt,department,action,leafHash,entry"]
    everything = list(csv.DictReader(io.StringIO(_audit_cli(gateway, "export", "--format", "csv").stdout)))
    assert [row["action"] for row in everything[:2]] == ["verify", "history"]


def test_export_writes_json_lines(audited: tuple[GatewayProcess, str]) -> None:
    gateway, certificate_hash = audited
    exported = _audit_cli(gateway, "export")
    assert exported.returncode == 0, exported.stderr
    assert certificate_hash in exported.stdout.splitlines()[0]


def test_export_stops_at_an_unreadable_entry_in_one_line(own_log: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = own_log
    with session_factory(make_engine(gateway.database_url)).begin() as session:
        _garble(session)
    exported = _audit_cli(gateway, "export")
    assert (exported.returncode, exported.stderr) == (
        1, "error (gateway_error): an entry at position 0 or later is unreadable; certnet audit verify names it\n")


@pytest.mark.parametrize("query", [
    "/v1/audit/log/entries?after=18446744073709551616",
    "/v1/audit/log/entries/18446744073709551616/inclusion?treeSize=1",
    "/v1/audit/log/entries/0/inclusion?treeSize=18446744073709551616",
    "/v1/audit/log/consistency?from=1&to=18446744073709551616",
], ids=["after", "position", "tree-size", "consistency"])
def test_a_position_beyond_64_bits_is_invalid_input(gateway_http: GatewayProcess, query: str) -> None:
    response = gateway_http.client.get(query, headers=gateway_http.auth("SJ"))
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")
