"""What the Zapmail workspace and billing-details tests share: the documented billing body,
the envelope checks and readers of what was stored."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Workspace

API = "/zapmail/api"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# The request body of reference 5.3 "Create new workspace" (and 5.4 "Add Billing Details").
BILLING = {
    "firstName": "John",
    "lastName": "Doe",
    "company": "TechCorp",
    "addressLineOne": "123 Main Street",
    "addressLineTwo": "Suite 400",
    "addressLineThree": None,
    "city": "Metropolis",
    "state": "California",
    "country": "US",
    "postalCode": "90210",
    "phoneCc": "1",
    "phone": "5551234567",
    "languagePreference": "en",
}
# The key order of the listed workspace's billingDetails in the 5.3 list example.
BILLING_KEYS = [
    "id",
    "userId",
    "firstName",
    "lastName",
    "workspaceId",
    "company",
    "addressLineOne",
    "addressLineTwo",
    "addressLineThree",
    "city",
    "state",
    "country",
    "postalCode",
    "phoneCc",
    "phone",
    "languagePreference",
]


def ok(response: Any, message: str) -> Any:
    """The documented envelope of a success, returning its `data`."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["status", "message", "data"]
    assert body["status"] == 200
    assert body["message"] == message
    return body["data"]


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["data"] is None
    assert body["code"] == code
    return body


def names_of(client: TestClient, headers: dict[str, str]) -> list[str]:
    data = ok(client.get(f"{API}/v1/workspace/list", headers=headers), WORKSPACES_FETCHED)
    return [item["name"] for item in data]


def stored_billing(db: Database, workspace_id: uuid.UUID) -> Any:
    with db.transaction() as session:
        return session.get_one(Workspace, workspace_id).billing_details


WORKSPACES_FETCHED = "Workspaces fetched successfully"
