"""Zapmail's billing details (reference 4.3, 5.4) against /zapmail/api: add then update, v1
against v2, the workspace the X-Workspace-Key names, roles, and refused bodies that change
nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Role
from tests.compat.zapmail.workspaces_common import (
    API,
    BILLING,
    WORKSPACES_FETCHED,
    ok,
    refused,
    stored_billing,
)
from tests.factories import make_member, make_tenant

# --- billing details ----------------------------------------------------------------------


def test_add_then_update_billing_details(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    h = owner.zapmail_headers

    added = ok(
        client.post(f"{API}/v2/billing", json=BILLING, headers=h),
        "Billing details added successfully",
    )
    assert added is None
    changed = {**BILLING, "company": "OtherCorp", "addressLineTwo": None, "phoneCc": "+1"}
    updated = ok(
        client.put(f"{API}/v2/billing", json=changed, headers=h),
        "Billing details updated successfully",
    )
    assert updated is None

    details = ok(client.get(f"{API}/v2/workspaces", headers=h), WORKSPACES_FETCHED)[0][
        "billingDetails"
    ]
    assert details["company"] == "OtherCorp"
    assert details["addressLineTwo"] is None
    assert details["phoneCc"] == "+1"
    native = client.get(f"/v1/workspaces/{owner.workspace_id}/billing", headers=owner.headers)
    assert native.json()["billing_details"]["company_name"] == "OtherCorp"
    # Zapmail's body has no email: the invoices' contact is the caller's.
    assert native.json()["billing_details"]["contact_email"] == owner.email


def test_billing_goes_to_the_x_workspace_key_workspace(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    h = owner.zapmail_headers
    other = ok(
        client.post(f"{API}/v1/workspace/create", json={"name": "Second"}, headers=h),
        "Workspace created successfully",
    )

    response = client.post(
        f"{API}/v2/billing", json=BILLING, headers={**h, "x-workspace-key": other["id"]}
    )

    ok(response, "Billing details added successfully")
    assert stored_billing(db, uuid.UUID(other["id"]))["company_name"] == "TechCorp"
    assert stored_billing(db, owner.workspace_id) is None


def test_v1_add_or_update_matches_v2(db: Database, client: TestClient) -> None:
    first = make_tenant(db)
    second = make_tenant(db)
    ok(
        client.post(f"{API}/v2/billing", json=BILLING, headers=first.zapmail_headers),
        "Billing details added successfully",
    )
    body = {**BILLING, "workspaceId": str(second.workspace_id)}
    # v1 names the workspace in the body; the header's own workspace is not the one changed.
    headers = {"x-auth-zapmail": second.token}
    ok(
        client.post(f"{API}/v1/billing-details/add-or-update", json=body, headers=headers),
        "Billing details added successfully",
    )
    ok(
        client.post(f"{API}/v1/billing-details/add-or-update", json=body, headers=headers),
        "Billing details added successfully",
    )

    def listed(caller: Any) -> dict[str, Any]:
        data = ok(
            client.get(f"{API}/v2/workspaces", headers=caller.zapmail_headers), WORKSPACES_FETCHED
        )
        details: dict[str, Any] = data[0]["billingDetails"]
        return details

    one, two = listed(first), listed(second)
    different = {"id", "userId", "workspaceId"}
    assert {k: v for k, v in one.items() if k not in different} == {
        k: v for k, v in two.items() if k not in different
    }
    assert two["workspaceId"] == str(second.workspace_id)


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_below_admin_cannot_set_billing(db: Database, client: TestClient, role: Role) -> None:
    owner = make_tenant(db)
    ok(
        client.post(f"{API}/v2/billing", json=BILLING, headers=owner.zapmail_headers),
        "Billing details added successfully",
    )
    member = make_member(db, owner, role)
    before = stored_billing(db, owner.workspace_id)
    changed = {**BILLING, "company": "Nope"}
    v1 = {**changed, "workspaceId": str(owner.workspace_id)}

    for response in (
        client.post(f"{API}/v2/billing", json=changed, headers=member.zapmail_headers),
        client.put(f"{API}/v2/billing", json=changed, headers=member.zapmail_headers),
        client.post(
            f"{API}/v1/billing-details/add-or-update", json=v1, headers=member.zapmail_headers
        ),
    ):
        refused(response, 403, "insufficient_role")
    assert stored_billing(db, owner.workspace_id) == before


def test_an_admin_sets_billing(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    admin = make_member(db, owner, Role.ADMIN)
    ok(
        client.put(f"{API}/v2/billing", json=BILLING, headers=admin.zapmail_headers),
        "Billing details updated successfully",
    )
    assert stored_billing(db, owner.workspace_id)["company_name"] == "TechCorp"


def test_another_users_workspace_gets_no_billing(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    stranger = make_tenant(db)
    headers = {**stranger.zapmail_headers, "x-workspace-key": str(owner.workspace_id)}
    v1 = {**BILLING, "workspaceId": str(owner.workspace_id)}

    header_form = client.post(f"{API}/v2/billing", json=BILLING, headers=headers)
    body_form = client.post(
        f"{API}/v1/billing-details/add-or-update", json=v1, headers=stranger.zapmail_headers
    )

    refused(header_form, 404, "workspace_not_found")
    refused(body_form, 404, "workspace_not_found")
    assert stored_billing(db, owner.workspace_id) is None


def test_an_invalid_billing_body_changes_nothing(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    h = owner.zapmail_headers
    ok(
        client.post(f"{API}/v2/billing", json=BILLING, headers=h),
        "Billing details added successfully",
    )
    before = stored_billing(db, owner.workspace_id)

    response = client.put(f"{API}/v2/billing", json={**BILLING, "postalCode": ""}, headers=h)

    assert 400 <= response.status_code < 500, response.text
    assert response.json()["data"] is None
    assert stored_billing(db, owner.workspace_id) == before


# --- headers ------------------------------------------------------------------------------


def test_without_x_workspace_key_the_first_workspace_is_billed(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    ok(
        client.post(f"{API}/v2/billing", json=BILLING, headers={"x-auth-zapmail": owner.token}),
        "Billing details added successfully",
    )
    assert stored_billing(db, owner.workspace_id)["company_name"] == "TechCorp"


def test_a_malformed_or_unknown_workspace_key(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    bad = {**owner.zapmail_headers, "x-workspace-key": "not-a-uuid"}
    unknown = {**owner.zapmail_headers, "x-workspace-key": str(uuid.uuid4())}

    assert refused(
        client.post(f"{API}/v2/billing", json=BILLING, headers=bad), 400, "invalid_workspace_id"
    )
    body = refused(
        client.post(f"{API}/v2/billing", json=BILLING, headers=unknown), 404, "workspace_not_found"
    )
    assert body["field"] == "x-workspace-key"
    assert stored_billing(db, owner.workspace_id) is None
