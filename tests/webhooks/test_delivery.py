"""Webhook deliveries end to end: audit events in, signed POSTs to a real local receiver out.

Jobs run inline (`drain`) and time moves with `clock.advance`, so retries are deterministic.
Signatures are checked with the `standardwebhooks` reference library.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from standardwebhooks import Webhook

from mailfleet.db import Database
from mailfleet.events import service as events
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import Event, MailboxStatus, WebhookDelivery
from tests.factories import SMTP_ENDPOINTS, Caller, make_domain, make_mailbox, make_tenant
from tests.support.jobs import drain, runtime_of
from tests.webhooks.receiver import Received, receiver

# The receivers listen on loopback, which webhooks reach only with this setting (the default,
# refusing them, is tested in test_addresses.py).
LOOPBACK_ALLOWED = {"webhook_allow_private_addresses": True}


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(**LOOPBACK_ALLOWED)


def tick(client: TestClient, seconds: float = 0) -> None:
    """Let time pass, then do what the worker does on its own: sweep and run what is due."""
    clock.advance(seconds)
    runtime = runtime_of(client)
    sweep(runtime)
    drain(runtime)


def register(
    client: TestClient, caller: Caller, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    response = client.post(
        "/v1/webhooks",
        json={"url": url, "events": events or ["domain.status_changed"]},
        headers=caller.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def fail_domain(client: TestClient, operator: Caller, domain_id: uuid.UUID) -> None:
    response = client.post(
        f"/v1/operator/domains/{domain_id}/status",
        json={"status": "FAILED", "reason": "registrar said no"},
        headers=operator.headers,
    )
    assert response.status_code == 200, response.text


def log(client: TestClient, caller: Caller, webhook_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=caller.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def verify(secret: str, request: Received) -> Any:
    return Webhook(secret).verify(request.body, request.headers)


def test_a_failing_receiver_gets_the_event_again_with_the_same_id_until_it_succeeds(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db, operator=True)
    domain = make_domain(db, owner.workspace_id)
    with receiver(script=[500, 500]) as hook:
        webhook = register(client, owner, hook.url)
        fail_domain(client, owner, domain.id)

        tick(client)
        assert len(hook.received) == 1
        [entry] = log(client, owner, webhook["id"])
        assert entry["status"] == "PENDING"
        assert entry["attempts"] == 1
        assert entry["last_response_status"] == 500
        assert entry["last_error"] == "HTTP 500: receiver says no"
        assert entry["next_attempt_at"] is not None

        tick(client)  # the first retry is not due yet
        assert len(hook.received) == 1
        tick(client, 5)
        assert len(hook.received) == 2
        tick(client, 29)
        assert len(hook.received) == 2
        tick(client, 1)
        assert len(hook.received) == 3
        tick(client, 3600)
        assert len(hook.received) == 3

    [entry] = log(client, owner, webhook["id"])
    assert entry["status"] == "SUCCEEDED"
    assert entry["attempts"] == 3
    assert entry["last_response_status"] == 200
    assert entry["last_error"] is None
    assert entry["next_attempt_at"] is None

    ids = {request.headers["webhook-id"] for request in hook.received}
    assert ids == {entry["id"]}
    assert len({request.headers["webhook-timestamp"] for request in hook.received}) == 3
    for request in hook.received:
        payload = verify(webhook["secret"], request)
        assert request.headers["content-type"] == "application/json"
        assert payload["type"] == "domain.status_changed"
        assert payload["data"]["domain_id"] == str(domain.id)
        assert payload["data"]["workspace_id"] == str(owner.workspace_id)
        assert payload["data"]["previous"] == "ACTIVE"
        assert payload["data"]["status"] == "FAILED"
        assert payload["data"]["reason"] == "registrar said no"
        assert payload["timestamp"].endswith("Z")
        assert payload == entry["payload"]


def test_an_unsubscribed_event_type_or_another_workspace_is_not_sent(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db, operator=True)
    other = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    with receiver() as hook:
        orders_only = register(client, owner, hook.url, ["order.status_changed"])
        elsewhere = register(client, other, hook.url)
        fail_domain(client, owner, domain.id)
        tick(client)
        tick(client, 60)
    assert hook.received == []
    assert log(client, owner, orders_only["id"]) == []
    assert log(client, other, elsewhere["id"]) == []


def test_payloads_never_carry_passwords(db: Database, client: TestClient) -> None:
    owner = make_tenant(db, operator=True)
    domain = make_domain(db, owner.workspace_id)
    mailbox_id = make_mailbox(db, domain, status=MailboxStatus.PROVISIONING)
    with receiver() as hook:
        webhook = register(client, owner, hook.url, ["mailbox.status_changed"])
        completed = client.post(
            f"/v1/operator/mailboxes/{mailbox_id}/complete",
            json={"password": "Hunter2-operator!", **SMTP_ENDPOINTS, "totp_secret": "JBSWY3DP"},
            headers=owner.headers,
        )
        assert completed.status_code == 200, completed.text
        # A transition that (wrongly) put secrets in its event data: they must still not leave.
        with db.transaction() as session:
            events.record(
                session,
                workspace_id=owner.workspace_id,
                type="mailbox.status_changed",
                subject_type="mailbox",
                subject_id=mailbox_id,
                actor="test",
                previous="ACTIVE",
                status="SUSPENDED",
                password="Hunter2-event!",
                app_password="Hunter2-app!",
                credentials={"smtp": {"user": "box", "Password": "Hunter2-nested!"}},
                details=[{"api_key": "Hunter2-key!", "ok": True}],
            )
        tick(client)

    assert len(hook.received) == 2
    for request in hook.received:
        assert b"Hunter2" not in request.body
        assert b"JBSWY3DP" not in request.body
        assert verify(webhook["secret"], request)["data"]["mailbox_id"] == str(mailbox_id)
    statuses = sorted(request.json["data"]["status"] for request in hook.received)
    assert statuses == ["ACTIVE", "SUSPENDED"]
    suspended = next(r.json for r in hook.received if r.json["data"]["status"] == "SUSPENDED")
    assert suspended["data"]["details"] == [{"ok": True}]
    assert "Hunter2" not in str(log(client, owner, webhook["id"]))


def test_an_order_status_change_is_delivered(db: Database, client: TestClient) -> None:
    owner = make_tenant(db, operator=True)
    with receiver() as hook:
        webhook = register(client, owner, hook.url, ["order.status_changed"])
        with db.transaction() as session:
            events.record(
                session,
                workspace_id=owner.workspace_id,
                type="order.status_changed",
                subject_type="mailbox_order",
                subject_id=uuid.UUID(int=7),
                actor="test",
                previous="PENDING",
                status="IN_PROGRESS",
            )
        tick(client)
    [request] = hook.received
    payload = verify(webhook["secret"], request)
    assert payload["type"] == "order.status_changed"
    assert payload["data"]["order_id"] == str(uuid.UUID(int=7))
    assert payload["data"]["status"] == "IN_PROGRESS"


def test_resend_makes_one_more_attempt_with_the_same_webhook_id(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db, operator=True)
    domain = make_domain(db, owner.workspace_id)
    with receiver(script=[200, 503]) as hook:
        webhook = register(client, owner, hook.url)
        fail_domain(client, owner, domain.id)
        tick(client)
        [entry] = log(client, owner, webhook["id"])
        assert entry["status"] == "SUCCEEDED"
        path = f"/v1/webhooks/{webhook['id']}/deliveries/{entry['id']}/resend"

        resent = client.post(path, headers=owner.headers)
        assert resent.status_code == 202, resent.text
        assert resent.json()["status"] == "PENDING"
        again = client.post(path, headers=owner.headers)
        assert again.status_code == 409
        assert again.json()["code"] == "webhook_delivery_pending"

        drain(runtime_of(client))  # the resend goes out at once, without waiting for a sweep
        assert len(hook.received) == 2
        [entry] = log(client, owner, webhook["id"])
        # A failed resend is final: no retry schedule behind it.
        assert (entry["status"], entry["attempts"], entry["last_response_status"]) == (
            "FAILED",
            2,
            503,
        )
        # Well past the retry step; kept short because receivers (and `verify`) refuse
        # timestamps more than five minutes off the wall clock.
        tick(client, 120)
        assert len(hook.received) == 2

        assert client.post(path, headers=owner.headers).status_code == 202
        drain(runtime_of(client))
    assert len(hook.received) == 3
    assert {r.headers["webhook-id"] for r in hook.received} == {entry["id"]}
    assert [verify(webhook["secret"], r) for r in hook.received] == [entry["payload"]] * 3
    [entry] = log(client, owner, webhook["id"])
    assert (entry["status"], entry["attempts"]) == ("SUCCEEDED", 3)

    missing = client.post(
        f"/v1/webhooks/{webhook['id']}/deliveries/{uuid.uuid4()}/resend", headers=owner.headers
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "webhook_delivery_not_found"


def test_a_delivery_fails_after_the_last_attempt(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(webhook_max_attempts=3, webhook_retry_backoff=[5, 30], **LOOPBACK_ALLOWED)
    owner = make_tenant(db, operator=True)
    domain = make_domain(db, owner.workspace_id)
    with receiver(default=500) as hook:
        webhook = register(client, owner, hook.url)
        fail_domain(client, owner, domain.id)
        for seconds in (0, 5, 30, 30, 3600):
            tick(client, seconds)
    assert len(hook.received) == 3
    [entry] = log(client, owner, webhook["id"])
    assert (entry["status"], entry["attempts"], entry["next_attempt_at"]) == ("FAILED", 3, None)
    failed = client.get(
        f"/v1/webhooks/{webhook['id']}/deliveries",
        params={"status": "FAILED"},
        headers=owner.headers,
    )
    assert [d["id"] for d in failed.json()["items"]] == [entry["id"]]


def test_an_unreachable_receiver_is_retried_with_the_error_logged(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db, operator=True)
    domain = make_domain(db, owner.workspace_id)
    with receiver() as closed:
        url = closed.url
    webhook = register(client, owner, url)  # nothing listens there any more
    fail_domain(client, owner, domain.id)
    tick(client)
    [entry] = log(client, owner, webhook["id"])
    assert (entry["status"], entry["attempts"]) == ("PENDING", 1)
    assert entry["last_response_status"] is None
    assert entry["last_error"].startswith("ConnectError")


def test_each_event_is_delivered_once_per_endpoint(db: Database, client: TestClient) -> None:
    owner = make_tenant(db, operator=True)
    domain = make_domain(db, owner.workspace_id)
    with receiver() as first, receiver() as second:
        one = register(client, owner, first.url)
        two = register(client, owner, second.url)
        fail_domain(client, owner, domain.id)
        runtime = runtime_of(client)
        for _ in range(3):
            sweep(runtime)
        drain(runtime)
        tick(client, 3600)
    assert (len(first.received), len(second.received)) == (1, 1)
    [a], [b] = log(client, owner, one["id"]), log(client, owner, two["id"])
    assert a["event_id"] == b["event_id"]
    assert a["id"] != b["id"]


def test_an_event_committed_after_the_sweep_passed_its_id_is_still_delivered(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    with receiver() as hook:
        register(client, owner, hook.url)
        # The id is taken now, the transaction commits only after a sweep moved the cursor on.
        late_id = uuid7()
        tick(client)
        with db.transaction() as session:
            session.add(
                Event(
                    id=late_id,
                    workspace_id=owner.workspace_id,
                    type="domain.status_changed",
                    subject_type="domain",
                    subject_id=uuid.UUID(int=1),
                    actor="test",
                    data={"previous": "PENDING_NS", "status": "ACTIVE"},
                )
            )
        tick(client)
    [request] = hook.received
    assert request.json["data"]["event_id"] == str(late_id)


def test_events_before_registration_or_while_disabled_are_not_sent(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db, operator=True)
    first, second, third = (make_domain(db, owner.workspace_id) for _ in range(3))
    with receiver() as hook:
        fail_domain(client, owner, first.id)
        webhook = register(client, owner, hook.url)
        path = f"/v1/webhooks/{webhook['id']}"
        client.patch(path, json={"enabled": False}, headers=owner.headers)
        fail_domain(client, owner, second.id)
        tick(client)
        client.patch(path, json={"enabled": True}, headers=owner.headers)
        fail_domain(client, owner, third.id)
        tick(client)
    assert [r.json["data"]["domain_id"] for r in hook.received] == [str(third.id)]


def test_a_rotated_secret_signs_alongside_the_old_one(db: Database, client: TestClient) -> None:
    owner = make_tenant(db, operator=True)
    domain = make_domain(db, owner.workspace_id)
    with receiver() as hook:
        webhook = register(client, owner, hook.url)
        rotated = client.post(
            f"/v1/webhooks/{webhook['id']}/rotate-secret", json={}, headers=owner.headers
        ).json()
        fail_domain(client, owner, domain.id)
        tick(client)
    [request] = hook.received
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verify(rotated["secret"], request) == verify(webhook["secret"], request)


def test_deliveries_are_rows_not_lost_when_the_queue_loses_the_job(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db, operator=True)
    domains = [make_domain(db, owner.workspace_id) for _ in range(3)]
    with receiver() as hook:
        register(client, owner, hook.url)
        for domain in domains:
            fail_domain(client, owner, domain.id)
        runtime = runtime_of(client)
        sweep(runtime)
        runtime.huey.flush()  # the queue loses every job the sweep handed out
        tick(client)
        assert hook.received == []
        tick(client, db.settings.job_lease_seconds)
    assert len(hook.received) == 3
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 3


def test_each_attempt_is_logged_in_one_line_without_secrets_or_body(
    db: Database, make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(webhook_retry_backoff=[5], **LOOPBACK_ALLOWED)
    owner = make_tenant(db, operator=True)
    domain = make_domain(db, owner.workspace_id)
    with receiver(script=[500]) as hook:
        webhook = register(client, owner, hook.url + "?token=receiver-secret")
        fail_domain(client, owner, domain.id)
        with caplog.at_level(logging.INFO, logger="mailfleet"):
            tick(client)
            tick(client, 5)
    lines = [r for r in caplog.records if r.getMessage().startswith("webhook delivery")]
    assert [r.levelno for r in lines] == [logging.INFO, logging.INFO]
    [delivery] = log(client, owner, webhook["id"])
    for record, outcome in zip(lines, ("HTTP 500", "HTTP 200"), strict=True):
        message = record.getMessage()
        assert message.startswith(f"webhook delivery {delivery['id']} to endpoint {webhook['id']}")
        assert "domain.status_changed" in message
        assert f"domain_id={domain.id}" in message
        assert message.endswith(outcome)
    text = caplog.text
    assert webhook["secret"] not in text
    assert "receiver-secret" not in text
    assert "registrar said no" not in text  # the event's data, in the payload body
    assert "receiver says no" not in text  # the failing receiver's answer


def test_an_attempt_that_cannot_connect_is_logged_with_the_error(
    db: Database, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    owner = make_tenant(db, operator=True)
    domain = make_domain(db, owner.workspace_id)
    with receiver() as closed:
        url = closed.url
    register(client, owner, url)
    fail_domain(client, owner, domain.id)
    with caplog.at_level(logging.INFO, logger="mailfleet"):
        tick(client)
    [line] = [r for r in caplog.records if r.getMessage().startswith("webhook delivery")]
    assert ": failed: ConnectError" in line.getMessage()
