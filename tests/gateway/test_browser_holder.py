"""`/holder` in Debian's Chromium against a real gateway on anvil: the key made by WebCrypto is
registered by the holder channel (ZWB), consents and withdrawals signed in the browser are accepted
by the API, verified by the Python code and honoured by a sharing request of the housing bureau
(ZJ) — the same flow as tests/gateway/test_sharing.py, with the browser as the holder's device."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import rfc8785
from ecdsa import NIST256p

from gateway.sharing.consent import load_public_key, parse_consent, parse_withdrawal, record_id, signed_by
from gateway.web.text import ZH
from tests.conftest import DEMO_DEPARTMENTS, MZ_MARRIAGE, BrowserTab, GatewayProcess, citizen_id, issued_marriage

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ITEM = "320100-SX-ZJ-0001"  # owned by ZJ; needs MZ's marriage certificate
ZJ = DEMO_DEPARTMENTS["ZJ"]
_serials = itertools.count(600)  # citizens of their own: tests/gateway/test_sharing.py counts from 100
#: The message lines the page fills while it works; a test waits until one says something else.
_BUSY = (ZH["holder_js_signing"], ZH["holder_js_loading"])
#: A device with a consent it signed and gave: the device, the signed body, the holder's pseudonym.
Consented = tuple["HolderDevice", dict[str, Any], str]


def _wait_for_message(tab: BrowserTab, element_id: str) -> str:
    tab.page.wait_for_function("([id, busy]) => { const text = document.getElementById(id).textContent;"
                               " return text !== '' && !busy.includes(text); }", arg=[element_id, list(_BUSY)])
    return tab.page.text_content(f"#{element_id}") or ""


class HolderDevice:
    """The holder page in a tab, driven as a person would: buttons, fields, the answers it shows."""

    def __init__(self, tab: BrowserTab) -> None:
        self.tab = tab
        self.page = tab.page

    def open(self) -> None:
        self.tab.open("/holder")
        self.page.wait_for_selector("#holder[data-ready=true]", state="attached")

    def make_key(self) -> None:
        self.page.click("#make-key")
        self.page.wait_for_function("() => document.getElementById('key-id').textContent.startsWith('0x')")

    @property
    def key_id(self) -> str:
        return self.page.text_content("#key-id") or ""

    @property
    def public_key(self) -> str:
        return self.page.input_value("#public-key")

    def registration(self, citizen: str) -> str:
        """The registration body the page makes for the holder channel."""
        scheme, _, number = citizen.partition(":")
        self.page.select_option("#id-scheme", scheme)
        self.page.fill("#id-number", number)
        self.page.click("#register-form button[type=submit]")
        assert _wait_for_message(self.tab, "register-message") == ZH["holder_js_registration_made"]
        return self.page.input_value("#registration")

    def save_pseudonym(self, pseudonym: str) -> None:
        self.page.fill("#pseudonym", pseudonym)
        self.page.click("#pseudonym-form button[type=submit]")
        assert _wait_for_message(self.tab, "pseudonym-message") == ZH["holder_js_pseudonym_saved"]

    def show_item(self, code: str = ITEM) -> str:
        self.page.fill("#service-item", code)
        self.page.click("#item-form button[type=submit]")
        return _wait_for_message(self.tab, "item-message")

    def give_consent(self, grantee: str = ZJ) -> tuple[str, dict[str, Any]]:
        """Signs and gives a consent for the item shown; the page's message and the signed body it shows."""
        self.page.select_option("#grantee", grantee)
        self.page.click("#consent-form button[type=submit]")
        return _wait_for_message(self.tab, "consent-message"), json.loads(self.page.input_value("#consent-body"))

    def withdraw(self, consent_id: str) -> tuple[str, dict[str, Any]]:
        self.page.fill("#consent-id", consent_id)
        self.page.click("#withdraw-form button[type=submit]")
        return _wait_for_message(self.tab, "withdraw-message"), json.loads(self.page.input_value("#withdrawal-body"))


@pytest.fixture
def device(browser_tab: BrowserTab) -> HolderDevice:
    """The holder page open in Chromium, with a key made."""
    holder_device = HolderDevice(browser_tab)
    holder_device.open()
    holder_device.make_key()
    return holder_device


def _register(gateway: GatewayProcess, device: HolderDevice, citizen: str) -> dict[str, Any]:
    """The holder channel sends the page's registration body as it is."""
    response = gateway.client.post("/v1/holders/keys", headers={**gateway.auth("ZWB"), "Content-Type":
                                                                "application/json"},
                                   content=device.registration(citizen).encode())
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def registered(gateway_http: GatewayProcess, device: HolderDevice) -> tuple[HolderDevice, str, str]:
    """A device whose key the holder channel registered and which keeps its holder's pseudonym; with
    the holder's identity and pseudonym."""
    citizen = citizen_id(next(_serials))
    pseudonym = _register(gateway_http, device, citizen)["holder"]
    device.save_pseudonym(pseudonym)
    return device, citizen, pseudonym


@pytest.fixture
def consented(registered: tuple[HolderDevice, str, str]) -> Consented:
    """A consent for ZJ on the item, signed and given in the browser: the device, the signed body and
    the holder's pseudonym."""
    device, _, pseudonym = registered
    assert device.show_item() == ZH["holder_js_item_loaded"]
    message, body = device.give_consent()
    assert message.startswith(ZH["holder_js_consent_given"]), message
    return device, body, pseudonym


def _share(gateway: GatewayProcess, pseudonym: str) -> Any:
    return gateway.client.post("/v1/sharing/requests", headers=gateway.auth("ZJ"),
                               json={"serviceItem": ITEM, "holder": pseudonym})


# ----- the key -----


def test_the_registration_body_is_certnet_holder_keygens(device: HolderDevice) -> None:
    citizen = citizen_id(next(_serials))
    text = device.registration(citizen)
    pem = load_public_key(device.public_key).to_pem().decode()  # as Python writes the same key
    assert text == json.dumps({"holder": citizen, "publicKey": pem})


def test_a_key_made_in_chromium_is_registered_by_the_holder_channel(gateway_http: GatewayProcess,
                                                                    device: HolderDevice) -> None:
    answer = _register(gateway_http, device, citizen_id(next(_serials)))
    assert (answer["keyId"], answer["revokedAt"]) == (device.key_id, None)


def test_the_private_key_cannot_be_exported(device: HolderDevice) -> None:
    refusals = device.page.evaluate("""async () => {
        const db = await new Promise((resolve, reject) => {
            const request = indexedDB.open('certnet-holder');
            request.onsuccess = () => resolve(request.result); request.onerror = () => reject(request.error); });
        const key = await new Promise(resolve => {
            db.transaction('device').objectStore('device').get('key').onsuccess = e => resolve(e.target.result); });
        const refusals = [];
        for (const format of ['pkcs8', 'jwk']) {
            await crypto.subtle.exportKey(format, key.privateKey).then(
                () => refusals.push('exported'), error => refusals.push(error.name)); }
        return [key.privateKey.extractable, key.privateKey.algorithm.namedCurve, refusals];
    }""")
    assert refusals == [False, "P-256", ["InvalidAccessError", "InvalidAccessError"]]


def test_the_key_survives_a_reload(device: HolderDevice) -> None:
    before = (device.key_id, device.public_key)
    device.page.reload()
    device.page.wait_for_selector("#holder[data-ready=true]", state="attached")
    assert (device.key_id, device.public_key) == before and device.page.is_hidden("#make-key")


def test_the_id_number_is_neither_kept_nor_sent(gateway_http: GatewayProcess, device: HolderDevice) -> None:
    sent: list[str] = []
    device.page.on("request", lambda request: sent.append(request.url + (request.post_data or "")))
    citizen = citizen_id(next(_serials))
    _register(gateway_http, device, citizen)  # the test is the holder channel here, outside the browser
    device.save_pseudonym("urn:certnet:holder:" + "0" * 64)
    device.show_item()
    kept = device.page.evaluate("""async () => {
        const db = await new Promise(resolve => {
            indexedDB.open('certnet-holder').onsuccess = e => resolve(e.target.result); });
        const values = await new Promise(resolve => {
            db.transaction('device').objectStore('device').getAll().onsuccess = e => resolve(e.target.result); });
        return JSON.stringify(values);  // the CryptoKeys as {}, all else as kept
    }""")
    number = citizen.partition(":")[2]
    assert sent and kept and number not in kept and not any(number in request for request in sent)


# ----- the service item -----


def test_the_page_lists_what_a_service_item_needs(device: HolderDevice) -> None:
    assert device.show_item() == ZH["holder_js_item_loaded"]
    assert device.page.locator("#item-types li").all_text_contents() == [MZ_MARRIAGE]
    assert ZJ in (device.page.text_content("#item-handlers") or "")


def test_an_unknown_service_item_shows_the_gateways_refusal(device: HolderDevice) -> None:
    message = device.show_item("NO-SUCH-ITEM")
    assert message.startswith(ZH["holder_js_refused"] + "not_found"), message


# ----- consents and withdrawals -----


def test_a_consent_signed_in_chromium_is_verified_by_the_python_code(consented: Consented) -> None:
    device, body, pseudonym = consented
    consent = parse_consent(body["record"])
    assert (consent.holder, consent.grantee, consent.serviceItem, consent.certificateTypes) == \
        (pseudonym, ZJ, ITEM, [MZ_MARRIAGE])
    assert signed_by(load_public_key(device.public_key), body["record"], body["signature"])


def test_either_s_of_a_browser_signature_verifies(consented: Consented) -> None:
    """WebCrypto's s is high half the time; the Python side takes s and n - s alike, so the page
    normalises nothing."""
    device, body, _ = consented
    raw = bytes.fromhex(body["signature"].removeprefix("0x"))
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    other = "0x" + (r + (NIST256p.order - s).to_bytes(32, "big")).hex()
    key = load_public_key(device.public_key)
    assert signed_by(key, body["record"], body["signature"]) and signed_by(key, body["record"], other)


def test_a_consent_signed_in_chromium_is_accepted_by_the_api(
        gateway_http: GatewayProcess, consented: Consented) -> None:
    device, body, _ = consented
    stored = gateway_http.client.get(f"/v1/consents/{record_id(body['record'])}", headers=gateway_http.auth("ZJ"))
    assert stored.status_code == 200, stored.text
    assert (stored.json()["state"], stored.json()["keyId"], stored.json()["record"], stored.json()["signature"]) == \
        ("active", device.key_id, body["record"], body["signature"])


def test_a_consent_signed_in_chromium_lets_the_department_share(
        gateway_http: GatewayProcess, registered: tuple[HolderDevice, str, str]) -> None:
    device, citizen, pseudonym = registered
    issued = issued_marriage(gateway_http, number=f"HOLDER-PAGE-{citizen[-6:]}", holder=citizen)
    device.show_item()
    device.give_consent()
    shared = _share(gateway_http, pseudonym)
    assert shared.status_code == 200, shared.text
    assert [c["proof"]["certificateHash"] for c in shared.json()["certificates"]] == \
        [issued["certificate"]["proof"]["certificateHash"]]


def test_a_withdrawal_signed_in_chromium_stops_the_sharing(gateway_http: GatewayProcess, consented: Consented) -> None:
    device, body, pseudonym = consented
    consent_id = record_id(body["record"])
    message, withdrawal = device.withdraw(consent_id)
    assert message == ZH["holder_js_withdrawn"] + ZH["holder_js_state_withdrawn"]
    assert parse_withdrawal(withdrawal["record"]).consent == consent_id
    assert signed_by(load_public_key(device.public_key), withdrawal["record"], withdrawal["signature"])
    refused = _share(gateway_http, pseudonym)
    assert (refused.status_code, refused.json()["code"]) == (403, "consent_withdrawn"), refused.text


def test_a_consent_changed_after_signing_is_refused(gateway_http: GatewayProcess, consented: Consented) -> None:
    _, body, _ = consented
    nonce = body["record"]["nonce"]
    tampered = {**body, "record": {**body["record"], "nonce": nonce[:-1] + ("0" if nonce[-1] != "0" else "1")}}
    response = gateway_http.client.post("/v1/consents", json=tampered)
    assert (response.status_code, response.json()["code"]) == (403, "invalid_consent_signature"), response.text


def test_a_consent_by_a_key_not_registered_is_refused_on_the_page(device: HolderDevice) -> None:
    device.save_pseudonym("urn:certnet:holder:" + "ab" * 32)
    device.show_item()
    message, _ = device.give_consent()
    assert message.startswith(ZH["holder_js_refused"] + "invalid_consent_signature"), message


# ----- the canonicaliser -----


@pytest.mark.parametrize("value", [
    {"b": 1, "a": [True, None, "x"], "c": {"z": "", "y": -0}},
    {"\ue000": 1, "\U0001f600": 2, "é": 3, "a": 4},  # members by UTF-16 code units, not by code points
    {"text": "持证人\u001f\"\\\n\t\u2028/<>&'\U0001f600", "numbers": [0, 1, -1, 2**53 - 1, 1.5, 1e21, 1e-7, 123.456]},
    {"type": "CertNetConsent", "version": 1, "certificateTypes": ["320100-MZ-001", "320100-GA-002"]},
])
def test_the_canonicaliser_writes_what_rfc8785_writes(device: HolderDevice, value: Any) -> None:
    assert device.page.evaluate("value => CertNetHolder.canonicalJson(value)", value) == \
        rfc8785.dumps(value).decode()


# ----- the page itself -----


def test_the_page_runs_clean_and_accessible_through_a_consent(consented: Consented) -> None:
    device = consented[0]
    assert device.tab.accessibility_violations() == []
    device.tab.screenshot("holder")
    assert device.tab.errors == []


def test_the_english_page_runs_clean_and_accessible(browser_tab: BrowserTab) -> None:
    browser_tab.open("/holder?lang=en")
    browser_tab.page.wait_for_selector("#holder[data-ready=true]", state="attached")
    assert browser_tab.accessibility_violations() == [] and browser_tab.errors == []
