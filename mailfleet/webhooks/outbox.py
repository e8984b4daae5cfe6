"""The webhook outbox: audit events in, one delivery per subscribed endpoint out, then attempts.

The audit events every state transition writes are the outbox: nothing on the write path has to
remember webhooks, so no transition can forget one. The sweep scans each enabled endpoint's
workspace for events of its types and inserts a delivery per event; the unique key (endpoint,
event) makes that exactly once however often, and however concurrently, the sweep runs. The
endpoint's `event_cursor` only bounds the scan: it starts a grace period before the cursor,
because event ids are taken before their transaction commits and a slow one can commit an id
older than the cursor.

Deliveries are worked on like domains in `domains.lifecycle`: a job holds one while its
`next_attempt_at` is pushed forward by a lease, so a lost job's deliveries come back to the sweep.
Every function here takes a session and never commits; `webhooks.tasks` owns the transactions
and makes the HTTP calls between them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.db import insert_ignoring_duplicates
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.ids import uuid7
from mailfleet.models import (
    DeliveryStatus,
    Event,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)

# The audit event types behind each public webhook event. Today every transition already records
# its event under the public name; a renamed or additional internal type is mapped here.
PUBLIC_EVENTS: dict[str, WebhookEventType] = {
    "domain.status_changed": WebhookEventType.DOMAIN_STATUS_CHANGED,
    "order.status_changed": WebhookEventType.ORDER_STATUS_CHANGED,
    "mailbox.status_changed": WebhookEventType.MAILBOX_STATUS_CHANGED,
    "subscription.status_changed": WebhookEventType.SUBSCRIPTION_STATUS_CHANGED,
    "wallet.credited": WebhookEventType.WALLET_CREDITED,
    "wallet.debited": WebhookEventType.WALLET_DEBITED,
    "payment.succeeded": WebhookEventType.PAYMENT_SUCCEEDED,
    "payment.failed": WebhookEventType.PAYMENT_FAILED,
    "invoice.created": WebhookEventType.INVOICE_CREATED,
    "domain_purchase.status_changed": WebhookEventType.DOMAIN_PURCHASE_STATUS_CHANGED,
    "export.completed": WebhookEventType.EXPORT_COMPLETED,
    "domain.blacklisted": WebhookEventType.DOMAIN_BLACKLISTED,
    "domain.delisted": WebhookEventType.DOMAIN_DELISTED,
    "quick_setup.status_changed": WebhookEventType.QUICK_SETUP_STATUS_CHANGED,
    "domain_swap.status_changed": WebhookEventType.DOMAIN_SWAP_STATUS_CHANGED,
}

# How a payload names the event's subject.
SUBJECT_KEYS = {
    "domain": "domain_id",
    "mailbox_order": "order_id",
    "mailbox": "mailbox_id",
    "subscription": "subscription_id",
    "wallet": "wallet_id",
    "payment": "payment_id",
    "invoice": "invoice_id",
    "quick_setup": "quick_setup_id",
    "domain_swap": "domain_swap_id",
}

# Keys that never leave Mailfleet, at any depth of an event's data, whatever a future transition
# records: payloads go to third-party URLs and into their logs.
SECRET_KEY_PARTS = ("password", "secret", "token", "totp", "credential", "api_key", "private_key")


def internal_types(public: Sequence[str]) -> list[str]:
    wanted = set(public)
    return sorted(internal for internal, name in PUBLIC_EVENTS.items() if name.value in wanted)


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(part in lowered for part in SECRET_KEY_PARTS)


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if not _is_secret(str(k))}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def payload_of(event: Any) -> dict[str, Any]:
    """The Standard Webhooks payload of an event row: ids and statuses, never secrets."""
    ids: dict[str, Any] = {"event_id": str(event.id), "workspace_id": str(event.workspace_id)}
    if event.subject_id is not None:
        key = SUBJECT_KEYS.get(event.subject_type, f"{event.subject_type}_id")
        ids[key] = str(event.subject_id)
    details = redact(event.data or {})
    data = {**ids, **{k: v for k, v in details.items() if k not in ids}}
    return {
        "type": PUBLIC_EVENTS[event.type].value,
        "timestamp": _timestamp(event.created_at),
        "data": data,
    }


def lease_until(settings: Settings, now: datetime) -> datetime:
    return now + timedelta(seconds=settings.job_lease_seconds)


def _id_floor(cursor: uuid.UUID, grace_seconds: int) -> uuid.UUID:
    """The smallest time-ordered id minted `grace_seconds` before `cursor` was."""
    millis = (cursor.int >> 80) - grace_seconds * 1000
    return uuid.UUID(int=max(millis, 0) << 80)


def fan_out(session: Session, settings: Settings, *, limit: int) -> list[uuid.UUID]:
    """Create the deliveries of new events, up to about `limit`; returns their ids, claimed.

    Endpoints left out once the limit is reached keep their cursor and are served next time.
    """
    scan_mark = uuid7()
    now = clock.now()
    endpoints = session.execute(
        select(
            WebhookEndpoint.id,
            WebhookEndpoint.workspace_id,
            WebhookEndpoint.events,
            WebhookEndpoint.event_cursor,
            WebhookEndpoint.events_from,
        )
        .where(WebhookEndpoint.enabled.is_(True))
        .order_by(WebhookEndpoint.id)
        .with_for_update(skip_locked=True)
    ).all()
    created: list[uuid.UUID] = []
    caught_up: list[uuid.UUID] = []
    for endpoint_id, workspace_id, public, cursor, events_from in endpoints:
        room = limit - len(created)
        if room <= 0:
            break
        types = internal_types(public)
        if not types:
            caught_up.append(endpoint_id)
            continue
        floor = max(events_from, _id_floor(cursor, settings.webhook_outbox_grace_seconds))
        delivered = exists().where(
            WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.event_id == Event.id
        )
        events = session.execute(
            select(
                Event.id,
                Event.workspace_id,
                Event.type,
                Event.subject_type,
                Event.subject_id,
                Event.data,
                Event.created_at,
            )
            .where(
                Event.workspace_id == workspace_id,
                Event.id > floor,
                Event.type.in_(types),
                ~delivered,
            )
            .order_by(Event.id)
            .limit(room)
        ).all()
        rows = [
            {
                "id": uuid7(),
                "created_at": now,
                "updated_at": now,
                "workspace_id": workspace_id,
                "endpoint_id": endpoint_id,
                "event_id": event.id,
                "event_type": PUBLIC_EVENTS[event.type].value,
                "payload": payload_of(event),
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "max_attempts": settings.webhook_max_attempts,
                # Claimed at birth: the sweep enqueues the first attempt right after commit.
                "next_attempt_at": lease_until(settings, now),
            }
            for event in events
        ]
        if rows:
            # A concurrent sweep may have inserted some of these since we looked; theirs stand.
            insert_ignoring_duplicates(
                session, WebhookDelivery, rows, unique=["endpoint_id", "event_id"]
            )
            created.extend(row["id"] for row in rows)
        if len(rows) < room:
            caught_up.append(endpoint_id)
    if caught_up:
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(caught_up))
            # The cursor is bookkeeping, not a change a user made.
            .values(event_cursor=scan_mark, updated_at=WebhookEndpoint.updated_at)
            .execution_options(synchronize_session=False)
        )
    return created


def claim_due(session: Session, settings: Settings, *, limit: int) -> list[uuid.UUID]:
    """Take up to `limit` deliveries whose next attempt is due, for one job."""
    now = clock.now()
    ids = list(
        session.scalars(
            select(WebhookDelivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
                # A disabled endpoint's deliveries wait for it to be enabled again.
                WebhookEndpoint.enabled.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
    )
    if ids:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(next_attempt_at=lease_until(settings, now))
            .execution_options(synchronize_session=False)
        )
    return ids


@dataclass(frozen=True)
class Attempt:
    delivery_id: uuid.UUID
    url: str
    body: bytes
    # The current secret, then the previous one while a rotation is in its grace period.
    secrets: tuple[str, ...]
    # For the log line of the attempt: which endpoint, which event, about what.
    endpoint_id: uuid.UUID
    event_type: str
    subject: str

    @property
    def message_id(self) -> str:
        # The same on every attempt and every resend, so receivers can drop repeats.
        return str(self.delivery_id)


def attempts_for(session: Session, box: SecretBox, ids: Sequence[uuid.UUID]) -> list[Attempt]:
    """What to send for these deliveries, skipping those no longer pending or whose endpoint is
    disabled or gone."""
    now = clock.now()
    rows = session.execute(
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.id.in_(ids),
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookEndpoint.enabled.is_(True),
        )
        .order_by(WebhookDelivery.id)
    ).all()
    attempts = []
    for delivery, endpoint in rows:
        secrets = [box.decrypt(endpoint.secret_enc)]
        expires = endpoint.previous_secret_expires_at
        if endpoint.previous_secret_enc and expires is not None and expires > now:
            secrets.append(box.decrypt(endpoint.previous_secret_enc))
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        attempts.append(
            Attempt(
                delivery.id,
                endpoint.url,
                body,
                tuple(secrets),
                endpoint.id,
                str(delivery.event_type),
                _subject(delivery.payload),
            )
        )
    return attempts


def _subject(payload: dict[str, Any]) -> str:
    """`domain_id=...` (or the order's, the mailbox's): what the event is about, for the log."""
    data = payload.get("data") or {}
    for key in SUBJECT_KEYS.values():
        if key in data:
            return f"{key}={data[key]}"
    return "no subject"


def backoff(settings: Settings, failures: int) -> timedelta:
    steps = settings.webhook_retry_backoff or [3600]
    return timedelta(seconds=steps[min(max(failures - 1, 0), len(steps) - 1)])


def record_attempt(
    session: Session,
    settings: Settings,
    delivery_id: uuid.UUID,
    *,
    response_status: int | None,
    error: str | None,
) -> WebhookDelivery | None:
    """Note one attempt's outcome: SUCCEEDED on a 2xx, else a retry later or FAILED at last."""
    delivery = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    ).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return None
    now = clock.now()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_response_status = response_status
    delivery.last_error = error[:1000] if error else None
    delivery.updated_at = now
    if error is None:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.next_attempt_at = None
    elif delivery.attempts >= delivery.max_attempts:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + backoff(settings, delivery.attempts)
    return delivery
