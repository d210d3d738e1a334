/* CertNet holder page (/holder): what a holder's phone does, in the browser.
 *
 * The records and the signature are exactly those of `certnet holder` (docs/sharing.md,
 * gateway/sharing/consent.py): ECDSA P-256 with SHA-256 over the record's RFC 8785 (JCS)
 * serialisation, sent as "0x" + r || s — which is what WebCrypto's ECDSA signature already is
 * (IEEE P1363), so no DER conversion; the Python side accepts any s, so no low-S step.
 * The private key is made non-extractable and kept in IndexedDB; the ID number typed for the
 * registration request lives only in the page (never stored, never sent by this script).
 * Words come from the page (data-words): no text here is shown to a person.
 */
"use strict";

(function () {
  const PSEUDONYM = /^urn:certnet:holder:[0-9a-f]{64}$/;
  const RECORD_ID = /^0x[0-9a-f]{64}$/;
  const CODE = /^[!-~]{1,32}$/;
  const IDENTITY_NUMBER = /^[0-9A-Z]{18}$/;
  const CLOCK_SKEW_SECONDS = 60; // notBefore a minute back, as `certnet holder consent` does
  const DAY_SECONDS = 86400;
  const NONCE_BYTES = 16;
  const KEPT_CONSENTS = 50; // the device's list of consents it signed, newest first
  const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

  // ----- RFC 8785 (JSON Canonicalization Scheme) -----

  /* ECMAScript's JSON.stringify already writes strings and numbers as RFC 8785 does (the RFC
   * borrows its rules); what is left is sorting object members by UTF-16 code units, which is what
   * Array.prototype.sort does with strings, and refusing what JSON cannot say. */
  function canonicalJson(value) {
    if (value === null || typeof value === "boolean") {
      return JSON.stringify(value);
    }
    if (typeof value === "number") {
      if (!Number.isFinite(value)) throw new TypeError("RFC 8785 has no " + value);
      return JSON.stringify(value);
    }
    if (typeof value === "string") {
      if (LONE_SURROGATE.test(value)) throw new TypeError("RFC 8785 refuses a lone surrogate");
      return JSON.stringify(value);
    }
    if (Array.isArray(value)) {
      return "[" + value.map(canonicalJson).join(",") + "]";
    }
    if (typeof value === "object") {
      return "{" + Object.keys(value).sort().map(function (name) {
        return canonicalJson(name) + ":" + canonicalJson(value[name]);
      }).join(",") + "}";
    }
    throw new TypeError("not JSON: " + typeof value);
  }

  // ----- bytes -----

  function hex(bytes) {
    return Array.from(new Uint8Array(bytes), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  /* PEM as Python's ecdsa writes it (`VerifyingKey.to_pem`): base64 in lines of 76. */
  function publicKeyPem(der) {
    const base64 = btoa(String.fromCharCode.apply(null, new Uint8Array(der)));
    const lines = base64.match(/.{1,76}/g);
    return "-----BEGIN PUBLIC KEY-----\n" + lines.join("\n") + "\n-----END PUBLIC KEY-----\n";
  }

  function utcText(seconds) {
    return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  // ----- IndexedDB: the device's key, its holder's pseudonym, the consents it signed -----

  const DATABASE = "certnet-holder";
  const STORE = "device";

  function openDatabase() {
    return new Promise(function (resolve, reject) {
      const request = indexedDB.open(DATABASE, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  let database = null;

  function kept(name) {
    return new Promise(function (resolve, reject) {
      const request = database.transaction(STORE, "readonly").objectStore(STORE).get(name);
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function keep(name, value) {
    return new Promise(function (resolve, reject) {
      const transaction = database.transaction(STORE, "readwrite");
      transaction.objectStore(STORE).put(value, name);
      transaction.oncomplete = function () { resolve(); };
      transaction.onerror = function () { reject(transaction.error); };
    });
  }

  // ----- keys and signed records -----

  async function newDeviceKey() {
    const pair = await crypto.subtle.generateKey({name: "ECDSA", namedCurve: "P-256"}, false /* non-extractable */,
                                                 ["sign", "verify"]);
    const der = await crypto.subtle.exportKey("spki", pair.publicKey); // a public key is always exportable
    return {privateKey: pair.privateKey, publicKey: pair.publicKey, publicKeyPem: publicKeyPem(der),
            keyId: "0x" + hex(await crypto.subtle.digest("SHA-256", der))};
  }

  /* `certnet holder keygen`'s output: Python's json.dumps of {"holder", "publicKey"}. */
  function registrationText(holder, pem) {
    return '{"holder": ' + JSON.stringify(holder) + ', "publicKey": ' + JSON.stringify(pem) + "}";
  }

  async function signed(privateKey, record) {
    const message = new TextEncoder().encode(canonicalJson(record));
    const signature = await crypto.subtle.sign({name: "ECDSA", hash: "SHA-256"}, privateKey, message);
    return {record: record, signature: "0x" + hex(signature)};
  }

  /* `gateway.sharing.consent.new_consent`'s record: from a minute ago for `days`, at most the longest
   * a consent may last. */
  function consentRecord(holder, grantee, serviceItem, types, days, maxDays) {
    const now = Math.floor(Date.now() / 1000);
    const notBefore = now - CLOCK_SKEW_SECONDS;
    const notAfter = Math.min(now + days * DAY_SECONDS, notBefore + maxDays * DAY_SECONDS);
    return {type: "CertNetConsent", version: 1, holder: holder, grantee: grantee, serviceItem: serviceItem,
            certificateTypes: types, notBefore: utcText(notBefore), notAfter: utcText(notAfter),
            nonce: hex(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)))};
  }

  function withdrawalRecord(consentId) {
    return {type: "CertNetConsentWithdrawal", version: 1, consent: consentId,
            withdrawnAt: utcText(Math.floor(Date.now() / 1000))};
  }

  // ----- the gateway's API -----

  class Refusal extends Error {}

  async function api(path, body) {
    let response;
    try {
      response = await fetch(path, body === undefined ? {} : {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    } catch (unreachable) {
      throw new Refusal(words.network_error);
    }
    const answer = await response.json().catch(function () { return {}; });
    if (!response.ok) {
      const reason = answer.message ? " — " + answer.message : "";
      throw new Refusal(words.refused + (answer.code || response.status) + reason);
    }
    return answer;
  }

  // ----- the page -----

  const root = document.getElementById("holder");
  if (root === null) return;
  const words = JSON.parse(root.dataset.words);
  const maxDays = Number(root.dataset.maxDays);
  const element = document.getElementById.bind(document);
  let item = null; // the service item shown: {code, owner, handlers, requiredTypes}
  const departmentNames = {};

  function say(id, text) {
    element(id).textContent = text;
  }

  function stateWord(state) {
    return words["state_" + state] || state;
  }

  function departmentLabel(code) {
    return departmentNames[code] ? departmentNames[code] + " (" + code + ")" : code;
  }

  function listItem(text) {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  }

  async function deviceKey() {
    const key = await kept("key");
    if (key === undefined) throw new Refusal(words.no_key);
    return key;
  }

  function showKey(key) {
    say("key-message", key ? words.key_ready : words.key_none);
    say("key-id", key ? key.keyId : "—");
    element("public-key").value = key ? key.publicKeyPem : "";
    element("make-key").hidden = Boolean(key);
    element("make-key").disabled = Boolean(key);
  }

  async function showGivenConsents() {
    const given = (await kept("consents")) || [];
    const list = element("given-consents");
    if (given.length === 0) {
      list.replaceChildren(listItem(words.none_given));
      return;
    }
    list.replaceChildren(...given.map(function (consent) {
      const li = listItem(consent.serviceItem + " → " + consent.grantee + ", " + consent.notAfter + " · " +
                          words.id + " " + consent.id + " ");
      const choose = document.createElement("button");
      choose.type = "button";
      choose.textContent = words.choose;
      choose.addEventListener("click", function () { element("consent-id").value = consent.id; });
      li.appendChild(choose);
      return li;
    }));
  }

  /* Runs a form's work, its outcome (or refusal) in the form's message line, emptied first so that
   * the same outcome twice is announced twice. */
  function onSubmit(formId, messageId, work) {
    element(formId).addEventListener("submit", async function (event) {
      event.preventDefault();
      say(messageId, "");
      try {
        say(messageId, await work());
      } catch (error) {
        say(messageId, error instanceof Refusal ? error.message : String(error));
      }
    });
  }

  element("make-key").addEventListener("click", async function () {
    try {
      const key = await newDeviceKey();
      await keep("key", key);
      showKey(key);
      say("key-message", words.key_made);
    } catch (error) {
      say("key-message", String(error));
    }
  });

  onSubmit("register-form", "register-message", async function () {
    const number = element("id-number").value.trim().toUpperCase();
    if (!IDENTITY_NUMBER.test(number)) throw new Refusal(words.id_invalid);
    const key = await deviceKey();
    element("registration").value = registrationText(element("id-scheme").value + ":" + number, key.publicKeyPem);
    return words.registration_made;
  });

  onSubmit("pseudonym-form", "pseudonym-message", async function () {
    const pseudonym = element("pseudonym").value.trim();
    if (!PSEUDONYM.test(pseudonym)) throw new Refusal(words.pseudonym_invalid);
    await keep("pseudonym", pseudonym);
    return words.pseudonym_saved;
  });

  onSubmit("item-form", "item-message", async function () {
    const code = element("service-item").value.trim();
    if (!CODE.test(code)) throw new Refusal(words.item_invalid);
    item = null; // until the gateway answers: never sign for the item shown before
    element("item-facts").hidden = true;
    say("item-message", words.loading);
    item = await api("/v1/catalog/service-items/" + encodeURIComponent(code));
    const listed = Array.from(element("service-items").options).find((option) => option.value === code);
    say("item-name", listed ? listed.label : "—");
    say("item-owner", departmentLabel(item.owner));
    element("item-handlers").replaceChildren(...item.handlers.map((handler) => listItem(departmentLabel(handler))));
    element("item-types").replaceChildren(...item.requiredTypes.map((type) => listItem(type)));
    element("item-facts").hidden = false;
    showConsentChoices();
    return words.item_loaded;
  });

  function showConsentChoices() {
    element("grantee").replaceChildren(...item.handlers.map(function (code) {
      const option = document.createElement("option");
      option.value = code;
      option.textContent = departmentLabel(code);
      return option;
    }));
    const types = element("consent-types");
    types.querySelectorAll("p").forEach(function (p) { p.remove(); });
    item.requiredTypes.forEach(function (type, index) {
      const p = document.createElement("p");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.id = "consent-type-" + index;
      box.value = type;
      box.checked = true;
      const label = document.createElement("label");
      label.htmlFor = box.id;
      label.textContent = type;
      p.append(box, " ", label);
      types.appendChild(p);
    });
  }

  onSubmit("consent-form", "consent-message", async function () {
    if (item === null) throw new Refusal(words.no_item);
    const types = Array.from(element("consent-types").querySelectorAll("input:checked"), (box) => box.value);
    if (types.length === 0) throw new Refusal(words.no_types);
    const days = Number(element("days").value);
    if (!Number.isInteger(days) || days < 1 || days > maxDays) throw new Refusal(words.days_invalid);
    const key = await deviceKey();
    const holder = await kept("pseudonym");
    if (holder === undefined) throw new Refusal(words.no_pseudonym);
    say("consent-message", words.signing);
    const body = await signed(key.privateKey, consentRecord(holder, element("grantee").value, item.code, types, days,
                                                             maxDays));
    element("consent-body").value = JSON.stringify(body, null, 2);
    const answer = await api("/v1/consents", body);
    const given = ((await kept("consents")) || []).filter((consent) => consent.id !== answer.id);
    const signedHere = {id: answer.id, serviceItem: answer.serviceItem, grantee: answer.grantee,
                        notAfter: body.record.notAfter};
    await keep("consents", [signedHere].concat(given).slice(0, KEPT_CONSENTS));
    element("consent-id").value = answer.id;
    await showGivenConsents();
    return words.consent_given + stateWord(answer.state) + " · " + words.id + " " + answer.id;
  });

  onSubmit("withdraw-form", "withdraw-message", async function () {
    const consentId = element("consent-id").value.trim();
    if (!RECORD_ID.test(consentId)) throw new Refusal(words.consent_id_invalid);
    const key = await deviceKey();
    say("withdraw-message", words.signing);
    const body = await signed(key.privateKey, withdrawalRecord(consentId));
    element("withdrawal-body").value = JSON.stringify(body, null, 2);
    const answer = await api("/v1/consents/" + consentId + "/withdraw", body);
    return words.withdrawn + stateWord(answer.state);
  });

  /* The catalog's items (first page) for the code's suggestions, and departments' names: both
   * public, both only a convenience — the page works with codes alone. */
  async function loadDirectory() {
    try {
      const [items, departments] = await Promise.all([api("/v1/catalog/service-items?limit=100"),
                                                      api("/v1/departments")]);
      departments.departments.forEach(function (d) { departmentNames[d.code] = d.name; });
      element("service-items").replaceChildren(...items.serviceItems.map(function (listed) {
        const option = document.createElement("option");
        option.value = listed.code;
        option.label = listed.name || listed.code;
        return option;
      }));
    } catch (unavailable) {
      return; // the page works with codes alone
    }
  }

  async function start() {
    if (!window.isSecureContext || !window.crypto || !crypto.subtle || !window.indexedDB) {
      say("key-message", words.no_webcrypto);
      return;
    }
    database = await openDatabase();
    showKey(await kept("key"));
    element("pseudonym").value = (await kept("pseudonym")) || "";
    await showGivenConsents();
    document.querySelectorAll("#holder form > fieldset").forEach(function (fieldset) { fieldset.disabled = false; });
    await loadDirectory();
    root.dataset.ready = "true";
  }

  /* For the page's tests: the canonicaliser, checked against Python's rfc8785 in Chromium. */
  window.CertNetHolder = Object.freeze({canonicalJson: canonicalJson});

  start().catch(function (error) { say("key-message", String(error)); });
})();
