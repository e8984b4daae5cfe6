"""Zapmail third-party accounts against /zapmail/api: add (v2 and v1), update (PUT, and the v1
POST Mailfleet chose), list by app paged by number without a credential in sight, the
workspaces inside an app, and the refusals changing nothing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Role
from tests.factories import Caller, make_member, make_tenant
from tests.fakes.sequencers.instantly import InstantlyFake

API = "/zapmail/api"
PATH = f"{API}/v2/exports/accounts/third-party"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SUPPORTED = ("INSTANTLY", "SMARTLEAD", "EMAILBISON", "LEMLIST", "PLUSVIBE", "REACHINBOX")
EMAILBISON = {
    "email": "user@example.com",
    "password": "securepassword",
    "app": "EMAILBISON",
    "url": "https://app.emailbison.com",
    "clientId": "1234567890-abcdefg.apps.googleusercontent.com",
    "clientIdAppName": "Email Bison OAuth App",
}


@pytest.fixture
def instantly() -> Iterator[InstantlyFake]:
    with InstantlyFake() as fake:
        yield fake


@pytest.fixture
def api(make_client: Callable[..., TestClient], instantly: InstantlyFake) -> TestClient:
    return make_client(export_instantly_base_url=instantly.base_url, export_timeout=10.0)


@pytest.fixture
def owner(db: Database) -> Caller:
    return make_tenant(db)


def listed(api: TestClient, caller: Caller, app: str, **query: Any) -> Any:
    return api.get(PATH, params={"app": app, **query}, headers=caller.zapmail_headers)


def native(api: TestClient, caller: Caller) -> list[dict[str, Any]]:
    response = api.get("/v1/export-accounts", headers=caller.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.mark.parametrize(
    "path", ["/v2/exports/accounts/third-party", "/v1/exports/add-third-party-account"]
)
def test_the_documented_example_adds_an_account_listed_without_its_password(
    api: TestClient, owner: Caller, path: str
) -> None:
    body = {"email": "user@example.com", "password": "securepassword", "app": "INSTANTLY"}

    response = api.post(f"{API}{path}", json=body, headers=owner.zapmail_headers)

    assert response.status_code == 200, response.text
    assert response.json() == {"status": 200, "message": "Account added successfully", "data": None}
    found = listed(api, owner, "INSTANTLY")
    assert found.status_code == 200, found.text
    assert "securepassword" not in found.text
    envelope = found.json()
    assert envelope["message"] == "Accounts fetched successfully"
    data = envelope["data"]
    assert list(data) == ["totalSearchedCount", "currentPage", "nextPage", "totalPages", "accounts"]
    assert (data["totalSearchedCount"], data["currentPage"], data["totalPages"]) == (1, 1, 1)
    [account] = data["accounts"]
    assert list(account) == ["id", "accountId", "app", "email", "label", "createdAt", "updatedAt"]
    assert account["id"] == account["accountId"]
    assert (account["app"], account["email"], account["label"]) == (
        "INSTANTLY",
        "user@example.com",
        "user@example.com",
    )
    assert ISO_MS.match(account["createdAt"])
    # Instantly's client takes an API key: the password field carries it.
    [stored] = native(api, owner)
    assert stored["id"] == account["id"]
    assert stored["credential_keys"] == ["api_key"]


def test_reachinbox_keeps_the_email_and_password_and_api_key_wins_when_given(
    api: TestClient, owner: Caller
) -> None:
    for body in (
        {"email": "r@acme.test", "password": "pw", "app": "REACHINBOX"},
        {"email": "k@acme.test", "password": "pw", "app": "SMARTLEAD", "apiKey": "sl-key"},
    ):
        response = api.post(PATH, json=body, headers=owner.zapmail_headers)
        assert response.status_code == 200, response.text

    keys = {a["app"]: a["credential_keys"] for a in native(api, owner)}
    assert keys == {"REACHINBOX": ["email", "password"], "SMARTLEAD": ["api_key"]}


def test_the_email_bison_example_keeps_its_url_and_oauth_client(
    api: TestClient, owner: Caller
) -> None:
    response = api.post(PATH, json=EMAILBISON, headers=owner.zapmail_headers)

    assert response.status_code == 200, response.text
    [stored] = native(api, owner)
    assert stored["instance_url"] == "https://app.emailbison.com"
    assert stored["config"] == {
        "client_id": EMAILBISON["clientId"],
        "client_id_app_name": EMAILBISON["clientIdAppName"],
    }


@pytest.mark.parametrize("app", ["REPLY_IO", "QUICKMAIL", "MANUAL", "nope"])
def test_an_app_mailfleet_does_not_serve_is_422_naming_the_supported_ones(
    api: TestClient, owner: Caller, app: str
) -> None:
    body = {"email": "user@example.com", "password": "securepassword", "app": app}

    response = api.post(PATH, json=body, headers=owner.zapmail_headers)

    assert response.status_code == 422, response.text
    payload = response.json()
    assert (payload["status"], payload["field"], payload["data"]) == (422, "app", None)
    assert all(name in payload["message"] for name in SUPPORTED)
    assert native(api, owner) == []
    assert listed(api, owner, app).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"password": "x", "app": "INSTANTLY"},
        {"email": "a@b.test", "app": "INSTANTLY"},
        {"email": "a@b.test", "password": "x"},
        {"email": "a@b.test", "password": 5, "app": "INSTANTLY"},
        {"email": "a@b.test", "password": "x", "app": "EMAILBISON"},
        {"email": "a@b.test", "password": "x", "app": "INSTANTLY", "url": "https://x.test"},
    ],
)
def test_a_bad_account_is_422_and_stores_nothing(
    api: TestClient, owner: Caller, body: dict[str, Any]
) -> None:
    response = api.post(PATH, json=body, headers=owner.zapmail_headers)

    assert response.status_code == 422, response.text
    assert native(api, owner) == []


@pytest.mark.parametrize("how", ["put", "v1"])
def test_an_update_names_the_account_when_there_are_several(
    api: TestClient, owner: Caller, how: str
) -> None:
    for email in ("a@acme.test", "b@acme.test"):
        body = {"email": email, "password": "old", "app": "INSTANTLY"}
        assert api.post(PATH, json=body, headers=owner.zapmail_headers).status_code == 200
    before = native(api, owner)
    target = next(a for a in before if a["label"] == "b@acme.test")

    def send(body: dict[str, Any]) -> Any:
        if how == "put":
            return api.put(PATH, json=body, headers=owner.zapmail_headers)
        return api.post(
            f"{API}/v1/exports/update-third-party-account", json=body, headers=owner.zapmail_headers
        )

    refused = send({"email": "c@acme.test", "password": "new", "app": "INSTANTLY"})
    assert refused.status_code == 400, refused.text
    assert (refused.json()["code"], refused.json()["field"]) == (
        "export_account_required",
        "accountId",
    )
    assert native(api, owner) == before

    updated = send(
        {"email": "c@acme.test", "password": "new", "app": "INSTANTLY", "accountId": target["id"]}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json() == {
        "status": 200,
        "message": "Account updated successfully",
        "data": None,
    }
    labels = {a["id"]: a["label"] for a in native(api, owner)}
    assert labels[target["id"]] == "c@acme.test"
    assert sorted(labels.values()) == ["a@acme.test", "c@acme.test"]


def test_an_update_of_another_workspaces_account_is_404(
    api: TestClient, db: Database, owner: Caller
) -> None:
    other = make_tenant(db)
    body = {"email": "them@acme.test", "password": "theirs", "app": "INSTANTLY"}
    assert api.post(PATH, json=body, headers=other.zapmail_headers).status_code == 200
    [theirs] = native(api, other)

    response = api.put(
        PATH,
        json={**body, "password": "mine", "accountId": theirs["id"]},
        headers=owner.zapmail_headers,
    )

    assert response.status_code == 404, response.text
    assert native(api, other) == [theirs]
    assert listed(api, owner, "INSTANTLY").json()["data"]["accounts"] == []


def test_the_list_pages_by_number_and_keeps_to_its_app(api: TestClient, owner: Caller) -> None:
    for n in range(3):
        body = {"email": f"u{n}@acme.test", "password": "pw", "app": "INSTANTLY"}
        assert api.post(PATH, json=body, headers=owner.zapmail_headers).status_code == 200
    api.post(
        PATH,
        json={"email": "s@acme.test", "password": "pw", "app": "SMARTLEAD"},
        headers=owner.zapmail_headers,
    )

    first = listed(api, owner, "INSTANTLY", page=1, limit=2).json()["data"]
    second = listed(api, owner, "instantly", page=2, limit=2).json()["data"]

    assert (first["totalSearchedCount"], first["totalPages"], first["nextPage"]) == (3, 2, 2)
    assert [a["email"] for a in first["accounts"] + second["accounts"]] == [
        "u0@acme.test",
        "u1@acme.test",
        "u2@acme.test",
    ]
    assert listed(api, owner, "LEMLIST").json()["data"]["accounts"] == []
    assert api.get(PATH, headers=owner.zapmail_headers).status_code == 422


def test_workspaces_inside_the_app_come_through_the_account(
    api: TestClient, owner: Caller, instantly: InstantlyFake
) -> None:
    body = {"email": "ops@acme.test", "password": "good-key", "app": "INSTANTLY"}
    assert api.post(PATH, json=body, headers=owner.zapmail_headers).status_code == 200
    [account] = native(api, owner)

    for query in ({"app": "INSTANTLY"}, {"app": "INSTANTLY", "accountId": account["id"]}):
        response = api.get(
            f"{API}/v2/exports/fetch-workspaces", params=query, headers=owner.zapmail_headers
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "status": 200,
            "message": "Workspaces fetched successfully",
            "data": {"workspaces": [{"id": instantly.workspace["id"], "name": "Acme outreach"}]},
        }


def test_workspaces_of_an_app_without_an_account_or_client_are_refused(
    api: TestClient, owner: Caller
) -> None:
    none = api.get(
        f"{API}/v2/exports/fetch-workspaces?app=SMARTLEAD", headers=owner.zapmail_headers
    )
    body = {"email": "l@acme.test", "password": "k", "app": "LEMLIST"}
    assert api.post(PATH, json=body, headers=owner.zapmail_headers).status_code == 200
    no_client = api.get(
        f"{API}/v2/exports/fetch-workspaces?app=LEMLIST", headers=owner.zapmail_headers
    )

    assert none.status_code == 400, none.text
    assert none.json()["code"] == "export_account_required"
    assert no_client.status_code == 422, no_client.text
    assert no_client.json()["code"] == "export_app_not_supported"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_only_an_admin_adds_or_updates_accounts_and_a_viewer_lists_them(
    api: TestClient, db: Database, owner: Caller, role: Role
) -> None:
    member = make_member(db, owner, role)
    body = {"email": "user@example.com", "password": "securepassword", "app": "INSTANTLY"}

    added = api.post(PATH, json=body, headers=member.zapmail_headers)
    updated = api.put(PATH, json=body, headers=member.zapmail_headers)

    assert (added.status_code, updated.status_code) == (403, 403)
    assert native(api, owner) == []
    assert listed(api, member, "INSTANTLY").status_code == 200
