"""`/holder`: what a holder's phone does, in the browser (docs/sharing.md, "Holder page" in docs/gateway.md).

The page is a static form; `static/holder.js` does the work on the device: it makes a non-extractable
ECDSA P-256 key with WebCrypto and keeps it in IndexedDB, shows the holder channel's registration
body, reads a service item's needed types from `GET /v1/catalog/service-items/{code}`, and signs
consents and withdrawals in the records and signature format of `certnet holder`, which it gives
to `POST /v1/consents` and `POST /v1/consents/{id}/withdraw`. The server never sees the key; the ID
number typed for the registration body stays in the page. The script's words come from the page
(`data-words`), in the page's language.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gateway.sharing.consent import MAX_CONSENT_DAYS
from gateway.web.pages import LanguageQuery, render
from gateway.web.text import WORDS, language

#: The words the script shows (its messages), handed to it in the page.
SCRIPT_WORDS_PREFIX = "holder_js_"

router = APIRouter(include_in_schema=False)


@router.get("/holder", response_class=HTMLResponse)
async def holder_page(request: Request, lang: LanguageQuery = None) -> HTMLResponse:
    page_language = language(lang)
    script_words = {key.removeprefix(SCRIPT_WORDS_PREFIX): text for key, text in WORDS[page_language].items()
                    if key.startswith(SCRIPT_WORDS_PREFIX)}
    return render(request, page_language, "holder.html", max_days=MAX_CONSENT_DAYS, script_words=script_words)
