from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Role
from tests.factories import Caller, make_member, make_tenant

VALID: dict[str, Any] = {
    "company_name": " Acme GmbH ",
    "contact_email": "Billing@Acme.test",
    "address_line1": "Hauptstr. 1",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "de",
    "vat_id": "DE123456789",
}


def _path(caller: Caller) -> str:
    return f"/v1/workspaces/{caller.workspace_id}/billing"


def test_billing_details_are_empty_until_set(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.get(_path(owner), headers=owner.headers)
    assert response.status_code == 200
    assert response.json() == {"workspace_id": str(owner.workspace_id), "billing_details": None}


def test_admin_sets_billing_details_normalised(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    admin = make_member(db, owner, Role.ADMIN)
    response = client.put(_path(owner), json=VALID, headers=admin.headers)
    assert response.status_code == 200, response.text
    expected = {
        **VALID,
        "company_name": "Acme GmbH",
        "contact_email": "billing@acme.test",
        "country": "DE",
        "address_line2": None,
    }
    assert response.json()["billing_details"] == expected
    assert client.get(_path(owner), headers=owner.headers).json()["billing_details"] == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("country", "XX"),
        ("country", "DEU"),
        ("contact_email", "not-an-email"),
        ("contact_email", "a@b"),
        ("company_name", "   "),
        ("postal_code", ""),
    ],
)
def test_invalid_billing_details_are_refused(
    db: Database, client: TestClient, field: str, value: str
) -> None:
    owner = make_tenant(db)
    response = client.put(_path(owner), json={**VALID, field: value}, headers=owner.headers)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in {e["field"] for e in body["errors"]} | {body["field"]}
    assert client.get(_path(owner), headers=owner.headers).json()["billing_details"] is None


def test_missing_or_unknown_billing_fields_are_refused(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    without_city = {k: v for k, v in VALID.items() if k != "city"}
    assert client.put(_path(owner), json=without_city, headers=owner.headers).status_code == 422
    extra = {**VALID, "iban": "DE00"}
    assert client.put(_path(owner), json=extra, headers=owner.headers).status_code == 422
    assert client.get(_path(owner), headers=owner.headers).json()["billing_details"] is None


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_below_admin_cannot_read_or_set_billing(
    db: Database, client: TestClient, role: Role
) -> None:
    owner = make_tenant(db)
    member = make_member(db, owner, role)
    for response in (
        client.get(_path(owner), headers=member.headers),
        client.put(_path(owner), json=VALID, headers=member.headers),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "insufficient_role"
    assert client.get(_path(owner), headers=owner.headers).json()["billing_details"] is None
