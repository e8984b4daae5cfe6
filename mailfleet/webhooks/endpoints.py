"""Webhook endpoints (ADMIN manages, VIEWER reads) and their delivery log."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from mailfleet.auth.dependencies import Admin, Viewer
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Deleted, Page
from mailfleet.models import DeliveryStatus, Role
from mailfleet.webhooks import schemas
from mailfleet.webhooks import service as webhook_service

router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhooks",
    status_code=201,
    response_model=schemas.WebhookWithSecret,
    openapi_extra=errors(
        "invalid_webhook_secret", "webhook_url_too_long", "webhook_url_not_public"
    ),
)
def create_webhook(body: schemas.WebhookCreate, ctx: Admin) -> Response:
    """Register an endpoint; its signing secret is shown only in this answer."""
    created = webhook_service.create(
        ctx.session,
        ctx.settings,
        ctx.secrets,
        workspace_id=ctx.workspace(Role.ADMIN),
        url=str(body.url),
        events=body.events,
        secret=body.secret,
        enabled=body.enabled,
        actor=ctx.actor,
    )
    return render(schemas.WebhookWithSecret, created, status=201, secret=True)


@router.get("/webhooks", response_model=Page[schemas.Webhook])
def list_webhooks(ctx: Viewer, cursor: CursorParam = None, limit: Limit = 50) -> Response:
    """List endpoints, newest first (never their secrets)."""
    rows, next_cursor = webhook_service.list_endpoints(
        ctx.session, workspace_id=ctx.workspace(), cursor=cursor, limit=limit
    )
    return render_page(schemas.Webhook, rows, next_cursor)


@router.get(
    "/webhooks/{webhook_id}",
    response_model=schemas.Webhook,
    openapi_extra=errors("webhook_not_found"),
)
def get_webhook(webhook_id: uuid.UUID, ctx: Viewer) -> Response:
    """Get one endpoint."""
    endpoint = webhook_service.get_endpoint(
        ctx.session, workspace_id=ctx.workspace(), webhook_id=webhook_id
    )
    return render(schemas.Webhook, endpoint)


@router.patch(
    "/webhooks/{webhook_id}",
    response_model=schemas.Webhook,
    openapi_extra=errors(
        "webhook_not_found", "null_value", "webhook_url_too_long", "webhook_url_not_public"
    ),
)
def update_webhook(webhook_id: uuid.UUID, body: schemas.WebhookUpdate, ctx: Admin) -> Response:
    """Change the URL, the events or whether the endpoint is enabled."""
    changes = body.model_dump(exclude_unset=True)
    endpoint = webhook_service.update(
        ctx.session,
        ctx.settings,
        workspace_id=ctx.workspace(Role.ADMIN),
        webhook_id=webhook_id,
        changes=changes,
        actor=ctx.actor,
    )
    return render(schemas.Webhook, endpoint)


@router.delete(
    "/webhooks/{webhook_id}", response_model=Deleted, openapi_extra=errors("webhook_not_found")
)
def delete_webhook(webhook_id: uuid.UUID, ctx: Admin) -> Response:
    """Delete an endpoint and its delivery log."""
    deleted = webhook_service.delete(
        ctx.session, workspace_id=ctx.workspace(Role.ADMIN), webhook_id=webhook_id, actor=ctx.actor
    )
    return render(Deleted, {"id": deleted})


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    response_model=schemas.WebhookWithSecret,
    openapi_extra=errors("webhook_not_found", "invalid_webhook_secret"),
)
def rotate_webhook_secret(
    webhook_id: uuid.UUID, ctx: Admin, body: schemas.SecretRotate | None = None
) -> Response:
    """Set a new signing secret (given or generated), shown only in this answer.

    The old secret keeps signing alongside the new one for the rotation grace period.
    """
    rotated = webhook_service.rotate_secret(
        ctx.session,
        ctx.settings,
        ctx.secrets,
        workspace_id=ctx.workspace(Role.ADMIN),
        webhook_id=webhook_id,
        secret=body.secret if body else None,
        actor=ctx.actor,
    )
    return render(schemas.WebhookWithSecret, rotated, secret=True)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=Page[schemas.Delivery],
    openapi_extra=errors("webhook_not_found"),
)
def list_deliveries(
    webhook_id: uuid.UUID,
    ctx: Viewer,
    cursor: CursorParam = None,
    limit: Limit = 50,
    status: DeliveryStatus | None = None,
) -> Response:
    """The endpoint's delivery log, newest first: status, attempts, last answer, next attempt."""
    rows, next_cursor = webhook_service.list_deliveries(
        ctx.session,
        workspace_id=ctx.workspace(),
        webhook_id=webhook_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return render_page(schemas.Delivery, rows, next_cursor)


@router.get(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}",
    response_model=schemas.Delivery,
    openapi_extra=errors("webhook_not_found", "webhook_delivery_not_found"),
)
def get_delivery(webhook_id: uuid.UUID, delivery_id: uuid.UUID, ctx: Viewer) -> Response:
    """One delivery and its payload."""
    delivery = webhook_service.get_delivery(
        ctx.session, workspace_id=ctx.workspace(), webhook_id=webhook_id, delivery_id=delivery_id
    )
    return render(schemas.Delivery, delivery)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
    status_code=202,
    response_model=schemas.Delivery,
    openapi_extra=errors(
        "webhook_not_found",
        "webhook_delivery_not_found",
        "webhook_delivery_pending",
        "webhook_disabled",
    ),
)
def resend_delivery(webhook_id: uuid.UUID, delivery_id: uuid.UUID, ctx: Admin) -> Response:
    """Send a finished (SUCCEEDED or FAILED) delivery once more, with the same webhook-id."""
    delivery = webhook_service.resend(
        ctx.session,
        ctx.settings,
        workspace_id=ctx.workspace(Role.ADMIN),
        webhook_id=webhook_id,
        delivery_id=delivery_id,
        actor=ctx.actor,
    )
    return render(schemas.Delivery, delivery, status=202)
