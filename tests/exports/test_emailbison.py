"""EmailBison through the API: the account's own instance URL, sender emails created once
and updated on re-export, the app's validation message when it refuses; and the client on its
own removing a sender email (found by address, deleted by id)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.exports import removal
from mailfleet.exports.apps.emailbison import EmailBison, EmailBisonConnection
from mailfleet.exports.apps.protocol import AppAccount, AppError, ExportSettings
from mailfleet.kit import clock
from mailfleet.models import ExportApp
from tests.exports.conftest import PASSWORD, SMTP_MAILBOX, add_account, ready_mailboxes
from tests.factories import Caller
from tests.fakes.sequencers.emailbison import EmailBisonFake


@pytest.fixture
def bison() -> Iterator[EmailBisonFake]:
    with EmailBisonFake() as fake:
        yield fake


def test_sender_emails_are_created_once_at_the_accounts_instance(
    api: TestClient,
    db: Database,
    owner: Caller,
    bison: EmailBisonFake,
    run_job: Callable[[str], None],
) -> None:
    add_account(api, owner, "EMAILBISON", instance_url=bison.base_url)
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 3)]
    body = {"app": "EMAILBISON", "mailbox_ids": ids, "settings": {"daily_limit": 22}}
    first = api.post("/v1/exports", json=body, headers=owner.headers).json()
    run_job(first["id"])
    clock.advance(8 * 86400)
    second = api.post("/v1/exports", json=body, headers=owner.headers).json()
    run_job(second["id"])
    counts = [
        api.get(f"/v1/exports/{job['id']}", headers=owner.headers).json()["counts"]
        for job in (first, second)
    ]
    assert (counts[0]["created"], counts[1]["updated"]) == (3, 3)
    assert len(bison.senders) == 3
    sender = next(iter(bison.senders.values()))
    assert sender["password"] == PASSWORD
    assert sender["smtp_secure"] is True
    assert sender["daily_limit"] == 22
    account = api.get("/v1/export-accounts", headers=owner.headers).json()["items"][0]
    answer = api.post(f"/v1/export-accounts/{account['id']}/test", headers=owner.headers)
    assert answer.json()["ok"] is True


def test_a_refused_sender_is_failed_with_the_apps_message(
    api: TestClient,
    db: Database,
    owner: Caller,
    bison: EmailBisonFake,
    run_job: Callable[[str], None],
) -> None:
    add_account(
        api, owner, "EMAILBISON", instance_url=bison.base_url, credentials={"api_key": "old"}
    )
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]
    job = api.post(
        "/v1/exports", json={"app": "EMAILBISON", "mailbox_ids": ids}, headers=owner.headers
    ).json()
    run_job(job["id"])
    results = api.get(f"/v1/exports/{job['id']}/results", headers=owner.headers).json()
    assert results["items"][0]["status"] == "FAILED"
    assert results["items"][0]["reason"] == "401: Unauthenticated."


def _connection(bison: EmailBisonFake, api_key: str = "good-key") -> EmailBisonConnection:
    account = AppAccount({"api_key": api_key}, instance_url=bison.base_url)
    return EmailBison(Settings()).connect(account)


def test_removing_a_held_sender_finds_it_by_address_and_deletes_it_by_id(
    bison: EmailBisonFake,
) -> None:
    connection = _connection(bison)
    remote = int(connection.push(SMTP_MAILBOX, ExportSettings()).remote_id)
    other = connection.push(replace(SMTP_MAILBOX, email="bob@acme.test"), ExportSettings())
    assert connection.remove("Ada@acme.test") is True
    assert bison.deleted == [remote]
    assert [s["email"] for s in bison.senders.values()] == ["bob@acme.test"]
    [call] = bison.calls("DELETE", r"/api/sender-emails/.+")
    assert (call.path, call.status) == (f"/api/sender-emails/{remote}", 200)
    assert connection.remove("ada@acme.test") is False  # gone
    assert int(other.remote_id) in bison.senders
    connection.close()


def test_removing_an_unknown_sender_answers_false_and_deletes_nothing(
    bison: EmailBisonFake,
) -> None:
    connection = _connection(bison)
    assert connection.remove("nobody@acme.test") is False
    assert bison.calls("DELETE", ".*") == []
    connection.close()


@pytest.mark.parametrize(("status", "retry_after", "wait"), [(429, "5", 5.0), (502, None, None)])
def test_a_removal_refused_with_429_or_5xx_is_retryable_and_the_retry_deletes(
    bison: EmailBisonFake, status: int, retry_after: str | None, wait: float | None
) -> None:
    connection = _connection(bison)
    remote = int(connection.push(SMTP_MAILBOX, ExportSettings()).remote_id)
    bison.fail_next(status, retry_after=retry_after)
    with pytest.raises(AppError) as caught:
        connection.remove(SMTP_MAILBOX.email)
    assert (caught.value.status, caught.value.retryable) == (status, True)
    assert caught.value.retry_after == wait
    assert remote in bison.senders
    assert connection.remove(SMTP_MAILBOX.email) is True
    assert bison.deleted == [remote]
    connection.close()


def test_a_removal_with_a_bad_key_is_permanent(bison: EmailBisonFake) -> None:
    connection = _connection(bison, "old")
    with pytest.raises(AppError) as caught:
        connection.remove(SMTP_MAILBOX.email)
    assert (caught.value.message, caught.value.retryable) == ("401: Unauthenticated.", False)
    connection.close()


def test_a_429_then_success_is_retried_by_the_removal_helper(bison: EmailBisonFake) -> None:
    """Through `exports.removal`, the retry loop a domain swap's removals go through."""
    connection = _connection(bison)
    remote = int(connection.push(SMTP_MAILBOX, ExportSettings()).remote_id)
    connection.close()
    bison.fail_next(429, retry_after="0", times=2)
    settings = Settings(export_backoff_seconds=[0.0], export_max_retries=2)
    account = AppAccount({"api_key": "good-key"}, instance_url=bison.base_url)
    outcomes = removal.remove_accounts(
        settings, ExportApp.EMAILBISON, account, [SMTP_MAILBOX.email, "nobody@acme.test"]
    )
    assert [o.outcome for o in outcomes] == [removal.Removed.REMOVED, removal.Removed.ABSENT]
    assert bison.deleted == [remote]
