"""ReachInbox through the API and on its own: its API cannot add an account, so an export
confirms the mailboxes ReachInbox holds (UPDATED, its id) and fails the others with a reason
that points to the CSV import; the app's message when it refuses, 429/5xx retried, no secret
in a log or an event."""

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
from mailfleet.exports.apps.protocol import (
    AppAccount,
    AppError,
    ExportSettings,
    RemovalNotSupported,
)
from mailfleet.exports.apps.reachinbox import NO_KEY, NOT_HELD, REMOVAL_NOT_SUPPORTED, ReachInbox
from mailfleet.kit import clock
from mailfleet.models import Event, Mailbox
from tests.exports.conftest import (
    PASSWORD,
    SMTP_MAILBOX,
    add_account,
    export_now,
    ready_mailboxes,
    results_by_mailbox,
)
from tests.factories import Caller
from tests.fakes.sequencers.reachinbox import ReachInboxFake

RunJob = Callable[[str], None]


@pytest.fixture
def fake_settings(fake_settings: dict[str, Any], reachinbox: ReachInboxFake) -> dict[str, Any]:
    return {**fake_settings, "export_reachinbox_base_url": reachinbox.base_url}


def _addresses(db: Database, ids: list[str]) -> list[str]:
    with db.transaction(write=False) as session:
        rows = session.scalars(select(Mailbox).order_by(Mailbox.id)).all()
        return [m.address for m in rows if str(m.id) in ids]


def test_held_mailboxes_are_confirmed_and_the_others_fail_pointing_to_the_csv(
    api: TestClient, db: Database, owner: Caller, reachinbox: ReachInboxFake, run_job: RunJob
) -> None:
    add_account(api, owner, "REACHINBOX")
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 3)]
    held = _addresses(db, ids[:1])[0]
    remote = reachinbox.connect(held.upper())
    reachinbox.connect(f"x{held}")  # contains the address, is another one
    first = export_now(api, owner, "REACHINBOX", ids, run_job)
    assert first["status"] == "COMPLETED"
    assert (first["counts"]["updated"], first["counts"]["failed"]) == (1, 2)
    results = results_by_mailbox(api, owner, first["id"])
    assert (results[ids[0]]["status"], results[ids[0]]["remote_id"]) == ("UPDATED", str(remote))
    assert {results[i]["reason"] for i in ids[1:]} == {NOT_HELD}
    # Only the lookup was asked: nothing is created, so nothing can be created twice.
    assert {(r.method, r.path) for r in reachinbox.log} == {("GET", "/account/all")}
    assert {r.query["contains"] for r in reachinbox.log} == set(_addresses(db, ids))

    for address in _addresses(db, ids[1:]):
        reachinbox.connect(address)  # what the CSV import in ReachInbox does
    clock.advance(8 * 86400)
    second = export_now(api, owner, "REACHINBOX", ids, run_job)
    assert second["counts"]["updated"] == 3
    assert len(reachinbox.accounts) == 4
    account = api.get("/v1/export-accounts", headers=owner.headers).json()["items"][0]
    answer = api.post(f"/v1/export-accounts/{account['id']}/test", headers=owner.headers)
    assert answer.json() == {"ok": True, "message": "The API key works."}
    listed = api.get(f"/v1/export-accounts/{account['id']}/workspaces", headers=owner.headers)
    assert (listed.status_code, listed.json()["code"]) == (422, "export_app_not_supported")


def test_a_bad_key_or_a_login_without_a_key_fails_each_mailbox_with_why(
    api: TestClient, db: Database, owner: Caller, reachinbox: ReachInboxFake, run_job: RunJob
) -> None:
    bad = add_account(api, owner, "REACHINBOX", credentials={"api_key": "old"})
    login = add_account(
        api,
        owner,
        "REACHINBOX",
        label="login",
        credentials={"email": "ops@acme.test", "password": "pw"},
    )
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 2)]
    for account, reason in ((bad, "401: Unauthorized: invalid API key"), (login, NO_KEY)):
        done = export_now(api, owner, "REACHINBOX", ids, run_job, account_id=account["id"])
        assert done["counts"]["failed"] == 2
        found = {r["reason"] for r in results_by_mailbox(api, owner, done["id"]).values()}
        assert found == {reason}
        test = api.post(f"/v1/export-accounts/{account['id']}/test", headers=owner.headers)
        assert test.json() == {"ok": False, "message": reason.removeprefix("401: ")}


def test_429_and_5xx_are_retried_and_no_secret_is_logged_or_in_the_event(
    api: TestClient,
    db: Database,
    owner: Caller,
    reachinbox: ReachInboxFake,
    run_job: RunJob,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_account(api, owner, "REACHINBOX")
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]
    reachinbox.connect(_addresses(db, ids)[0])
    reachinbox.fail_next(429, retry_after="0")
    reachinbox.fail_next(429)
    reachinbox.fail_next(500)
    with caplog.at_level(logging.DEBUG):
        done = export_now(api, owner, "REACHINBOX", ids, run_job)
    assert done["counts"]["updated"] == 1
    assert [r.status for r in reachinbox.log] == [429, 429, 500, 200]
    with db.transaction(write=False) as session:
        events = session.scalars(select(Event).where(Event.type == "export.completed")).all()
    for text in (caplog.text, str([e.data for e in events])):
        assert PASSWORD not in text
        assert "good-key" not in text


@pytest.mark.parametrize(
    ("status", "retry_after", "wait"), [(429, "3", 3.0), (429, None, None), (502, None, None)]
)
def test_retryable_answers_carry_retry_after(
    reachinbox: ReachInboxFake, status: int, retry_after: str | None, wait: float | None
) -> None:
    reachinbox.fail_next(status, retry_after=retry_after)
    settings = Settings(export_reachinbox_base_url=reachinbox.base_url)
    connection = ReachInbox(settings).connect(AppAccount({"api_key": "good-key"}))
    with pytest.raises(AppError) as caught:
        connection.push(SMTP_MAILBOX, ExportSettings())
    assert (caught.value.status, caught.value.retryable) == (status, True)
    assert caught.value.retry_after == wait
    with pytest.raises(AppError) as missing:
        connection.push(SMTP_MAILBOX, ExportSettings())
    assert (missing.value.message, missing.value.retryable) == (NOT_HELD, False)
    connection.close()


def test_the_fake_refuses_a_bad_query_and_has_no_create_endpoint(
    reachinbox: ReachInboxFake,
) -> None:
    headers = {"Authorization": "Bearer good-key"}
    bad = httpx.get(f"{reachinbox.base_url}/account/all?limit=x", headers=headers)
    assert (bad.status_code, bad.json()["message"]) == (400, '"limit" must be a number')
    big = httpx.get(f"{reachinbox.base_url}/account/all?limit=101", headers=headers)
    assert big.status_code == 400
    create = httpx.post(f"{reachinbox.base_url}/account", json={}, headers=headers)
    assert create.status_code == 404


def test_removal_is_not_supported_and_sends_nothing(reachinbox: ReachInboxFake) -> None:
    reachinbox.connect(SMTP_MAILBOX.email)
    settings = Settings(export_reachinbox_base_url=reachinbox.base_url)
    connection = ReachInbox(settings).connect(AppAccount({"api_key": "good-key"}))
    with pytest.raises(RemovalNotSupported) as caught:
        connection.remove(SMTP_MAILBOX.email)
    assert str(caught.value) == REMOVAL_NOT_SUPPORTED
    assert reachinbox.log == []
    assert [a["email"] for a in reachinbox.accounts] == [SMTP_MAILBOX.email]
    connection.close()
