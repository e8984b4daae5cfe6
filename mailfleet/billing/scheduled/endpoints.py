"""Scheduled mailbox creation: any member reads; ADMINs schedule, edit and remove."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from mailfleet.auth.dependencies import Admin, Viewer
from mailfleet.billing.renewals.hooks import NewMailbox
from mailfleet.billing.scheduled import schemas, service
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.responses import Limit, render, render_page
from mailfleet.kit.schemas import Page
from mailfleet.models import Role, ScheduledMailboxStatus

router = APIRouter(tags=["billing"])

# The order rules' codes: scheduling checks usernames as an order does.
USERNAME_CODES = ("invalid_username", "duplicate_username", "username_taken", "username_scheduled")


@router.post(
    "/domains/{domain_id}/scheduled-mailboxes",
    status_code=201,
    response_model=schemas.ScheduledList,
    openapi_extra=errors(
        "domain_not_found",
        "mailbox_type_required",
        "no_subscription_for_type",
        "no_slot_at_renewal",
        *USERNAME_CODES,
    ),
)
def schedule(domain_id: uuid.UUID, body: schemas.ScheduleCreate, ctx: Admin) -> Response:
    """Schedule mailboxes on the domain for creation at the next renewal of the subscription
    covering their type, when a slot will be free then."""
    rows = service.schedule(
        ctx.session,
        workspace_id=ctx.workspace(Role.ADMIN),
        domain_id=domain_id,
        mailboxes=[NewMailbox(m.username, m.first_name, m.last_name) for m in body.mailboxes],
        mailbox_type=body.mailbox_type,
        actor=ctx.actor,
    )
    return render(schemas.ScheduledList, {"items": rows}, 201)


@router.get("/scheduled-mailboxes", response_model=Page[schemas.ScheduledMailbox])
def list_scheduled(
    ctx: Viewer,
    cursor: CursorParam = None,
    limit: Limit = 50,
    domain_id: uuid.UUID | None = None,
    status: Annotated[list[ScheduledMailboxStatus] | None, Query()] = None,
) -> Response:
    """Scheduled mailboxes, newest first."""
    rows, next_cursor = service.list_scheduled(
        ctx.session,
        workspace_id=ctx.workspace(),
        domain_id=domain_id,
        statuses=status,
        cursor=cursor,
        limit=limit,
    )
    return render_page(schemas.ScheduledMailbox, rows, next_cursor)


@router.get(
    "/scheduled-mailboxes/{scheduled_id}",
    response_model=schemas.ScheduledMailbox,
    openapi_extra=errors("scheduled_mailbox_not_found"),
)
def get_scheduled(scheduled_id: uuid.UUID, ctx: Viewer) -> Response:
    row = service.get_scheduled(
        ctx.session, workspace_id=ctx.workspace(), scheduled_id=scheduled_id
    )
    return render(schemas.ScheduledMailbox, row)


@router.patch(
    "/scheduled-mailboxes/{scheduled_id}",
    response_model=schemas.ScheduledMailbox,
    openapi_extra=errors(
        "scheduled_mailbox_not_found", "scheduled_mailbox_closed", *USERNAME_CODES
    ),
)
def update_scheduled(scheduled_id: uuid.UUID, body: schemas.ScheduleUpdate, ctx: Admin) -> Response:
    """Change a scheduled mailbox's username or names before its billing date."""
    row = service.update_scheduled(
        ctx.session,
        workspace_id=ctx.workspace(Role.ADMIN),
        scheduled_id=scheduled_id,
        username=body.username,
        first_name=body.first_name,
        last_name=body.last_name,
        actor=ctx.actor,
    )
    return render(schemas.ScheduledMailbox, row)


@router.delete(
    "/scheduled-mailboxes/{scheduled_id}",
    response_model=schemas.ScheduledMailbox,
    openapi_extra=errors("scheduled_mailbox_not_found", "scheduled_mailbox_closed"),
)
def remove_scheduled(scheduled_id: uuid.UUID, ctx: Admin) -> Response:
    """Remove a scheduled mailbox before its billing date (it becomes CANCELLED)."""
    row = service.remove_scheduled(
        ctx.session,
        workspace_id=ctx.workspace(Role.ADMIN),
        scheduled_id=scheduled_id,
        actor=ctx.actor,
    )
    return render(schemas.ScheduledMailbox, row)
