"""Zapmail's workspaces and billing details (reference 4.2, 4.3, 5.3, 5.4) against
/zapmail/api: the documented examples replayed field by field, v1 against v2, objects shared
with the native API, roles, and refused requests that change nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import DomainStatus, MailboxStatus, Role, Workspace
from tests.compat.zapmail.workspaces_common import (
    API,
    BILLING,
    BILLING_KEYS,
    ISO_MS,
    WORKSPACES_FETCHED,
    names_of,
    ok,
    refused,
    stored_billing,
)
from tests.factories import count_rows, make_domain, make_mailbox, make_member, make_tenant

# --- list ---------------------------------------------------------------------------------


def test_list_example_field_by_field(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    h = owner.zapmail_headers
    ok(
        client.post(f"{API}/v2/billing", json=BILLING, headers=h),
        "Billing details added successfully",
    )
    domain = make_domain(db, owner.workspace_id)
    make_domain(db, owner.workspace_id)
    make_domain(db, owner.workspace_id, status=DomainStatus.REMOVED)
    make_mailbox(db, domain)
    make_mailbox(db, domain, status=MailboxStatus.REMOVED)

    data = ok(
        client.get(f"{API}/v2/workspaces", params={"page": "1", "limit": "10"}, headers=h),
        WORKSPACES_FETCHED,
    )

    assert isinstance(data, list)
    assert len(data) == 1
    item = data[0]
    assert list(item) == ["id", "name", "domainCount", "mailboxCount", "billingDetails"]
    assert item["id"] == str(owner.workspace_id)
    # Counts are strings, as documented; removed domains and mailboxes are not counted.
    assert item["domainCount"] == "2"
    assert item["mailboxCount"] == "1"
    details = item["billingDetails"]
    assert list(details) == BILLING_KEYS
    assert details["userId"] == str(owner.user_id)
    assert details["workspaceId"] == str(owner.workspace_id)
    uuid.UUID(details["id"])
    for key, value in BILLING.items():
        assert details[key] == value, key


def test_a_workspace_without_billing_details_lists_null(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    data = ok(client.get(f"{API}/v2/workspaces", headers=owner.zapmail_headers), WORKSPACES_FETCHED)
    assert data[0]["billingDetails"] is None
    assert data[0]["domainCount"] == "0"
    assert data[0]["mailboxCount"] == "0"


def _three_workspaces(db: Database, client: TestClient) -> tuple[Any, list[str]]:
    owner = make_tenant(db)
    h = owner.zapmail_headers
    for name in ("Alpha Team", "Beta Team", "Gamma"):
        body = {"name": name, "billingDetails": BILLING}
        ok(
            client.post(f"{API}/v2/workspaces", json=body, headers=h),
            "Workspace created successfully",
        )
    return owner, names_of(client, h)


def test_list_pages_limits_and_contains(db: Database, client: TestClient) -> None:
    owner, every = _three_workspaces(db, client)
    h = owner.zapmail_headers
    assert every[1:] == ["Alpha Team", "Beta Team", "Gamma"]  # oldest first

    def page(**params: Any) -> list[str]:
        data = ok(client.get(f"{API}/v2/workspaces", params=params, headers=h), WORKSPACES_FETCHED)
        return [item["name"] for item in data]

    assert page(page=1, limit=10) == every
    assert page(page=1, limit=1) == every[:1]
    assert page(page=2, limit=1) == every[1:2]
    assert page(page=2, limit=3) == every[3:]
    assert page(page=5, limit=3) == []
    assert page(page=1, limit=10, contains="team") == ["Alpha Team", "Beta Team"]
    assert page(page=2, limit=1, contains="TEAM") == ["Beta Team"]
    assert page(page=1, limit=10, contains="nothing like it") == []


@pytest.mark.parametrize("params", [{"page": "0"}, {"limit": "0"}, {"page": "x"}])
def test_bad_paging_is_refused_in_the_envelope(
    db: Database, client: TestClient, params: dict[str, str]
) -> None:
    owner = make_tenant(db)
    response = client.get(f"{API}/v2/workspaces", params=params, headers=owner.zapmail_headers)
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["status"] == response.status_code
    assert body["data"] is None


def test_v1_list_is_v2_list_of_every_workspace(db: Database, client: TestClient) -> None:
    owner, _ = _three_workspaces(db, client)
    h = owner.zapmail_headers
    v1 = ok(client.get(f"{API}/v1/workspace/list", headers=h), WORKSPACES_FETCHED)
    v2 = ok(
        client.get(f"{API}/v2/workspaces", params={"limit": 100}, headers=h), WORKSPACES_FETCHED
    )
    assert v1 == v2
    assert len(v1) == 4


def test_list_shows_only_the_callers_workspaces(db: Database, client: TestClient) -> None:
    owner, mine = _three_workspaces(db, client)
    stranger = make_tenant(db)
    theirs = names_of(client, stranger.zapmail_headers)
    assert len(theirs) == 1
    assert not set(theirs) & set(mine)


def test_billing_details_are_listed_to_admins_only(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    ok(
        client.post(f"{API}/v2/billing", json=BILLING, headers=owner.zapmail_headers),
        "Billing details added successfully",
    )
    for role, shown in ((Role.ADMIN, True), (Role.EDITOR, False), (Role.VIEWER, False)):
        member = make_member(db, owner, role)
        data = ok(
            client.get(f"{API}/v2/workspaces", headers=member.zapmail_headers), WORKSPACES_FETCHED
        )
        assert [item["id"] for item in data] == [str(owner.workspace_id)]
        assert (data[0]["billingDetails"] is not None) is shown, role
        assert data[0]["domainCount"] == "0"


# --- create -------------------------------------------------------------------------------


def test_create_example_field_by_field(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    body = {"name": "New Workspace", "billingDetails": BILLING}

    data = ok(
        client.post(f"{API}/v2/workspaces", json=body, headers=owner.zapmail_headers),
        "Workspace created successfully",
    )

    assert list(data) == ["id", "name", "userId", "updatedAt", "createdAt", "deletedAt"]
    assert data["name"] == "New Workspace"
    assert data["userId"] == str(owner.user_id)
    assert ISO_MS.match(data["createdAt"])
    assert data["updatedAt"] == data["createdAt"]
    assert data["deletedAt"] is None
    created = uuid.UUID(data["id"])
    details = stored_billing(db, created)
    assert details["company_name"] == "TechCorp"
    assert details["first_name"] == "John"
    assert details["address_line2"] == "Suite 400"
    # The caller owns it: it is in their list with its billing details.
    listed = ok(
        client.get(f"{API}/v1/workspace/list", headers=owner.zapmail_headers), WORKSPACES_FETCHED
    )
    mine = next(item for item in listed if item["id"] == data["id"])
    assert mine["billingDetails"]["company"] == "TechCorp"


def test_create_v1_takes_the_name_only(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    data = ok(
        client.post(
            f"{API}/v1/workspace/create", json={"name": "Legacy"}, headers=owner.zapmail_headers
        ),
        "Workspace created successfully",
    )
    assert list(data) == ["id", "name", "userId", "updatedAt", "createdAt", "deletedAt"]
    assert stored_billing(db, uuid.UUID(data["id"])) is None
    listed = ok(
        client.get(f"{API}/v2/workspaces", headers=owner.zapmail_headers), WORKSPACES_FETCHED
    )
    assert [item["billingDetails"] for item in listed if item["name"] == "Legacy"] == [None]


def test_usa_is_read_as_us(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    body = {"name": "Stateside", "billingDetails": {**BILLING, "country": "USA"}}
    data = ok(
        client.post(f"{API}/v2/workspaces", json=body, headers=owner.zapmail_headers),
        "Workspace created successfully",
    )
    assert stored_billing(db, uuid.UUID(data["id"]))["country"] == "US"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "No billing"},
        {"name": "", "billingDetails": BILLING},
        {"name": "Bad country", "billingDetails": {**BILLING, "country": "Atlantis"}},
        {
            "name": "No company",
            "billingDetails": {k: v for k, v in BILLING.items() if k != "company"},
        },
    ],
)
def test_an_invalid_create_creates_nothing(
    db: Database, client: TestClient, body: dict[str, Any]
) -> None:
    owner = make_tenant(db)
    before = count_rows(db, Workspace)

    response = client.post(f"{API}/v2/workspaces", json=body, headers=owner.zapmail_headers)

    assert 400 <= response.status_code < 500, response.text
    assert response.json()["data"] is None
    assert count_rows(db, Workspace) == before


# The surface answers the native API's 409 rule refusals with 400 (docs/zapmail.md).
def test_a_taken_name_is_refused_for_v1_and_v2(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    h = owner.zapmail_headers
    body = {"name": "Twice", "billingDetails": BILLING}
    ok(client.post(f"{API}/v2/workspaces", json=body, headers=h), "Workspace created successfully")
    before = count_rows(db, Workspace)

    refused(client.post(f"{API}/v2/workspaces", json=body, headers=h), 400, "workspace_name_taken")
    v1 = client.post(f"{API}/v1/workspace/create", json={"name": " Twice "}, headers=h)
    refused(v1, 400, "workspace_name_taken")

    assert count_rows(db, Workspace) == before
    assert names_of(client, h).count("Twice") == 1


def test_a_pinned_key_cannot_create(db: Database, client: TestClient) -> None:
    from tests.factories import make_key

    owner = make_tenant(db)
    pinned = make_key(db, owner.user_id, workspace_id=owner.workspace_id)
    before = count_rows(db, Workspace)
    body = {"name": "From a pinned key", "billingDetails": BILLING}

    response = client.post(f"{API}/v2/workspaces", json=body, headers={"x-auth-zapmail": pinned})

    refused(response, 403, "key_pinned")
    assert count_rows(db, Workspace) == before


# --- shared with the native API -----------------------------------------------------------


def test_created_here_is_native_and_native_is_listed_here(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    body = {"name": "From Zapmail", "billingDetails": BILLING}
    made = ok(
        client.post(f"{API}/v2/workspaces", json=body, headers=owner.zapmail_headers),
        "Workspace created successfully",
    )

    native = client.get("/v1/workspaces", headers=owner.headers)
    assert native.status_code == 200, native.text
    assert made["id"] in [item["id"] for item in native.json()["items"]]
    billing = client.get(f"/v1/workspaces/{made['id']}/billing", headers=owner.headers)
    assert billing.status_code == 200, billing.text
    assert billing.json()["billing_details"]["company_name"] == "TechCorp"

    created = client.post("/v1/workspaces", json={"name": "From native"}, headers=owner.headers)
    assert created.status_code == 201, created.text
    listed = ok(
        client.get(f"{API}/v2/workspaces", headers=owner.zapmail_headers), WORKSPACES_FETCHED
    )
    assert created.json()["id"] in [item["id"] for item in listed]


# --- rename -------------------------------------------------------------------------------


def test_rename_example_field_by_field(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    body = {"id": str(owner.workspace_id), "name": "New Workspace"}

    data = ok(
        client.put(f"{API}/v2/workspaces", json=body, headers=owner.zapmail_headers),
        "Workspace updated successfully",
    )

    assert list(data) == ["id", "userId", "name", "createdAt", "updatedAt", "deletedAt"]
    assert data["id"] == str(owner.workspace_id)
    assert data["userId"] == str(owner.user_id)
    assert data["name"] == "New Workspace"
    assert ISO_MS.match(data["createdAt"])
    assert ISO_MS.match(data["updatedAt"])
    assert data["updatedAt"] >= data["createdAt"]
    assert data["deletedAt"] is None
    native = client.get(f"/v1/workspaces/{owner.workspace_id}", headers=owner.headers)
    assert native.json()["name"] == "New Workspace"


def test_a_rename_onto_a_taken_name_changes_nothing(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    h = owner.zapmail_headers
    ok(
        client.post(
            f"{API}/v2/workspaces", json={"name": "Taken", "billingDetails": BILLING}, headers=h
        ),
        "Workspace created successfully",
    )
    before = names_of(client, h)

    response = client.put(
        f"{API}/v2/workspaces", json={"id": str(owner.workspace_id), "name": "Taken"}, headers=h
    )

    refused(response, 400, "workspace_name_taken")
    assert names_of(client, h) == before


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_below_admin_cannot_rename(db: Database, client: TestClient, role: Role) -> None:
    owner = make_tenant(db)
    member = make_member(db, owner, role)
    before = names_of(client, owner.zapmail_headers)

    response = client.put(
        f"{API}/v2/workspaces",
        json={"id": str(owner.workspace_id), "name": "Hijacked"},
        headers=member.zapmail_headers,
    )

    refused(response, 403, "insufficient_role")
    assert names_of(client, owner.zapmail_headers) == before


def test_another_users_workspace_cannot_be_renamed_or_deleted(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    stranger = make_tenant(db)
    h = stranger.zapmail_headers
    # A name no error message could contain by chance (a factory name is "Workspace <n>").
    client.put(
        f"{API}/v2/workspaces",
        json={"id": str(owner.workspace_id), "name": "Private Payroll"},
        headers=owner.zapmail_headers,
    )
    before = names_of(client, owner.zapmail_headers)
    assert before == ["Private Payroll"]

    rename = client.put(
        f"{API}/v2/workspaces", json={"id": str(owner.workspace_id), "name": "Mine now"}, headers=h
    )
    delete = client.delete(
        f"{API}/v2/workspaces", params={"id": str(owner.workspace_id)}, headers=h
    )

    for response in (rename, delete):
        refused(response, 404, "workspace_not_found")
        assert before[0] not in response.text  # the name does not leak
    assert names_of(client, owner.zapmail_headers) == before


# --- delete -------------------------------------------------------------------------------


def test_delete_an_empty_workspace(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    h = owner.zapmail_headers
    made = ok(
        client.post(
            f"{API}/v2/workspaces",
            json={"name": "Short lived", "billingDetails": BILLING},
            headers=h,
        ),
        "Workspace created successfully",
    )

    data = ok(
        client.delete(f"{API}/v2/workspaces", params={"id": made["id"]}, headers=h),
        "Workspace deleted successfully",
    )

    assert data is None
    assert "Short lived" not in names_of(client, h)
    native = client.get(f"/v1/workspaces/{made['id']}", headers=owner.headers)
    assert native.status_code == 404


def test_a_workspace_with_domains_is_not_deleted(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    make_domain(db, owner.workspace_id)

    response = client.delete(
        f"{API}/v2/workspaces",
        params={"id": str(owner.workspace_id)},
        headers=owner.zapmail_headers,
    )

    refused(response, 400, "workspace_not_empty")
    assert count_rows(db, Workspace, id=owner.workspace_id) == 1


@pytest.mark.parametrize("role", [Role.ADMIN, Role.EDITOR, Role.VIEWER])
def test_only_the_owner_deletes(db: Database, client: TestClient, role: Role) -> None:
    owner = make_tenant(db)
    member = make_member(db, owner, role)

    response = client.delete(
        f"{API}/v2/workspaces",
        params={"id": str(owner.workspace_id)},
        headers=member.zapmail_headers,
    )

    refused(response, 403, "insufficient_role")
    assert count_rows(db, Workspace, id=owner.workspace_id) == 1
