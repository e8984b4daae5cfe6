"""The webhooks page: the workspace's endpoints (URL, events, enabled, created; never the
signing secret, except once on the answer page of its creation), registering one, disabling,
enabling or deleting one, and per endpoint its delivery log with "Resend".

Everything goes through the services of `/v1/webhooks` (webhooks.service) with its roles:
the writes need ADMIN, as there, so the same rules (public URLs only, a pending delivery is
not resent) and the same audit events hold. Any member sees the lists.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import ValidationError
from starlette.responses import Response

from mailfleet.auth.dependencies import RequestContext, Viewer
from mailfleet.console.web import PREFIX, PostedForm, page, redirect
from mailfleet.exceptions import MailfleetError, NotFound
from mailfleet.models import DeliveryStatus, Role, WebhookEventType
from mailfleet.webhooks import schemas as webhook_schemas
from mailfleet.webhooks import service as webhook_service

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100
Cursor = Annotated[str | None, Query(max_length=512)]
# A form's fields are one value per name: each event's checkbox has a name of its own.
EVENT_FIELD = "event:"


def _can_admin(ctx: RequestContext) -> bool:
    return ctx.role is not None and ctx.role.at_least(Role.ADMIN)


def _webhooks_page(
    ctx: RequestContext, status: int = 200, cursor: str | None = None, **values: Any
) -> Response:
    endpoints, next_cursor = webhook_service.list_endpoints(
        ctx.session, workspace_id=ctx.workspace(), cursor=cursor, limit=PAGE_SIZE
    )
    shown: dict[str, Any] = {"created": None, "error": None, "entered_url": "", "entered": []}
    shown.update(values)
    return page(
        ctx,
        "webhooks.html",
        status,
        endpoints=endpoints,
        next_cursor=next_cursor,
        event_types=list(WebhookEventType),
        event_field=EVENT_FIELD,
        can_admin=_can_admin(ctx),
        **shown,
    )


def _endpoint_page(
    ctx: RequestContext,
    webhook_id: uuid.UUID,
    status: int = 200,
    cursor: str | None = None,
    **values: Any,
) -> Response:
    workspace_id = ctx.workspace()
    endpoint = webhook_service.get_endpoint(
        ctx.session, workspace_id=workspace_id, webhook_id=webhook_id
    )
    deliveries, next_cursor = webhook_service.list_deliveries(
        ctx.session,
        workspace_id=workspace_id,
        webhook_id=endpoint.id,
        status=None,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    return page(
        ctx,
        "webhooks_endpoint.html",
        status,
        endpoint=endpoint,
        deliveries=deliveries,
        next_cursor=next_cursor,
        pending=DeliveryStatus.PENDING,
        can_admin=_can_admin(ctx),
        error=values.get("error"),
        rotated=values.get("rotated"),
        grace_hours=ctx.settings.webhook_secret_rotation_hours,
    )


@router.get("/webhooks")
def webhooks(ctx: Viewer, cursor: Cursor = None) -> Response:
    return _webhooks_page(ctx, cursor=cursor)


@router.post("/webhooks")
def create(form: PostedForm) -> Response:
    """Registers an endpoint as POST /v1/webhooks does (its schema, then the service, with a
    generated secret); the answer page is the only place the secret ever appears."""
    ctx = form.ctx
    workspace_id = ctx.workspace(Role.ADMIN)
    url = form.field("url")
    events = [e.value for e in WebhookEventType if form.field(f"{EVENT_FIELD}{e.value}")]
    try:
        body = webhook_schemas.WebhookCreate.model_validate({"url": url, "events": events})
        created = webhook_service.create(
            ctx.session,
            ctx.settings,
            ctx.secrets,
            workspace_id=workspace_id,
            url=str(body.url),
            events=body.events,
            secret=None,
            enabled=True,
            actor=ctx.actor,
        )
    except (MailfleetError, ValidationError) as exc:
        ctx.session.rollback()
        if isinstance(exc, ValidationError):
            detail, status = _invalid(exc), 422
        else:
            detail, status = exc.detail, exc.status
        return _webhooks_page(ctx, status, error=detail, entered_url=url, entered=events)
    return _webhooks_page(ctx, 201, created=created)


def _invalid(exc: ValidationError) -> str:
    """The schema's first complaint, in the form's words."""
    first = exc.errors()[0]
    where = str(first["loc"][0]) if first["loc"] else "form"
    if where == "events":
        return "Pick at least one event."
    return f"{where}: {first['msg']}"


def _back(form: PostedForm, webhook_id: uuid.UUID) -> Response:
    """To the list when the form was on it, else to the endpoint's page."""
    if form.field("back") == "list":
        return redirect(f"{PREFIX}/webhooks")
    return redirect(f"{PREFIX}/webhooks/{webhook_id}")


@router.post("/webhooks/{webhook_id}/enable")
def enable(form: PostedForm, webhook_id: str) -> Response:
    return _set_enabled(form, webhook_id, enabled=True)


@router.post("/webhooks/{webhook_id}/disable")
def disable(form: PostedForm, webhook_id: str) -> Response:
    return _set_enabled(form, webhook_id, enabled=False)


def _set_enabled(form: PostedForm, webhook_id: str, *, enabled: bool) -> Response:
    ctx = form.ctx
    wanted = _webhook_id(webhook_id)
    webhook_service.update(
        ctx.session,
        ctx.settings,
        workspace_id=ctx.workspace(Role.ADMIN),
        webhook_id=wanted,
        changes={"enabled": enabled},
        actor=ctx.actor,
    )
    return _back(form, wanted)


@router.post("/webhooks/{webhook_id}/rotate")
def rotate(form: PostedForm, webhook_id: str) -> Response:
    """A new signing secret, as POST /v1/webhooks/{id}/rotate-secret makes one: shown on this
    answer only; the old one signs too for the rotation's grace period."""
    ctx = form.ctx
    wanted = _webhook_id(webhook_id)
    rotated = webhook_service.rotate_secret(
        ctx.session,
        ctx.settings,
        ctx.secrets,
        workspace_id=ctx.workspace(Role.ADMIN),
        webhook_id=wanted,
        secret=None,
        actor=ctx.actor,
    )
    return _endpoint_page(ctx, wanted, rotated=rotated)


@router.post("/webhooks/{webhook_id}/delete")
def delete(form: PostedForm, webhook_id: str) -> Response:
    """Deletes the endpoint and its delivery log, as DELETE /v1/webhooks/{id}."""
    ctx = form.ctx
    webhook_service.delete(
        ctx.session,
        workspace_id=ctx.workspace(Role.ADMIN),
        webhook_id=_webhook_id(webhook_id),
        actor=ctx.actor,
    )
    return redirect(f"{PREFIX}/webhooks")


@router.get("/webhooks/{webhook_id}")
def endpoint(ctx: Viewer, webhook_id: str, cursor: Cursor = None) -> Response:
    """One endpoint and its delivery log, newest first, 100 a page."""
    return _endpoint_page(ctx, _webhook_id(webhook_id), cursor=cursor)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/resend")
def resend(form: PostedForm, webhook_id: str, delivery_id: str) -> Response:
    """One more attempt of a finished delivery, as POST /v1/webhooks/{id}/deliveries/{id}/resend;
    a refusal (still pending, endpoint disabled) comes back on the page with its reason."""
    ctx = form.ctx
    workspace_id = ctx.workspace(Role.ADMIN)
    wanted = _webhook_id(webhook_id)
    try:
        delivery = uuid.UUID(delivery_id)
    except ValueError as exc:
        raise NotFound(
            f"Delivery {delivery_id[:64]} not found.", code="webhook_delivery_not_found"
        ) from exc
    try:
        webhook_service.resend(
            ctx.session,
            ctx.settings,
            workspace_id=workspace_id,
            webhook_id=wanted,
            delivery_id=delivery,
            actor=ctx.actor,
        )
    except MailfleetError as exc:
        if exc.status == 404:
            raise
        ctx.session.rollback()
        return _endpoint_page(ctx, wanted, exc.status, error=exc.detail)
    return redirect(f"{PREFIX}/webhooks/{wanted}")


def _webhook_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise NotFound(f"Webhook {raw[:64]} not found.", code="webhook_not_found") from exc
