"""Where a mailbox was exported: its history (app, account, when, id in the app) and the
mailbox list filtered by the app it went to."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from mailfleet.db import Database
from tests.exports.conftest import add_account, ready_mailboxes
from tests.factories import Caller


def test_the_history_and_the_list_filter_say_where_mailboxes_went(
    api: TestClient, db: Database, owner: Caller, other: Caller, run_job: Callable[[str], None]
) -> None:
    account = add_account(api, owner)
    sent, kept = ready_mailboxes(db, owner.workspace_id, 2)
    exported = api.post(
        "/v1/exports",
        json={"app": "INSTANTLY", "mailbox_ids": [str(sent)]},
        headers=owner.headers,
    )
    assert exported.status_code == 202, exported.text
    run_job(exported.json()["id"])

    history = api.get(f"/v1/mailboxes/{sent}/exports", headers=owner.headers)
    never = api.get(f"/v1/mailboxes/{kept}/exports", headers=owner.headers)
    listed = api.get("/v1/mailboxes", params={"exported_to": "INSTANTLY"}, headers=owner.headers)
    elsewhere = api.get("/v1/mailboxes", params={"exported_to": "SMARTLEAD"}, headers=owner.headers)
    stranger = api.get(f"/v1/mailboxes/{sent}/exports", headers=other.headers)

    assert history.status_code == 200, history.text
    [item] = history.json()["items"]
    assert (item["app"], item["account_id"], item["outcome"]) == (
        "INSTANTLY",
        account["id"],
        "CREATED",
    )
    assert item["export_id"] == exported.json()["id"]
    assert item["exported_at"] is not None
    assert never.json()["items"] == []
    assert [m["id"] for m in listed.json()["items"]] == [str(sent)]
    assert elsewhere.json()["items"] == []
    assert stranger.status_code == 404
    bad = api.get("/v1/mailboxes", params={"exported_to": "NOPE"}, headers=owner.headers)
    assert bad.status_code == 422
