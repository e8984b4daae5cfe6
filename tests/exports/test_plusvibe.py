"""Plusvibe through the API and on its own: SMTP accounts uploaded into the account's
workspace (looked up first, so a re-export uploads nothing twice), Google and Microsoft
mailboxes skipped, the app's message when it refuses, 429/5xx retried, no secret in a log or
an event."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.exports.apps.plusvibe import (
    NO_WORKSPACE,
    REMOVAL_NOT_SUPPORTED,
    Plusvibe,
    PlusvibeConnection,
)
from mailfleet.exports.apps.protocol import (
    AppAccount,
    AppError,
    ExportSettings,
    RemovalNotSupported,
)
from mailfleet.kit import clock
from mailfleet.models import Event, MailboxType
from tests.exports.conftest import (
    APP_PASSWORD,
    PASSWORD,
    SMTP_MAILBOX,
    add_account,
    export_now,
    ready_mailboxes,
    results_by_mailbox,
)
from tests.factories import Caller
from tests.fakes.sequencers.plusvibe import REQUIRED, PlusvibeFake

RunJob = Callable[[str], None]
WORKSPACE = "65099a0dd96fae8ab61120c0"
UPLOAD = "/account/bulk-add-regular-accounts"


@pytest.fixture
def fake_settings(fake_settings: dict[str, Any], plusvibe: PlusvibeFake) -> dict[str, Any]:
    return {**fake_settings, "export_plusvibe_base_url": plusvibe.base_url}


def _account(api: TestClient, caller: Caller, **fields: Any) -> dict[str, Any]:
    return add_account(api, caller, "PLUSVIBE", **{"config": {"workspace_id": WORKSPACE}, **fields})


def _connect(
    plusvibe: PlusvibeFake, key: str = "good-key", workspace: str | None = WORKSPACE
) -> PlusvibeConnection:
    settings = Settings(export_plusvibe_base_url=plusvibe.base_url)
    config = {"workspace_id": workspace} if workspace else {}
    return Plusvibe(settings).connect(AppAccount({"api_key": key}, config=config))


def test_smtp_mailboxes_are_uploaded_once_and_google_and_microsoft_are_skipped(
    api: TestClient, db: Database, owner: Caller, plusvibe: PlusvibeFake, run_job: RunJob
) -> None:
    _account(api, owner)
    smtp = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 3)]
    google = [
        str(i)
        for i in ready_mailboxes(
            db, owner.workspace_id, 1, mailbox_type=MailboxType.GOOGLE, app_password=True
        )
    ]
    microsoft = [
        str(i)
        for i in ready_mailboxes(db, owner.workspace_id, 1, mailbox_type=MailboxType.MICROSOFT)
    ]
    settings = {"daily_limit": 21, "sending_gap_minutes": 9, "warmup_enabled": True}
    first = export_now(
        api, owner, "PLUSVIBE", smtp + google + microsoft, run_job, settings=settings
    )
    assert first["status"] == "COMPLETED"
    assert (first["counts"]["created"], first["counts"]["skipped"]) == (3, 2)
    results = results_by_mailbox(api, owner, first["id"])
    assert "SMTP accounts only, not GOOGLE" in results[google[0]]["reason"]
    assert "not MICROSOFT" in results[microsoft[0]]["reason"]
    sent = plusvibe.calls("POST", UPLOAD)[0].body
    assert sent["workspace_id"] == WORKSPACE
    [account] = sent["accounts"]
    for name, kind in REQUIRED.items():
        assert isinstance(account[name], kind), name
    assert (account["password"], account["smtp_password"]) == (PASSWORD, PASSWORD)
    assert (account["daily_limit"], account["min_interval"]) == (21, 9)
    assert account["enable_warmup"] == "yes"
    # Every call names the workspace.
    assert all(
        (r.query.get("workspace_id") or (r.body or {}).get("workspace_id")) == WORKSPACE
        for r in plusvibe.log
    )

    clock.advance(8 * 86400)
    second = export_now(api, owner, "PLUSVIBE", smtp, run_job)
    assert second["counts"]["updated"] == 3
    assert len(plusvibe.addresses()) == 3
    assert plusvibe.uploads == 3
    remote = {r["remote_id"] for r in results_by_mailbox(api, owner, second["id"]).values()}
    assert remote == {a["_id"] for a in plusvibe.accounts}


def test_the_account_test_and_the_workspaces_of_the_key(
    api: TestClient, owner: Caller, plusvibe: PlusvibeFake
) -> None:
    good = _account(api, owner)
    elsewhere = _account(api, owner, label="other", config={"workspace_id": "nope"})
    none = add_account(api, owner, "PLUSVIBE", label="none")

    def test(account: dict[str, Any]) -> Any:
        return api.post(f"/v1/export-accounts/{account['id']}/test", headers=owner.headers).json()

    assert test(good) == {"ok": True, "message": "The API key works."}
    assert test(elsewhere)["ok"] is False
    assert "nope is not one of its workspaces" in test(elsewhere)["message"]
    assert test(none) == {"ok": False, "message": NO_WORKSPACE}
    listed = api.get(f"/v1/export-accounts/{none['id']}/workspaces", headers=owner.headers)
    assert listed.json() == {
        "items": [
            {"id": "65099a0dd96fae8ab61120c0", "name": "Acme"},
            {"id": "65099a0dd96fae8ab61120c1", "name": "Acme EU"},
        ]
    }


def test_a_refused_upload_fails_each_mailbox_with_the_apps_message(
    api: TestClient, db: Database, owner: Caller, plusvibe: PlusvibeFake, run_job: RunJob
) -> None:
    _account(api, owner, credentials={"api_key": "old"})
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 2)]
    done = export_now(api, owner, "PLUSVIBE", ids, run_job)
    assert done["counts"]["failed"] == 2
    reasons = {r["reason"] for r in results_by_mailbox(api, owner, done["id"]).values()}
    assert reasons == {"401: Invalid API key"}
    assert plusvibe.accounts == []


def test_429_and_5xx_are_retried_and_no_secret_is_logged_or_in_the_event(
    api: TestClient,
    db: Database,
    owner: Caller,
    plusvibe: PlusvibeFake,
    run_job: RunJob,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _account(api, owner)
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]
    plusvibe.fail_next(429, retry_after="0")
    plusvibe.fail_next(429)
    plusvibe.fail_next(502)
    with caplog.at_level(logging.DEBUG):
        done = export_now(api, owner, "PLUSVIBE", ids, run_job)
    assert done["counts"]["created"] == 1
    assert [r.status for r in plusvibe.log[:3]] == [429, 429, 502]
    assert len(plusvibe.addresses()) == 1
    with db.transaction(write=False) as session:
        events = session.scalars(select(Event).where(Event.type == "export.completed")).all()
    for text in (caplog.text, str([e.data for e in events])):
        assert PASSWORD not in text
        assert APP_PASSWORD not in text
        assert "good-key" not in text


@pytest.mark.parametrize(
    ("status", "retry_after", "wait"), [(429, "7", 7.0), (429, None, None), (503, None, None)]
)
def test_retryable_answers_carry_retry_after(
    plusvibe: PlusvibeFake, status: int, retry_after: str | None, wait: float | None
) -> None:
    plusvibe.fail_next(status, retry_after=retry_after)
    connection = _connect(plusvibe)
    with pytest.raises(AppError) as caught:
        connection.push(SMTP_MAILBOX, ExportSettings())
    assert (caught.value.status, caught.value.retryable) == (status, True)
    assert caught.value.retry_after == wait
    connection.close()


def test_without_a_workspace_nothing_is_sent(plusvibe: PlusvibeFake) -> None:
    connection = _connect(plusvibe, workspace=None)
    with pytest.raises(AppError) as caught:
        connection.push(SMTP_MAILBOX, ExportSettings())
    assert (caught.value.message, caught.value.retryable) == (NO_WORKSPACE, False)
    assert plusvibe.log == []
    connection.close()


def test_the_fake_refuses_a_missing_or_mistyped_field(plusvibe: PlusvibeFake) -> None:
    account = {name: "x" for name in REQUIRED} | {"imap_port": 993}
    headers = {"x-api-key": "good-key"}
    url = f"{plusvibe.base_url}{UPLOAD}"
    missing = httpx.post(
        url, json={"workspace_id": WORKSPACE, "accounts": [account]}, headers=headers
    )
    assert (missing.status_code, missing.json()["message"]) == (400, "smtp_port is required")
    no_workspace = httpx.post(url, json={"accounts": [account]}, headers=headers)
    assert (no_workspace.status_code, no_workspace.json()["message"]) == (
        400,
        "workspace_id is required",
    )
    bad_key = httpx.get(f"{plusvibe.base_url}/authenticate", headers={"x-api-key": "bad"})
    assert (bad_key.status_code, bad_key.json()["message"]) == (401, "Invalid API key")


def test_removal_is_not_supported_and_sends_nothing(plusvibe: PlusvibeFake) -> None:
    connection = _connect(plusvibe)
    connection.push(SMTP_MAILBOX, ExportSettings())
    before = len(plusvibe.log)
    with pytest.raises(RemovalNotSupported) as caught:
        connection.remove(SMTP_MAILBOX.email)
    assert str(caught.value) == REMOVAL_NOT_SUPPORTED
    assert len(plusvibe.log) == before
    assert plusvibe.addresses() == ["ada@acme.test"]
    connection.close()
