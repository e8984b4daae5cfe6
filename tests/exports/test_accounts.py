"""Sequencer accounts over the API: stored encrypted, never shown, tested against the app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.models import ExportAccount, Role
from tests.exports.conftest import add_account
from tests.factories import Caller, make_member, make_tenant
from tests.fakes.sequencers.instantly import InstantlyFake
from tests.fakes.sequencers.smartlead import SmartleadFake


def test_an_account_keeps_its_credentials_encrypted_and_never_shows_them(
    api: TestClient, db: Database, owner: Caller
) -> None:
    created = add_account(api, owner, credentials={"api_key": "sk-very-secret"})
    assert created["app"] == "INSTANTLY"
    assert created["credential_keys"] == ["api_key"]
    for response in (
        api.get(f"/v1/export-accounts/{created['id']}", headers=owner.headers),
        api.get("/v1/export-accounts", headers=owner.headers),
    ):
        assert response.status_code == 200
        assert "sk-very-secret" not in response.text
    with db.transaction(write=False) as session:
        stored = session.scalars(select(ExportAccount)).one()
    assert "sk-very-secret" not in stored.credentials_enc


def test_several_accounts_per_app_are_listed_newest_first_and_filtered_by_app(
    api: TestClient, owner: Caller
) -> None:
    first = add_account(api, owner, label="one")
    second = add_account(api, owner, label="two")
    lead = add_account(api, owner, "SMARTLEAD", config={"client_id": "11"})
    page = api.get("/v1/export-accounts?app=INSTANTLY&limit=1", headers=owner.headers).json()
    assert [a["id"] for a in page["items"]] == [second["id"]]
    rest = api.get(
        f"/v1/export-accounts?app=INSTANTLY&cursor={page['next_cursor']}", headers=owner.headers
    ).json()
    assert [a["id"] for a in rest["items"]] == [first["id"]]
    assert rest["next_cursor"] is None
    every = api.get("/v1/export-accounts", headers=owner.headers).json()["items"]
    assert [a["id"] for a in every] == [lead["id"], second["id"], first["id"]]
    assert lead["config"] == {"client_id": "11"}


def test_each_app_takes_its_own_credentials_and_ids(api: TestClient, owner: Caller) -> None:
    def create(body: dict[str, object]) -> tuple[int, dict[str, object]]:
        response = api.post("/v1/export-accounts", json=body, headers=owner.headers)
        return response.status_code, response.json()

    status, problem = create(
        {"app": "INSTANTLY", "label": "x", "credentials": {"email": "a@b.test", "password": "p"}}
    )
    assert (status, problem["code"]) == (422, "invalid_export_account")
    status, problem = create({"app": "EMAILBISON", "label": "x", "credentials": {"api_key": "k"}})
    assert (status, problem["code"], problem["field"]) == (
        422,
        "invalid_export_account",
        "instance_url",
    )
    status, created = create(
        {
            "app": "EMAILBISON",
            "label": "bison",
            "credentials": {"api_key": "k"},
            "instance_url": "https://dedi.emailbison.test/",
            "config": {"workspace_id": "7"},
        }
    )
    assert status == 201
    assert created["instance_url"] == "https://dedi.emailbison.test"
    status, problem = create(
        {
            "app": "INSTANTLY",
            "label": "x",
            "credentials": {"api_key": "k"},
            "config": {"client_id": "1"},
        }
    )
    assert (status, problem["code"]) == (422, "invalid_export_account")
    status, created = create(
        {"app": "REACHINBOX", "label": "r", "credentials": {"email": "a@b.test", "password": "p"}}
    )
    assert status == 201
    assert created["credential_keys"] == ["email", "password"]


def test_update_replaces_credentials_and_keeps_what_is_left_out(
    api: TestClient, owner: Caller, instantly: InstantlyFake
) -> None:
    account = add_account(api, owner, credentials={"api_key": "wrong-key"})
    path = f"/v1/export-accounts/{account['id']}"
    assert api.post(f"{path}/test", headers=owner.headers).json()["ok"] is False
    updated = api.patch(
        path, json={"credentials": {"api_key": "good-key"}}, headers=owner.headers
    ).json()
    assert updated["label"] == account["label"]
    assert api.post(f"{path}/test", headers=owner.headers).json() == {
        "ok": True,
        "message": "The API key works.",
    }
    renamed = api.patch(path, json={"label": "Renamed"}, headers=owner.headers).json()
    assert renamed["label"] == "Renamed"
    assert api.post(f"{path}/test", headers=owner.headers).json()["ok"] is True


def test_the_test_says_what_the_app_answered(
    api: TestClient, owner: Caller, instantly: InstantlyFake, smartlead: SmartleadFake
) -> None:
    bad = add_account(api, owner, credentials={"api_key": "nope"})
    answer = api.post(f"/v1/export-accounts/{bad['id']}/test", headers=owner.headers).json()
    assert answer == {"ok": False, "message": "Invalid API key"}
    lead = add_account(api, owner, "SMARTLEAD", credentials={"api_key": "nope"})
    answer = api.post(f"/v1/export-accounts/{lead['id']}/test", headers=owner.headers).json()
    assert answer == {"ok": False, "message": "Invalid API Key"}
    # The key went to the app it belongs to, and only there.
    assert instantly.log[-1].headers["authorization"] == "Bearer nope"
    assert smartlead.log[-1].query["api_key"] == "nope"
    instantly.stop()
    good = add_account(api, owner)
    answer = api.post(f"/v1/export-accounts/{good['id']}/test", headers=owner.headers).json()
    assert answer["ok"] is False
    assert "Could not reach the app" in answer["message"]


@pytest.mark.usefixtures("without_lemlist_client")
def test_an_app_without_a_client_yet_cannot_be_tested(api: TestClient, owner: Caller) -> None:
    account = add_account(api, owner, "LEMLIST")
    response = api.post(f"/v1/export-accounts/{account['id']}/test", headers=owner.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "export_app_not_supported"


def test_workspaces_inside_the_app_are_listed_through_the_account(
    api: TestClient, owner: Caller, instantly: InstantlyFake, smartlead: SmartleadFake
) -> None:
    lead = add_account(api, owner, "SMARTLEAD")
    found = api.get(f"/v1/export-accounts/{lead['id']}/workspaces", headers=owner.headers)
    assert found.json() == {
        "items": [{"id": "11", "name": "Client A"}, {"id": "12", "name": "Client B"}]
    }
    inst = add_account(api, owner)
    found = api.get(f"/v1/export-accounts/{inst['id']}/workspaces", headers=owner.headers)
    assert found.json()["items"] == [instantly.workspace]
    refused = add_account(api, owner, "SMARTLEAD", credentials={"api_key": "nope"})
    response = api.get(f"/v1/export-accounts/{refused['id']}/workspaces", headers=owner.headers)
    assert response.status_code == 502
    assert response.json()["code"] == "export_app_error"
    assert "Invalid API Key" in response.json()["detail"]


def test_delete_removes_the_account(api: TestClient, owner: Caller) -> None:
    account = add_account(api, owner)
    path = f"/v1/export-accounts/{account['id']}"
    assert api.delete(path, headers=owner.headers).json() == {"id": account["id"], "deleted": True}
    response = api.get(path, headers=owner.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "export_account_not_found"


def test_members_read_and_only_admins_write(api: TestClient, db: Database, owner: Caller) -> None:
    account = add_account(api, owner)
    viewer = make_member(db, owner, Role.VIEWER)
    assert api.get("/v1/export-accounts", headers=viewer.headers).status_code == 200
    body = {"app": "INSTANTLY", "label": "x", "credentials": {"api_key": "k"}}
    assert api.post("/v1/export-accounts", json=body, headers=viewer.headers).status_code == 403
    test = api.post(f"/v1/export-accounts/{account['id']}/test", headers=viewer.headers)
    assert test.status_code == 403
    other = make_tenant(db)
    hidden = api.get(f"/v1/export-accounts/{account['id']}", headers=other.headers)
    assert hidden.status_code == 404
    assert api.get("/v1/export-accounts", headers=other.headers).json()["items"] == []
