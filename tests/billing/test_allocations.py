"""Allocations: operators set how many mailboxes of a type a workspace may hold."""

from __future__ import annotations

import threading
import time
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.billing import service as billing_service
from mailfleet.db import Database
from mailfleet.models import Allocation, Event, MailboxType
from tests.factories import count_rows, make_tenant


def test_set_allocation(db: Database, client: TestClient) -> None:
    operator, customer = make_tenant(db, operator=True), make_tenant(db)
    path = f"/v1/operator/workspaces/{customer.workspace_id}/allocations/SMTP"
    response = client.put(path, json={"slots": 12}, headers=operator.headers)
    assert response.status_code == 200, response.text
    assert response.json()["slots"] == 12
    assert response.json()["type"] == "SMTP"
    assert client.put(path, json={"slots": 3}, headers=operator.headers).json()["slots"] == 3
    assert client.put(path, json={"slots": -1}, headers=operator.headers).status_code == 422
    unknown = f"/v1/operator/workspaces/{uuid.uuid4()}/allocations/SMTP"
    assert client.put(unknown, json={"slots": 1}, headers=operator.headers).status_code == 404


def test_two_operators_setting_a_first_allocation_at_once_both_succeed(db: Database) -> None:
    customer = make_tenant(db)

    def set_slots(session: Session, slots: int) -> None:
        billing_service.set_allocation(
            session,
            workspace_id=customer.workspace_id,
            mailbox_type=MailboxType.SMTP,
            slots=slots,
            actor="operator",
        )

    second: list[BaseException] = []

    def second_operator() -> None:
        try:
            with db.transaction() as session:
                set_slots(session, 7)
        except BaseException as exc:  # reported below, in the test's thread
            second.append(exc)

    with db.transaction() as session:
        set_slots(session, 5)  # inserted, not yet committed
        racer = threading.Thread(target=second_operator)
        racer.start()
        time.sleep(0.3)  # the second one now waits on the first's row
    racer.join(10)
    assert second == []
    assert count_rows(db, Allocation, workspace_id=customer.workspace_id) == 1
    with db.transaction() as session:
        allocation = session.scalars(select(Allocation)).one()
        assert allocation.slots == 7
        changes = session.scalars(
            select(Event).where(Event.type == "allocation.changed").order_by(Event.id)
        ).all()
        assert [(e.data["previous"], e.data["slots"]) for e in changes] == [(0, 5), (5, 7)]
