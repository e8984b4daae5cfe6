"""The console in a real browser: Debian's chromium, headless, driven by Playwright against the
app served by uvicorn on loopback. Sign in, submit a domain, watch its status change on the
batch page without a reload (the page's script polls), sign out.

Never `playwright install`: the browser is Debian's (`scripts/install --with-tests`). With
CI=true a missing chromium or Playwright fails the test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mailfleet.app import create_app
from mailfleet.config import Settings
from mailfleet.db import Database
from tests.console.conftest import PASSWORD, set_password
from tests.factories import make_tenant
from tests.support.jobs import drain
from tests.support.servers import free_port, unavailable

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# How long the browser waits for a page or a change (a wait, never an assertion on time).
WAIT_MS = 30_000
# Each page's screenshot, kept for CI's artefacts (MAILFLEET_SCREENSHOTS_DIR moves them).
SCREENSHOTS = Path(
    os.environ.get(
        "MAILFLEET_SCREENSHOTS_DIR", Path(__file__).resolve().parents[2] / "artifacts" / "console"
    )
)


def shoot(page: Any, name: str, backend: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{backend}-{name}.png"), full_page=True)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install -e '.[test]')")
    if not os.path.exists(CHROMIUM):
        unavailable("chromium not found (scripts/install --with-tests installs Debian's)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_sign_in_submit_watch_the_status_change_and_sign_out(
    browser: Any, db: Database, make_settings: Callable[..., Settings]
) -> None:
    backend = db.engine.dialect.name
    from playwright.sync_api import expect

    # An operator, so the test can move the domain on through the operator API as a person
    # would (no delegation can happen on loopback without a parent zone).
    owner = make_tenant(db, operator=True)
    set_password(db, owner.user_id)
    app = create_app(make_settings(), db)
    with serving(app) as base:
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{base}/console/domains")
        # Not signed in: the sign-in form, which then lands on the page asked for.
        expect(page.get_by_label("Email")).to_be_visible()
        shoot(page, "1-sign-in", backend)
        page.get_by_label("Email").fill(owner.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Domains", exact=True)).to_be_visible()
        shoot(page, "2-domains", backend)

        page.get_by_label("Domain names").fill("browser-test.com")
        page.get_by_role("button", name="Submit domains").click()
        expect(page.get_by_role("heading", name="Domain batch")).to_be_visible()
        status = page.locator("[data-domain-status]").first
        expect(status).to_have_text("QUEUED")
        expect(page.locator("#batch-status")).to_have_text("PENDING")
        expect(
            page.get_by_role("button", name="Copy nameserver ns1.mailfleet.local")
        ).to_be_visible()
        # Survives only if the page is not reloaded.
        page.evaluate("window.stillTheSamePage = true")

        # The worker's first step: the zone is made and the domain waits for delegation. In a
        # thread of its own: Playwright's sync API keeps an event loop running in this one, and
        # the jobs start loops of their own.
        worker = threading.Thread(target=drain, args=(app.state.runtime,))
        worker.start()
        worker.join()
        expect(status).to_have_text("PENDING_NS")
        shoot(page, "3-batch-pending", backend)

        api = TestClient(app)
        domain_id = status.get_attribute("data-domain-status")
        moved = api.post(
            f"/v1/operator/domains/{domain_id}/status",
            json={"status": "ACTIVE"},
            headers=owner.headers,
        )
        assert moved.status_code == 200, moved.text

        expect(status).to_have_text("ACTIVE")
        expect(page.locator("#batch-status")).to_have_text("DONE")
        assert page.evaluate("window.stillTheSamePage") is True
        shoot(page, "4-batch-done", backend)
        page.goto(f"{base}/console/")
        expect(page.get_by_role("heading", name=re.compile("^Overview"))).to_be_visible()
        shoot(page, "5-overview", backend)

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        page.goto(f"{base}/console/")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        page.close()
