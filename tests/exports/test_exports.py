"""Export jobs through the API and the worker's job, against the local Instantly and
Smartlead fakes: the right fields per mailbox type, never a duplicate, skips and failures per
mailbox with the app's message, retries on 429/5xx, status, counts, results and the event."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import Event, MailboxStatus, MailboxType
from tests.exports.conftest import APP_PASSWORD, PASSWORD, add_account, ready_mailboxes
from tests.factories import Caller, make_domain, make_mailbox
from tests.fakes.sequencers.instantly import InstantlyFake
from tests.fakes.sequencers.smartlead import SmartleadFake

RunJob = Callable[[str], None]


def _export(api: TestClient, caller: Caller, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/exports", json={"app": "INSTANTLY", **body}, headers=caller.headers)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


def _get(api: TestClient, caller: Caller, export_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/exports/{export_id}", headers=caller.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _results(api: TestClient, caller: Caller, export_id: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    cursor = ""
    while True:
        page = api.get(
            f"/v1/exports/{export_id}/results?limit=7{cursor}", headers=caller.headers
        ).json()
        found.update({item["mailbox_id"]: item for item in page["items"]})
        if page["next_cursor"] is None:
            return found
        cursor = f"&cursor={page['next_cursor']}"


def test_an_export_creates_each_mailbox_at_instantly_with_the_fields_of_its_type(
    api: TestClient, db: Database, owner: Caller, instantly: InstantlyFake, run_job: RunJob
) -> None:
    add_account(api, owner)
    smtp = ready_mailboxes(db, owner.workspace_id, 3)
    google = ready_mailboxes(
        db, owner.workspace_id, 2, mailbox_type=MailboxType.GOOGLE, app_password=True
    )
    settings = {"daily_limit": 25, "sending_gap_minutes": 7, "tracking_domain": "t.acme.test"}
    job = _export(api, owner, mailbox_ids=[str(i) for i in smtp + google], settings=settings)
    assert job["status"] == "PENDING"
    assert job["total"] == 5
    assert job["counts"]["pending"] == 5
    assert job["refused"] == []

    run_job(job["id"])

    done = _get(api, owner, job["id"])
    assert done["status"] == "COMPLETED"
    assert done["counts"] == {"pending": 0, "created": 5, "updated": 0, "skipped": 0, "failed": 0}
    assert done["finished_at"] is not None
    results = _results(api, owner, job["id"])
    assert {r["status"] for r in results.values()} == {"CREATED"}
    codes = {a["email"]: a["provider_code"] for a in instantly.accounts.values()}
    for mailbox_id in smtp:
        address = results[str(mailbox_id)]["address"]
        assert codes[address] == 1
        assert instantly.accounts[address]["smtp_password"] == PASSWORD
    for mailbox_id in google:
        address = results[str(mailbox_id)]["address"]
        assert codes[address] == 2
        # Google mailboxes sign in over SMTP/IMAP with their app password.
        assert instantly.accounts[address]["imap_password"] == APP_PASSWORD
    account = next(iter(instantly.accounts.values()))
    assert account["daily_limit"] == 25
    assert account["sending_gap"] == 7
    assert account["tracking_domain_name"] == "t.acme.test"
    assert account["smtp_host"] == "smtp.mail.test"
    assert account["imap_port"] == 993


def test_a_re_export_updates_what_the_app_holds_and_duplicates_nothing(
    api: TestClient,
    db: Database,
    owner: Caller,
    instantly: InstantlyFake,
    smartlead: SmartleadFake,
    run_job: RunJob,
) -> None:
    add_account(api, owner)
    add_account(api, owner, "SMARTLEAD")
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 4)]
    for app in ("INSTANTLY", "SMARTLEAD"):
        run_job(_export(api, owner, app=app, mailbox_ids=ids)["id"])
    # Past the re-export window, so this test sees only the apps' side of a re-export.
    clock.advance(8 * 86400)
    again = {}
    for app in ("INSTANTLY", "SMARTLEAD"):
        job = _export(api, owner, app=app, mailbox_ids=ids, settings={"daily_limit": 40})
        run_job(job["id"])
        again[app] = _get(api, owner, job["id"])["counts"]
    assert again["INSTANTLY"]["updated"] == again["SMARTLEAD"]["updated"] == 4
    assert again["INSTANTLY"]["created"] == again["SMARTLEAD"]["created"] == 0
    assert len(instantly.created) == 4
    assert {a["daily_limit"] for a in instantly.accounts.values()} == {40}
    # Smartlead would take a second account for an address: the client looks first.
    assert len(smartlead.addresses()) == len(set(smartlead.addresses())) == 4
    assert {a["max_email_per_day"] for a in smartlead.accounts.values()} == {40}


def test_smartlead_gets_its_own_field_names_and_the_client_id(
    api: TestClient, db: Database, owner: Caller, smartlead: SmartleadFake, run_job: RunJob
) -> None:
    add_account(api, owner, "SMARTLEAD", config={"client_id": "12"})
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 2)]
    job = _export(
        api,
        owner,
        app="SMARTLEAD",
        mailbox_ids=ids,
        settings={"warmup_enabled": True, "warmup_limit": 20, "daily_limit": 15},
    )
    run_job(job["id"])
    results = _results(api, owner, job["id"])
    saved = list(smartlead.accounts.values())
    assert {str(a["id"]) for a in saved} == {r["remote_id"] for r in results.values()}
    account = saved[0]
    assert account["client_id"] == 12
    assert account["user_name"] == account["from_email"]
    assert account["from_name"] == "Ada Stone"
    assert account["password"] == PASSWORD
    assert account["max_email_per_day"] == 15
    assert account["warmup_enabled"] is True
    assert account["total_warmup_per_day"] == 20


def test_mailboxes_that_cannot_go_are_skipped_with_why(
    api: TestClient, db: Database, owner: Caller, instantly: InstantlyFake, run_job: RunJob
) -> None:
    add_account(api, owner)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    ready = ready_mailboxes(db, owner.workspace_id, 1, domain=domain)
    pending = make_mailbox(db, domain, status=MailboxStatus.PROVISIONING)
    bare = make_mailbox(db, domain)  # ACTIVE, but no credentials were ever stored
    job = _export(api, owner, mailbox_ids=[str(i) for i in (*ready, pending, bare)])
    run_job(job["id"])
    results = _results(api, owner, job["id"])
    assert results[str(ready[0])]["status"] == "CREATED"
    assert results[str(pending)]["status"] == "SKIPPED"
    assert "PROVISIONING" in results[str(pending)]["reason"]
    assert results[str(bare)]["status"] == "SKIPPED"
    assert "credentials" in results[str(bare)]["reason"]
    assert len(instantly.created) == 1


def test_retries_after_429_and_5xx_then_fails_with_the_apps_message(
    api: TestClient, db: Database, owner: Caller, instantly: InstantlyFake, run_job: RunJob
) -> None:
    add_account(api, owner)
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]
    instantly.fail_next(429, retry_after="0")
    instantly.fail_next(429)  # no Retry-After: the job's own backoff step
    instantly.fail_next(503)
    job = _export(api, owner, mailbox_ids=ids)
    run_job(job["id"])
    assert _get(api, owner, job["id"])["counts"]["created"] == 1
    assert [r.status for r in instantly.calls("POST", "/accounts")] == [429, 429, 503, 200]

    more = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]
    instantly.fail_next(500, times=10)
    job = _export(api, owner, mailbox_ids=more)
    run_job(job["id"])
    result = next(iter(_results(api, owner, job["id"]).values()))
    assert result["status"] == "FAILED"
    assert result["reason"] == "500: Internal Server Error"
    assert _get(api, owner, job["id"])["status"] == "COMPLETED"


def test_a_refusal_is_recorded_per_mailbox_with_the_apps_message(
    api: TestClient, db: Database, owner: Caller, instantly: InstantlyFake, run_job: RunJob
) -> None:
    add_account(api, owner, credentials={"api_key": "revoked"})
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 2)]
    job = _export(api, owner, mailbox_ids=ids)
    run_job(job["id"])
    results = _results(api, owner, job["id"])
    assert {r["reason"] for r in results.values()} == {"401: Invalid API key"}
    assert _get(api, owner, job["id"])["counts"]["failed"] == 2


def test_a_filter_selects_by_domain_tag_text_and_type_minus_excluded_ids(
    api: TestClient, db: Database, owner: Caller, instantly: InstantlyFake
) -> None:
    add_account(api, owner)
    tagged = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.SMTP)
    with db.transaction() as session:
        from mailfleet.models import Domain

        row = session.get(Domain, tagged.id)
        assert row is not None
        row.tags = ["q1"]
    in_tag = ready_mailboxes(db, owner.workspace_id, 3, domain=tagged)
    elsewhere = ready_mailboxes(db, owner.workspace_id, 2)
    by_tag = _export(api, owner, filter={"tag": "q1"}, exclude_ids=[str(in_tag[0])])
    assert by_tag["total"] == 2
    by_domain = _export(api, owner, filter={"domain_id": str(tagged.id)})
    assert by_domain["total"] == 3
    every = _export(api, owner, filter={"type": "SMTP", "status": "ACTIVE"})
    assert every["total"] == 5
    with db.transaction(write=False) as session:
        from mailfleet.models import Mailbox

        address = session.get_one(Mailbox, elsewhere[1]).address
    by_text = _export(api, owner, filter={"text": address.split("@")[0]})
    assert by_text["total"] == 1


@pytest.mark.usefixtures("without_lemlist_client")
def test_the_account_must_be_named_when_there_is_not_exactly_one(
    api: TestClient, db: Database, owner: Caller
) -> None:
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]
    body = {"app": "INSTANTLY", "mailbox_ids": ids}
    none = api.post("/v1/exports", json=body, headers=owner.headers)
    assert (none.status_code, none.json()["code"]) == (422, "export_account_required")
    first = add_account(api, owner)
    add_account(api, owner, label="second")
    several = api.post("/v1/exports", json=body, headers=owner.headers)
    assert (several.status_code, several.json()["code"]) == (422, "export_account_required")
    named = api.post("/v1/exports", json={**body, "account_id": first["id"]}, headers=owner.headers)
    assert named.status_code == 202
    assert named.json()["account_id"] == first["id"]
    lead = add_account(api, owner, "SMARTLEAD")
    wrong = api.post("/v1/exports", json={**body, "account_id": lead["id"]}, headers=owner.headers)
    assert (wrong.status_code, wrong.json()["code"]) == (422, "invalid_export_account")
    empty = api.post(
        "/v1/exports",
        json={**body, "account_id": first["id"], "mailbox_ids": []},
        headers=owner.headers,
    )
    assert (empty.status_code, empty.json()["code"]) == (422, "no_mailbox_selected")
    lemlist = api.post("/v1/exports", json={**body, "app": "LEMLIST"}, headers=owner.headers)
    assert (lemlist.status_code, lemlist.json()["code"]) == (422, "export_app_not_supported")


def test_completion_is_an_event_without_any_secret(
    api: TestClient, db: Database, owner: Caller, instantly: InstantlyFake, run_job: RunJob
) -> None:
    add_account(api, owner, credentials={"api_key": "good-key"})
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 2)]
    job = _export(api, owner, mailbox_ids=ids)
    run_job(job["id"])
    run_job(job["id"])  # a second run of a finished job does nothing
    with db.transaction(write=False) as session:
        events = session.scalars(select(Event).where(Event.type == "export.completed")).all()
    assert len(events) == 1
    assert events[0].data["counts"]["created"] == 2
    assert events[0].data["status"] == "COMPLETED"
    text = str(events[0].data)
    assert PASSWORD not in text
    assert "good-key" not in text


def test_a_run_interrupted_mid_way_resumes_and_duplicates_nothing(
    api: TestClient,
    db: Database,
    owner: Caller,
    instantly: InstantlyFake,
    run_job: RunJob,
    settings: Any,
) -> None:
    """The first run is held at the fake after some pushes; a second run (what the sweep starts
    once the first worker's lease is gone) takes only what is still PENDING, and the pushes the
    first run made but had not recorded come back as UPDATED, never as a second account."""
    add_account(api, owner)
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 120)]
    job = _export(api, owner, mailbox_ids=ids)
    instantly.hold(after=70)
    first = threading.Thread(target=run_job, args=(job["id"],), daemon=True)
    first.start()
    assert instantly.waiting.acquire(timeout=60)
    # Some batches are recorded, the rest of the job is still PENDING.
    held = _get(api, owner, job["id"])["counts"]
    assert 0 < held["created"] < 120
    assert held["pending"] > 0
    instantly.release()  # the held calls go through; the second run may race the first
    run_job(job["id"])
    first.join(timeout=60)
    done = _get(api, owner, job["id"])
    assert done["status"] == "COMPLETED"
    assert done["counts"]["created"] + done["counts"]["updated"] == 120
    assert sorted(instantly.created) == sorted(set(instantly.created))
    assert len(instantly.created) == 120
