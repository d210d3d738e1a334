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
from tests.conftest import DEMO_DEPARTMENTS, Devnet, GatewayProcess, marriage_request, rewrite_access_log

pytestmark = pytest.mark.slow


@pytest.fixture
def audited(own_devnet: Devnet, tmp_path: Path) -> Iterator[tuple[GatewayProcess, str]]:
    """A gateway of its own with one marriage certificate that the audit bureau verified and read."""
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway").start()
    issued = gateway.client.post("/v1/certificates", json=marriage_request("AUDIT-1"), headers=gateway.auth("MZ"))
    document = issued.json()["certificate"]
    assert gateway.client.post("/v1/verify", json={"document": document}, headers=gateway.auth("SJ")).json()[
        "verdict"] == "valid"
    gateway.wait_indexed()
    assert gateway.client.get(f"/v1/certificates/{document['proof']['certificateHash']}/history",
                              headers=gateway.auth("SJ")).status_code == 200
    yield gateway, document["proof"]["certificateHash"]
    gateway.stop()


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
    gateway, certificate_hash = audited
    history = gateway.client.get(f"/v1/certificates/{certificate_hash}/history", headers=gateway.auth("MZ")).json()
    assert (history["accesses"]["count"], [a["action"] for a in history["accesses"]["latest"]]) == (
        2, ["history", "verify"])


def test_each_page_of_a_history_is_logged_as_a_history_read(audited: tuple[GatewayProcess, str]) -> None:
    gateway, certificate_hash = audited
    for part in ("events", "accesses", "accesses"):
        assert gateway.client.get(f"/v1/certificates/{certificate_hash}/history/{part}", params={"limit": 1},
                                  headers=gateway.auth("GH")).status_code == 200
    entries = gateway.client.get("/v1/audit/log/entries", headers=gateway.auth("SJ")).json()["entries"]
    assert [(e["action"], e["department"], e["certificates"], e["outcome"]) for e in entries[2:5]] == [
        ("history", DEMO_DEPARTMENTS["GH"], [certificate_hash], "read")] * 3


def _read_history(gateway: GatewayProcess, certificate_hash: str, times: int) -> dict:
    """The history `times` times by the planning bureau (GH), each read logged; the last answer."""
    for _ in range(times):
        response = gateway.client.get(f"/v1/certificates/{certificate_hash}/history", headers=gateway.auth("GH"))
        assert response.status_code == 200, response.text
    return response.json()


def test_a_popular_certificates_history_stays_bounded(audited: tuple[GatewayProcess, str]) -> None:
    gateway, certificate_hash = audited
    history = _read_history(gateway, certificate_hash, 50)
    assert (history["accesses"]["count"], len(history["accesses"]["latest"])) == (2 + 49, 20)
    rest = gateway.client.get(history["accesses"]["nextUrl"], headers=gateway.auth("GH")).json()["accesses"]
    assert history["accesses"]["latest"][-1]["position"] > rest[0]["position"]  # the link continues the list


def test_pages_of_accesses_hold_every_access_once(audited: tuple[GatewayProcess, str]) -> None:
    gateway, certificate_hash = audited
    _read_history(gateway, certificate_hash, 50)
    logged = [e["position"] for e in gateway.client.get("/v1/audit/log/entries", params={"limit": 1000},
                                                        headers=gateway.auth("SJ")).json()["entries"]
              if certificate_hash in e.get("certificates", [])]
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
    assert gateway.client.post("/v1/audit/log/checkpoints", headers=gateway.auth("SJ")).json()["state"] == "done"
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
    assert gateway.client.post("/v1/audit/log/checkpoints", headers=auditor).json()["state"] == "done"
    assert gateway.client.post("/v1/audit/log/checkpoints", headers=auditor).json() == {"upToDate": True}
    gateway.client.get("/v1/audit/log/entries", headers=auditor)  # one more entry: the tree grows
    assert gateway.client.post("/v1/audit/log/checkpoints", headers=auditor).json()["state"] == "done"
    first, second = gateway.client.get("/v1/audit/log/checkpoints", headers=auditor).json()["checkpoints"]
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
        audited: tuple[GatewayProcess, str], tamper: Callable[[Session], None], named: str) -> None:
    gateway, _hash = audited
    gateway.client.post("/v1/audit/log/checkpoints", headers=gateway.auth("SJ"))
    clean = _audit_cli(gateway, "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    with session_factory(make_engine(gateway.database_url)).begin() as session:
        tamper(session)
    tampered = _audit_cli(gateway, "verify")
    assert (tampered.returncode, tampered.stderr.count("\n")) == (1, 1), tampered.stderr
    assert named in tampered.stdout, tampered.stdout


def test_audit_verify_places_a_consistent_rewrite_by_the_checkpoints(audited: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = audited
    auditor = gateway.auth("SJ")
    assert gateway.client.post("/v1/audit/log/checkpoints", headers=auditor).json()["state"] == "done"  # size 2
    gateway.client.get("/v1/audit/log/entries", headers=auditor)  # entry 2
    assert gateway.client.post("/v1/audit/log/checkpoints", headers=auditor).json()["state"] == "done"  # size 3
    rewrite_access_log(session_factory(make_engine(gateway.database_url)), 2)
    verified = _audit_cli(gateway, "verify")
    assert verified.returncode == 1
    assert verified.stdout.splitlines()[-1] == \
        "entry 2 differs from what the checkpoint of size 3 proves (the first 2 entries are as anchored)"


def test_audit_verify_reports_anchored_entries_lost_from_the_end_of_the_log(audited: tuple[GatewayProcess, str]) -> None:
    """The tail a power cut takes back (docs/gateway.md, "Durability"): were it to reach into entries
    a checkpoint anchored (a disk that acknowledged writes it had not made, an older backup
    restored), the checkpoint on chain shows them missing."""
    gateway, _hash = audited
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


def test_audit_verify_reports_an_unreachable_chain_in_one_line(audited: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = audited
    gateway.devnet.stop_chain()
    try:
        verified = _audit_cli(gateway, "verify")
    finally:
        gateway.devnet.restart_chain()
    assert (verified.returncode, verified.stderr.count("\n"), "Traceback" in verified.stderr) == (1, 1, False), \
        verified.stderr


def test_an_inclusion_proof_checks_against_the_chain(audited: tuple[GatewayProcess, str], tmp_path: Path) -> None:
    gateway, _hash = audited
    size = gateway.client.post("/v1/audit/log/checkpoints", headers=gateway.auth("SJ")).json() and \
        gateway.client.get("/v1/audit/log/checkpoints", headers=gateway.auth("SJ")).json()["checkpoints"][-1]["treeSize"]
    proof = gateway.client.get("/v1/audit/log/entries/1/inclusion", params={"treeSize": size},
                               headers=gateway.auth("SJ")).json()
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    checked = _audit_cli(gateway, "check-inclusion", str(tmp_path / "proof.json"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"checkpoint of size {size}" in checked.stdout


def test_an_inclusion_proof_of_an_altered_entry_is_rejected(audited: tuple[GatewayProcess, str],
                                                            tmp_path: Path) -> None:
    gateway, _hash = audited
    gateway.client.post("/v1/audit/log/checkpoints", headers=gateway.auth("SJ"))
    size = gateway.client.get("/v1/audit/log/checkpoints", headers=gateway.auth("SJ")).json()["checkpoints"][-1][
        "treeSize"]
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
    ('{"treeSize": 2, "position": 1, "leafHash": "0x00", "proof": [], "entry": {"n": NaN}}',
     "error (proof_rejected): entry 1 does not hash to the leaf 0x00"),
], ids=["nested-too-deep", "incomplete", "entry-not-canonical"])
def test_check_inclusion_refuses_a_malformed_proof_in_one_line(audited: tuple[GatewayProcess, str], tmp_path: Path,
                                                                proof_text: str, said: str) -> None:
    gateway, _hash = audited
    assert gateway.client.post("/v1/audit/log/checkpoints", headers=gateway.auth("SJ")).json()["state"] == "done"
    (tmp_path / "proof.json").write_text(proof_text)
    checked = _audit_cli(gateway, "check-inclusion", str(tmp_path / "proof.json"))
    assert (checked.returncode, checked.stderr.count("\n")) == (1, 1), checked.stderr
    assert checked.stderr.startswith(said), checked.stderr


def test_a_restarted_gateway_continues_the_same_log(audited: tuple[GatewayProcess, str]) -> None:
    gateway, certificate_hash = audited
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


def test_export_stops_at_an_unreadable_entry_in_one_line(audited: tuple[GatewayProcess, str]) -> None:
    gateway, _hash = audited
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
