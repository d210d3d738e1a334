"""The gateway's web pages for people who never touch the API, on the API's port: server-rendered Jinja2
templates (`pages`: the layout, `/`, `/verify`, `/c/{hash}`; `rendering`: a certificate as a page; `holder`:
the holder's keys and consents; `console`: the auditor console) and the gateway's own stylesheet and scripts."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gateway.web import console, holder, pages, rendering


def install(app: FastAPI) -> None:
    """Serves the pages and their static files on the API's port."""
    for module in (pages, rendering, holder, console):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static")
