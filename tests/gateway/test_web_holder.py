"""The holder page `/holder` over real HTTP (server side): the page and its script with the security
headers, no inline script, the script's words in the page's language, and no form field that could
carry what the holder types to a URL. What the script does is tested in Chromium
(tests/gateway/test_browser_holder.py)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from gateway.web import holder
from gateway.web.holder import SCRIPT_WORDS_PREFIX
from gateway.web.pages import CONTENT_SECURITY_POLICY
from gateway.web.text import EN, ZH

from tests.conftest import GatewayProcess

pytestmark = pytest.mark.slow


def _script_words(page: str) -> dict[str, str]:
    found = re.search(r"data-words='([^']*)'", page)
    assert found, "the page hands the script its words in data-words"
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.parametrize("path", ["/holder", "/holder?lang=en"])
def test_the_holder_page_answers_html_with_the_content_security_policy(gateway_http: GatewayProcess,
                                                                       path: str) -> None:
    response = gateway_http.client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_the_holder_script_is_served_as_javascript(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.get("/static/holder.js")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")


def test_the_page_loads_its_one_script_from_the_gateway_and_none_inline(gateway_http: GatewayProcess) -> None:
    page = gateway_http.client.get("/holder").text
    assert re.findall(r"<script\b[^>]*>", page) == ['<script src="/static/holder.js" defer>']
    assert re.search(r"\son[a-z]+=", page) is None  # no inline event handlers either


@pytest.mark.parametrize(("lang", "words"), [("", ZH), ("en", EN)])
def test_the_script_gets_its_words_in_the_page_language(gateway_http: GatewayProcess, lang: str,
                                                        words: dict[str, str]) -> None:
    page = gateway_http.client.get("/holder", params={"lang": lang} if lang else {}).text
    expected = {key.removeprefix(SCRIPT_WORDS_PREFIX): text for key, text in words.items()
                if key.startswith(SCRIPT_WORDS_PREFIX)}
    assert expected and _script_words(page) == expected


def test_both_languages_have_every_holder_page_word() -> None:
    assert {key for key in ZH if key.startswith("holder_")} == {key for key in EN if key.startswith("holder_")}


def test_every_word_the_template_names_exists() -> None:
    template = (Path(holder.__file__).parent / "templates" / "holder.html").read_text()
    named = set(re.findall(r"\bt\.(\w+)", template))
    assert named and named - ZH.keys() == set()


def test_no_field_has_a_name_so_nothing_typed_can_reach_a_url(gateway_http: GatewayProcess) -> None:
    page = gateway_http.client.get("/holder").text
    fields = re.findall(r"<(?:input|select|textarea)\b[^>]*>", page)
    assert fields and [field for field in fields if re.search(r"\sname=", field)] == []


def test_the_forms_stay_disabled_until_the_script_enables_them(gateway_http: GatewayProcess) -> None:
    page = gateway_http.client.get("/holder").text
    forms = re.findall(r"<form\b[^>]*>\s*<fieldset\b[^>]*>", page)
    assert len(forms) == 5 and all("<fieldset disabled>" in form for form in forms)
