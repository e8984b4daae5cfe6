"""EmailBison through the API: the account's own instance URL, sender emails created once
and updated on re-export, the app's validation message when it refuses."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.kit import clock
from tests.exports.conftest import PASSWORD, add_account, ready_mailboxes
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
