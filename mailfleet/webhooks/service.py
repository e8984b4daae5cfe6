"""Webhook endpoints of a workspace and their delivery log. The caller commits.

A signing secret is stored encrypted and shown only when it is set: at creation and rotation.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from mailfleet.auth.scoping import scoped
from mailfleet.config import Settings
from mailfleet.events import service as audit
from mailfleet.exceptions import Conflict, NotFound, Unprocessable
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.ids import uuid7
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from mailfleet.webhooks import addresses, outbox, signing, tasks

MAX_URL_LENGTH = 2048
UPDATABLE = ("url", "events", "enabled")


def _secret(secret: str | None) -> str:
    if secret is None:
        return signing.generate_secret()
    try:
        signing.secret_key(secret)
    except signing.InvalidSecret as exc:
        raise Unprocessable(
            f"The secret {exc}.", code="invalid_webhook_secret", field="secret"
        ) from exc
    return secret


def _url(settings: Settings, url: str) -> str:
    # The normalised form can outgrow what was sent (percent-encoding).
    if len(url) > MAX_URL_LENGTH:
        raise Unprocessable(
            f"The URL is longer than {MAX_URL_LENGTH} characters.",
            code="webhook_url_too_long",
            field="url",
        )
    if not settings.webhook_allow_private_addresses:
        try:
            addresses.check_host(urlsplit(url).hostname or "")
        except addresses.AddressRefused as exc:
            raise Unprocessable(str(exc), code="webhook_url_not_public", field="url") from exc
    return url


def _events(events: Sequence[str]) -> list[str]:
    return sorted({str(event) for event in events})


def _host(url: str) -> str:
    # The audit trail names the receiver's host only: URLs often carry a token of their own.
    return urlsplit(url).hostname or ""


def _view(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.events,
        "enabled": endpoint.enabled,
        "previous_secret_expires_at": endpoint.previous_secret_expires_at,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


def create(
    session: Session,
    settings: Settings,
    secrets: SecretBox,
    *,
    workspace_id: uuid.UUID,
    url: str,
    events: Sequence[str],
    secret: str | None,
    enabled: bool,
    actor: str,
) -> dict[str, Any]:
    """Register an endpoint; the result holds its secret, which nothing shows again."""
    signing_secret = _secret(secret)
    endpoint = WebhookEndpoint(
        workspace_id=workspace_id,
        url=_url(settings, url),
        events=_events(events),
        enabled=enabled,
        secret_enc=secrets.encrypt(signing_secret),
    )
    session.add(endpoint)
    session.flush()
    audit.record(
        session,
        workspace_id=workspace_id,
        type="webhook.created",
        subject_type="webhook",
        subject_id=endpoint.id,
        actor=actor,
        host=_host(endpoint.url),
        events=endpoint.events,
    )
    return {**_view(endpoint), "secret": signing_secret}


def list_endpoints(
    session: Session, *, workspace_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[Sequence[WebhookEndpoint], str | None]:
    statement = scoped(WebhookEndpoint, workspace_id)
    rows = session.scalars(paginate(statement, WebhookEndpoint.id, cursor, limit)).all()
    return split_page(rows, limit, lambda e: e.id)


def get_endpoint(
    session: Session, *, workspace_id: uuid.UUID, webhook_id: uuid.UUID, for_update: bool = False
) -> WebhookEndpoint:
    statement = scoped(WebhookEndpoint, workspace_id).where(WebhookEndpoint.id == webhook_id)
    if for_update:
        statement = statement.with_for_update()
    endpoint: WebhookEndpoint | None = session.scalars(statement).first()
    if endpoint is None:
        raise NotFound(f"Webhook {webhook_id} not found.", code="webhook_not_found")
    return endpoint


def update(
    session: Session,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    webhook_id: uuid.UUID,
    changes: dict[str, Any],
    actor: str,
) -> WebhookEndpoint:
    """Change url, events or enabled; fields not in `changes` keep their value."""
    endpoint = get_endpoint(
        session, workspace_id=workspace_id, webhook_id=webhook_id, for_update=True
    )
    for name in UPDATABLE:
        if name in changes and changes[name] is None:
            raise Unprocessable(
                f"{name} cannot be null; leave it out to keep it.", code="null_value", field=name
            )
    changed: list[str] = []
    if "url" in changes and str(changes["url"]) != endpoint.url:
        endpoint.url = _url(settings, str(changes["url"]))
        changed.append("url")
    if "events" in changes and _events(changes["events"]) != endpoint.events:
        endpoint.events = _events(changes["events"])
        changed.append("events")
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        endpoint.enabled = bool(changes["enabled"])
        if endpoint.enabled:
            # Start from now: what happened while disabled is not sent in a burst afterwards.
            endpoint.events_from = endpoint.event_cursor = uuid7()
        changed.append("enabled")
    if changed:
        endpoint.updated_at = clock.now()
        audit.record(
            session,
            workspace_id=workspace_id,
            type="webhook.updated",
            subject_type="webhook",
            subject_id=endpoint.id,
            actor=actor,
            changed=changed,
            host=_host(endpoint.url),
            events=endpoint.events,
            enabled=endpoint.enabled,
        )
        session.flush()
    return endpoint


def delete(
    session: Session, *, workspace_id: uuid.UUID, webhook_id: uuid.UUID, actor: str
) -> uuid.UUID:
    """Delete an endpoint and its delivery log; nothing more is sent to it."""
    endpoint = get_endpoint(
        session, workspace_id=workspace_id, webhook_id=webhook_id, for_update=True
    )
    audit.record(
        session,
        workspace_id=workspace_id,
        type="webhook.deleted",
        subject_type="webhook",
        subject_id=endpoint.id,
        actor=actor,
        host=_host(endpoint.url),
    )
    session.delete(endpoint)
    session.flush()
    return webhook_id


def rotate_secret(
    session: Session,
    settings: Settings,
    secrets: SecretBox,
    *,
    workspace_id: uuid.UUID,
    webhook_id: uuid.UUID,
    secret: str | None,
    actor: str,
) -> dict[str, Any]:
    """Replace the signing secret; the old one also signs for the rotation grace period."""
    endpoint = get_endpoint(
        session, workspace_id=workspace_id, webhook_id=webhook_id, for_update=True
    )
    signing_secret = _secret(secret)
    now = clock.now()
    endpoint.previous_secret_enc = endpoint.secret_enc
    endpoint.previous_secret_expires_at = now + timedelta(
        hours=settings.webhook_secret_rotation_hours
    )
    endpoint.secret_enc = secrets.encrypt(signing_secret)
    endpoint.updated_at = now
    audit.record(
        session,
        workspace_id=workspace_id,
        type="webhook.secret_rotated",
        subject_type="webhook",
        subject_id=endpoint.id,
        actor=actor,
    )
    session.flush()
    return {**_view(endpoint), "secret": signing_secret}


def list_deliveries(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    webhook_id: uuid.UUID,
    status: DeliveryStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[WebhookDelivery], str | None]:
    """The endpoint's delivery log, newest first."""
    endpoint = get_endpoint(session, workspace_id=workspace_id, webhook_id=webhook_id)
    statement = scoped(WebhookDelivery, workspace_id).where(
        WebhookDelivery.endpoint_id == endpoint.id
    )
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status)
    rows = session.scalars(paginate(statement, WebhookDelivery.id, cursor, limit)).all()
    return split_page(rows, limit, lambda d: d.id)


def _delivery(
    session: Session,
    workspace_id: uuid.UUID,
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> WebhookDelivery:
    statement = scoped(WebhookDelivery, workspace_id).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == webhook_id
    )
    if for_update:
        statement = statement.with_for_update()
    delivery: WebhookDelivery | None = session.scalars(statement).first()
    if delivery is None:
        raise NotFound(
            f"Delivery {delivery_id} of webhook {webhook_id} not found.",
            code="webhook_delivery_not_found",
        )
    return delivery


def get_delivery(
    session: Session, *, workspace_id: uuid.UUID, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    return _delivery(session, workspace_id, webhook_id, delivery_id)


def resend(
    session: Session,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    actor: str,
) -> WebhookDelivery:
    """One more attempt of a finished delivery, with the same webhook-id, sent at once."""
    endpoint = get_endpoint(session, workspace_id=workspace_id, webhook_id=webhook_id)
    delivery = _delivery(session, workspace_id, endpoint.id, delivery_id, for_update=True)
    if delivery.status == DeliveryStatus.PENDING:
        # Its attempts are still under way; a second sender would race the first.
        raise Conflict(
            "This delivery is still being attempted; wait for it to succeed or fail.",
            code="webhook_delivery_pending",
        )
    if not endpoint.enabled:
        raise Conflict(
            "The webhook is disabled; enable it before resending.", code="webhook_disabled"
        )
    now = clock.now()
    previous = delivery.status
    delivery.status = DeliveryStatus.PENDING
    # A resend is one attempt: if it fails, the delivery is FAILED again, not retried for hours.
    delivery.max_attempts = delivery.attempts + 1
    delivery.next_attempt_at = outbox.lease_until(settings, now)
    delivery.updated_at = now
    audit.record(
        session,
        workspace_id=workspace_id,
        type="webhook.delivery_resent",
        subject_type="webhook_delivery",
        subject_id=delivery.id,
        actor=actor,
        previous=previous.value,
    )
    session.flush()
    tasks.after_resend(session, delivery.id)
    return delivery
