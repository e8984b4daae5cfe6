"""The re-export rule at its boundaries, with a controlled clock: a third export in 7 days is
allowed, a fourth refused (429 when every mailbox is refused, listed when only some are), and
the mailbox is free again the moment its oldest counted export is 7 days old."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.exports import limits
from mailfleet.kit import clock
from tests.exports.conftest import add_account, ready_mailboxes
from tests.factories import Caller
from tests.fakes.sequencers.instantly import InstantlyFake

DAY = 86400.0


def _post(api: TestClient, caller: Caller, ids: list[str]) -> Any:
    return api.post(
        "/v1/exports", json={"app": "INSTANTLY", "mailbox_ids": ids}, headers=caller.headers
    )


def test_the_fourth_export_in_seven_days_is_refused_until_the_oldest_is_seven_days_old(
    api: TestClient, db: Database, owner: Caller, instantly: InstantlyFake
) -> None:
    add_account(api, owner)
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]
    first = _post(api, owner, ids)
    assert first.status_code == 202
    oldest = datetime.fromisoformat(first.json()["created_at"])
    clock.advance(2 * DAY)
    assert _post(api, owner, ids).status_code == 202
    clock.advance(2 * DAY)
    third = _post(api, owner, ids)
    assert third.status_code == 202, "the third export in 7 days is allowed"

    fourth = _post(api, owner, ids)
    assert fourth.status_code == 429
    problem = fourth.json()
    assert problem["code"] == "export_limit_reached"
    assert problem["errors"][0]["detail"] == (
        f"{ids[0]} can be exported again at {(oldest + timedelta(days=7)).isoformat()}"
    )
    # Retry-After points at the moment it frees up: 3 days after the third export, less the
    # real time the requests took (the controlled clock moves with it).
    assert 3 * DAY - 300 < int(fourth.headers["Retry-After"]) <= 3 * DAY

    # A minute before the oldest export is 7 days old: still refused; a minute after: free.
    # (Real time moves the clock too; the exact instant is checked on the rule itself below.)
    clock.advance((oldest + timedelta(days=7) - clock.now()).total_seconds() - 60)
    assert _post(api, owner, ids).status_code == 429
    clock.advance(120)
    assert _post(api, owner, ids).status_code == 202


def test_the_window_is_exact_to_the_microsecond(
    api: TestClient, db: Database, owner: Caller, settings: Settings, instantly: InstantlyFake
) -> None:
    add_account(api, owner)
    ids = ready_mailboxes(db, owner.workspace_id, 1)
    created = []
    for _ in range(3):
        response = _post(api, owner, [str(ids[0])])
        created.append(datetime.fromisoformat(response.json()["created_at"]))
    frees = created[0] + timedelta(days=7)
    with db.transaction(write=False) as session:
        assert limits.refusals(session, settings, ids, created[-1])[ids[0]].available_at == frees
        before = limits.refusals(session, settings, ids, frees - timedelta(microseconds=1))
        assert ids[0] in before
        assert limits.refusals(session, settings, ids, frees) == {}


def test_refused_mailboxes_are_listed_and_the_rest_go_ahead(
    api: TestClient, db: Database, owner: Caller, instantly: InstantlyFake
) -> None:
    add_account(api, owner)
    busy = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 2)]
    fresh = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 3)]
    for _ in range(3):
        assert _post(api, owner, busy).status_code == 202
    response = _post(api, owner, busy + fresh)
    assert response.status_code == 202
    job = response.json()
    assert job["total"] == 3
    assert sorted(r["mailbox_id"] for r in job["refused"]) == sorted(busy)
    results = api.get(f"/v1/exports/{job['id']}/results", headers=owner.headers).json()
    assert sorted(r["mailbox_id"] for r in results["items"]) == sorted(fresh)


def test_an_export_that_failed_or_skipped_does_not_count(
    api: TestClient, db: Database, owner: Caller, instantly: InstantlyFake, run_job: Any
) -> None:
    add_account(api, owner, credentials={"api_key": "revoked"})
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]
    for _ in range(3):
        job = _post(api, owner, ids).json()
        run_job(job["id"])  # refused by the app: FAILED, never in the app
    assert _post(api, owner, ids).status_code == 202
