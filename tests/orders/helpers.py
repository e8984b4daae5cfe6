"""Shared helpers of the order tests."""

from __future__ import annotations

import httpx

from mailfleet.db import Database
from mailfleet.models import MailboxType
from tests.factories import Caller, give_slots, make_tenant

ORDERS = "/v1/mailbox-orders"
DAY = 24 * 3600


def tenant(
    db: Database, mailbox_type: MailboxType = MailboxType.GOOGLE, slots: int = 100
) -> Caller:
    caller = make_tenant(db)
    give_slots(db, caller.workspace_id, mailbox_type, slots)
    return caller


def assert_refused(
    db: Database, response: httpx.Response, status: int, code: str, field: str | None = None
) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    if field is not None:
        assert body["field"] == field
