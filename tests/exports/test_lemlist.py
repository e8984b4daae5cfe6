"""lemlist through the API and on its own: SMTP and Microsoft mailboxes connected once (a
re-export is the app's 409, reported UPDATED), Google mailboxes skipped (lemlist takes Gmail
by OAuth only), the app's message per mailbox when it refuses, 429/5xx retried, no secret in a
log or an event."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.exports import removal
from mailfleet.exports.apps.lemlist import GOOGLE_REFUSED, REMOVAL_NOT_SUPPORTED, Lemlist
from mailfleet.exports.apps.protocol import (
    AppAccount,
    AppError,
    ExportSettings,
    RemovalNotSupported,
)
from mailfleet.kit import clock
from mailfleet.models import Event, ExportApp, Mailbox, MailboxType
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
from tests.fakes.sequencers.lemlist import REQUIRED, LemlistFake

RunJob = Callable[[str], None]
CONNECT = "/user/email-accounts"


@pytest.fixture
def fake_settings(fake_settings: dict[str, Any], lemlist: LemlistFake) -> dict[str, Any]:
    return {**fake_settings, "export_lemlist_base_url": lemlist.base_url}


def _address(db: Database, mailbox_id: str) -> str:
    with db.transaction(write=False) as session:
        found = session.get(Mailbox, uuid.UUID(mailbox_id))
        assert found is not None
        return found.address


def test_mailboxes_are_connected_once_with_their_fields_and_google_is_skipped(
    api: TestClient, db: Database, owner: Caller, lemlist: LemlistFake, run_job: RunJob
) -> None:
    add_account(api, owner, "LEMLIST")
    smtp = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 2)]
    microsoft = [
        str(i)
        for i in ready_mailboxes(
            db, owner.workspace_id, 1, mailbox_type=MailboxType.MICROSOFT, app_password=True
        )
    ]
    google = [
        str(i)
        for i in ready_mailboxes(
            db, owner.workspace_id, 1, mailbox_type=MailboxType.GOOGLE, app_password=True
        )
    ]
    ids = smtp + microsoft + google
    first = export_now(api, owner, "LEMLIST", ids, run_job)
    assert first["status"] == "COMPLETED"
    assert (first["counts"]["created"], first["counts"]["skipped"]) == (3, 1)
    results = results_by_mailbox(api, owner, first["id"])
    assert results[google[0]]["reason"] == GOOGLE_REFUSED
    assert _address(db, google[0]) not in lemlist.addresses()
    assert results[smtp[0]]["remote_id"] == lemlist.accounts[_address(db, smtp[0])]["id"]
    sent = {r.body["sender_email"]: r.body for r in lemlist.calls("POST", CONNECT)}
    for body in sent.values():
        for name, kind in REQUIRED.items():
            assert isinstance(body[name], kind), name
        # STARTTLS on 587 is not implicit TLS; IMAP over SSL on 993 is.
        assert (body["smtp_secure"], body["imap_secure"]) == (False, True)
        assert "userId" not in body
    assert sent[_address(db, smtp[0])]["smtp_password"] == PASSWORD
    ms = sent[_address(db, microsoft[0])]
    assert (ms["smtp_password"], ms["imap_password"]) == (APP_PASSWORD, APP_PASSWORD)
    assert ms["sender_name"] == "Ada Stone"

    clock.advance(8 * 86400)
    second = export_now(api, owner, "LEMLIST", ids, run_job)
    assert (second["counts"]["updated"], second["counts"]["skipped"]) == (3, 1)
    assert len(lemlist.accounts) == 3
    assert [r.status for r in lemlist.calls("POST", CONNECT)][3:] == [409, 409, 409]
    account = api.get("/v1/export-accounts", headers=owner.headers).json()["items"][0]
    answer = api.post(f"/v1/export-accounts/{account['id']}/test", headers=owner.headers)
    assert answer.json() == {"ok": True, "message": "The API key works."}
    listed = api.get(f"/v1/export-accounts/{account['id']}/workspaces", headers=owner.headers)
    assert (listed.status_code, listed.json()["code"]) == (422, "export_app_not_supported")


def test_refusals_are_per_mailbox_with_the_apps_message(
    api: TestClient, db: Database, owner: Caller, lemlist: LemlistFake, run_job: RunJob
) -> None:
    add_account(api, owner, "LEMLIST")
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 3)]
    with db.transaction() as session:
        session.execute(
            update(Mailbox).where(Mailbox.id == uuid.UUID(ids[1])).values(smtp_host="127.0.0.1")
        )
        session.execute(
            update(Mailbox)
            .where(Mailbox.id == uuid.UUID(ids[2]))
            .values(smtp_host="smtp.gmail.com", imap_host="imap.gmail.com")
        )
    done = export_now(api, owner, "LEMLIST", ids, run_job)
    assert (done["counts"]["created"], done["counts"]["failed"]) == (1, 2)
    results = results_by_mailbox(api, owner, done["id"])
    assert results[ids[1]]["reason"] == "400: This host is not allowed"
    assert results[ids[2]]["reason"] == (
        "400: Gmail SMTP/IMAP connections are not allowed, use OAuth instead"
    )


def test_a_bad_key_fails_each_mailbox_and_the_test_says_so(
    api: TestClient, db: Database, owner: Caller, lemlist: LemlistFake, run_job: RunJob
) -> None:
    account = add_account(api, owner, "LEMLIST", credentials={"api_key": "old"})
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 2)]
    done = export_now(api, owner, "LEMLIST", ids, run_job)
    assert done["counts"]["failed"] == 2
    reasons = {r["reason"] for r in results_by_mailbox(api, owner, done["id"]).values()}
    assert reasons == {"401: Invalid API key"}
    assert lemlist.accounts == {}
    test = api.post(f"/v1/export-accounts/{account['id']}/test", headers=owner.headers)
    assert test.json() == {"ok": False, "message": "Invalid API key"}


def test_429_and_5xx_are_retried_and_no_secret_is_logged_or_in_the_event(
    api: TestClient,
    db: Database,
    owner: Caller,
    lemlist: LemlistFake,
    run_job: RunJob,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_account(api, owner, "LEMLIST")
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]
    lemlist.fail_next(429, retry_after="0")
    lemlist.fail_next(429)
    lemlist.fail_next(503)
    with caplog.at_level(logging.DEBUG):
        done = export_now(api, owner, "LEMLIST", ids, run_job)
    assert done["counts"]["created"] == 1
    assert [r.status for r in lemlist.log] == [429, 429, 503, 200]
    with db.transaction(write=False) as session:
        events = session.scalars(select(Event).where(Event.type == "export.completed")).all()
    basic = base64.b64encode(b":good-key").decode()
    for text in (caplog.text, str([e.data for e in events])):
        assert PASSWORD not in text
        assert "good-key" not in text
        assert basic not in text


@pytest.mark.parametrize(
    ("status", "retry_after", "wait"), [(429, "2", 2.0), (429, None, None), (500, None, None)]
)
def test_retryable_answers_carry_retry_after(
    lemlist: LemlistFake, status: int, retry_after: str | None, wait: float | None
) -> None:
    lemlist.fail_next(status, retry_after=retry_after)
    settings = Settings(export_lemlist_base_url=lemlist.base_url)
    connection = Lemlist(settings).connect(AppAccount({"api_key": "good-key"}))
    with pytest.raises(AppError) as caught:
        connection.push(SMTP_MAILBOX, ExportSettings())
    assert (caught.value.status, caught.value.retryable) == (status, True)
    assert caught.value.retry_after == wait
    pushed = connection.push(SMTP_MAILBOX, ExportSettings())
    assert pushed.outcome == "CREATED"
    assert connection.push(SMTP_MAILBOX, ExportSettings()).outcome == "UPDATED"
    assert list(lemlist.accounts) == ["ada@acme.test"]
    connection.close()


def test_the_fake_refuses_a_missing_or_mistyped_field(lemlist: LemlistFake) -> None:
    body = {name: "x" for name in REQUIRED} | {"smtp_port": 587, "imap_port": "993"}
    auth = ("", "good-key")
    url = f"{lemlist.base_url}{CONNECT}"
    mistyped = httpx.post(url, json=body, auth=auth)
    assert (mistyped.status_code, mistyped.json()["message"]) == (
        400,
        'Bad params: "imap_port" is required',
    )
    stranger = httpx.post(url, json=body | {"imap_port": 993, "userId": "usr_X"}, auth=auth)
    assert stranger.json()["message"] == 'Bad params: "userId" must be a member of the team'
    assert httpx.get(f"{lemlist.base_url}/team", auth=("", "bad")).status_code == 401


def test_removal_is_not_supported_and_sends_nothing(lemlist: LemlistFake) -> None:
    """lemlist disconnects by its own id only, which its API cannot find from an address."""
    settings = Settings(export_lemlist_base_url=lemlist.base_url)
    connection = Lemlist(settings).connect(AppAccount({"api_key": "good-key"}))
    connection.push(SMTP_MAILBOX, ExportSettings())
    before = len(lemlist.log)
    with pytest.raises(RemovalNotSupported) as caught:
        connection.remove(SMTP_MAILBOX.email)
    assert str(caught.value) == REMOVAL_NOT_SUPPORTED
    assert len(lemlist.log) == before
    assert list(lemlist.accounts) == ["ada@acme.test"]
    connection.close()


def test_the_removal_helper_reports_not_supported_with_the_reason(lemlist: LemlistFake) -> None:
    settings = Settings(export_lemlist_base_url=lemlist.base_url)
    account = AppAccount({"api_key": "good-key"})
    [outcome] = removal.remove_accounts(settings, ExportApp.LEMLIST, account, ["ada@acme.test"])
    assert (outcome.outcome, outcome.reason) == (
        removal.Removed.NOT_SUPPORTED,
        REMOVAL_NOT_SUPPORTED,
    )
    assert lemlist.log == []
