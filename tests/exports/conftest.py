"""Fixtures of the export tests: the sequencer fakes, an app pointed at them, mailboxes that
are ready to export (ACTIVE, with encrypted credentials), and running the export job."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.exports.apps import registry
from mailfleet.exports.apps.protocol import MailboxCredential
from mailfleet.jobs.queue import Runtime
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.ids import uuid7
from mailfleet.models import Domain, ExportApp, Mailbox, MailboxStatus, MailboxType
from tests.conftest import TEST_KEY
from tests.factories import Caller, make_domain, make_tenant, unique
from tests.fakes.sequencers.instantly import InstantlyFake
from tests.fakes.sequencers.lemlist import LemlistFake
from tests.fakes.sequencers.plusvibe import PlusvibeFake
from tests.fakes.sequencers.reachinbox import ReachInboxFake
from tests.fakes.sequencers.smartlead import SmartleadFake

PASSWORD = "Mailbox-pass-1!"
APP_PASSWORD = "abcd efgh ijkl mnop"
# One custom-SMTP mailbox, for the clients called without a database.
SMTP_MAILBOX = MailboxCredential(
    email="ada@acme.test",
    first_name="Ada",
    last_name="Stone",
    mailbox_type=MailboxType.SMTP,
    password=PASSWORD,
    smtp_host="smtp.acme.test",
    smtp_port=587,
    imap_host="imap.acme.test",
    imap_port=993,
    smtp_security="starttls",
    imap_security="ssl",
)


@pytest.fixture
def instantly() -> Iterator[InstantlyFake]:
    with InstantlyFake() as fake:
        yield fake


@pytest.fixture
def smartlead() -> Iterator[SmartleadFake]:
    with SmartleadFake() as fake:
        yield fake


@pytest.fixture
def lemlist() -> Iterator[LemlistFake]:
    with LemlistFake() as fake:
        yield fake


@pytest.fixture
def plusvibe() -> Iterator[PlusvibeFake]:
    with PlusvibeFake() as fake:
        yield fake


@pytest.fixture
def reachinbox() -> Iterator[ReachInboxFake]:
    with ReachInboxFake() as fake:
        yield fake


@pytest.fixture
def without_lemlist_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """LEMLIST as an app without an API client (every app has one now): for the tests of
    what such an app answers (422 `export_app_not_supported`, its CSV still works)."""
    real = registry.supported
    monkeypatch.setattr(
        registry, "supported", lambda app: app is not ExportApp.LEMLIST and real(app)
    )


@pytest.fixture
def fake_settings(instantly: InstantlyFake, smartlead: SmartleadFake) -> dict[str, Any]:
    return {
        "export_instantly_base_url": instantly.base_url,
        "export_smartlead_base_url": smartlead.base_url,
        # Retries wait what Retry-After says, else nothing: the tests hold the fakes instead.
        "export_backoff_seconds": [0.0],
        "export_timeout": 10.0,
    }


@pytest.fixture
def settings(make_settings: Callable[..., Settings], fake_settings: dict[str, Any]) -> Settings:
    return make_settings(**fake_settings)


@pytest.fixture
def api(make_client: Callable[..., TestClient], fake_settings: dict[str, Any]) -> TestClient:
    return make_client(**fake_settings)


@pytest.fixture
def owner(db: Database) -> Caller:
    return make_tenant(db)


@pytest.fixture
def other(db: Database) -> Caller:
    return make_tenant(db)


@pytest.fixture
def run_job(db: Database, settings: Settings) -> Callable[[str], None]:
    runtime = Runtime(settings, db)

    def run(export_id: str) -> None:
        runtime.run_now("exports.run", export_id)

    return run


def ready_mailboxes(
    db: Database,
    workspace_id: uuid.UUID,
    count: int,
    *,
    mailbox_type: MailboxType = MailboxType.SMTP,
    domain: Domain | None = None,
    app_password: bool = False,
) -> list[uuid.UUID]:
    """`count` ACTIVE mailboxes with credentials, inserted in one go, oldest first."""
    domain = domain or make_domain(db, workspace_id, mailbox_type=mailbox_type)
    box = SecretBox([TEST_KEY])
    password = box.encrypt(PASSWORD)
    app = box.encrypt(APP_PASSWORD) if app_password else None
    now = clock.now()
    rows = []
    for _ in range(count):
        username = unique("send")
        rows.append(
            {
                "id": uuid7(),
                "created_at": now,
                "updated_at": now,
                "workspace_id": workspace_id,
                "domain_id": domain.id,
                "username": username,
                "address": f"{username}@{domain.name}",
                "first_name": "Ada",
                "last_name": "Stone",
                "mailbox_type": mailbox_type,
                "backend": "manual",
                "status": MailboxStatus.ACTIVE,
                "password_enc": password,
                "app_password_enc": app,
                "smtp_host": "smtp.mail.test",
                "smtp_port": 587,
                "imap_host": "imap.mail.test",
                "imap_port": 993,
                "smtp_security": "starttls",
                "imap_security": "ssl",
                "expires_at": now + timedelta(days=30),
                "provision_attempts": 0,
                "remove_at_renewal": False,
                "activated_at": now,
            }
        )
    with db.transaction() as session:
        session.execute(insert(Mailbox), rows)
    return [row["id"] for row in rows]


def add_account(
    api: TestClient, caller: Caller, app: str = "INSTANTLY", **fields: Any
) -> dict[str, Any]:
    body = {"app": app, "label": f"{app} main", "credentials": {"api_key": "good-key"}, **fields}
    response = api.post("/v1/export-accounts", json=body, headers=caller.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def export_now(
    api: TestClient,
    caller: Caller,
    app: str,
    ids: list[str],
    run_job: Callable[[str], None],
    **body: Any,
) -> dict[str, Any]:
    """Export `ids` to `app`, run the job, and answer the finished job (with its counts)."""
    response = api.post(
        "/v1/exports", json={"app": app, "mailbox_ids": ids, **body}, headers=caller.headers
    )
    assert response.status_code == 202, response.text
    run_job(response.json()["id"])
    done = api.get(f"/v1/exports/{response.json()['id']}", headers=caller.headers)
    assert done.status_code == 200, done.text
    result: dict[str, Any] = done.json()
    return result


def results_by_mailbox(
    api: TestClient, caller: Caller, export_id: str
) -> dict[str, dict[str, Any]]:
    """Every result of an export, by mailbox id."""
    found: dict[str, dict[str, Any]] = {}
    cursor = ""
    while True:
        page = api.get(
            f"/v1/exports/{export_id}/results?limit=100{cursor}", headers=caller.headers
        ).json()
        found.update({item["mailbox_id"]: item for item in page["items"]})
        if page["next_cursor"] is None:
            return found
        cursor = f"&cursor={page['next_cursor']}"
