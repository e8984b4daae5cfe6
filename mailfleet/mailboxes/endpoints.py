from __future__ import annotations

import functools
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from mailfleet.auth.dependencies import Editor, Reading, Viewer
from mailfleet.kit.errordocs import errors
from mailfleet.kit.pagination import CursorParam
from mailfleet.kit.reads import read_page
from mailfleet.kit.responses import Limit, RowRenderer, render
from mailfleet.kit.schemas import Page
from mailfleet.mailboxes import schemas
from mailfleet.mailboxes import service as mailbox_service
from mailfleet.models import ExportApp, MailboxStatus, MailboxType

router = APIRouter(tags=["mailboxes"])


@router.get("/mailboxes", response_model=Page[schemas.Mailbox])
async def list_mailboxes(
    request: Request,
    caller: Reading,
    cursor: CursorParam = None,
    limit: Limit = 50,
    status: Annotated[list[MailboxStatus] | None, Query()] = None,
    type: MailboxType | None = None,
    domain_id: uuid.UUID | None = None,
    q: Annotated[
        str | None, Query(max_length=320, description="Text search on the address.")
    ] = None,
    exported_to: Annotated[
        ExportApp | None,
        Query(description="Only mailboxes exported to this app (GET .../{id}/exports: where)."),
    ] = None,
) -> Response:
    """List mailboxes, newest first."""
    # The hottest read: the light path (see kit.reads), rows rendered unvalidated.
    workspace_id = caller.workspace()
    filters = mailbox_service.ListFilters(
        statuses=status, mailbox_type=type, domain_id=domain_id, text=q, exported_to=exported_to
    )

    def page(connection: Connection) -> Response:
        rows, next_cursor = mailbox_service.list_mailboxes(
            connection, workspace_id=workspace_id, filters=filters, cursor=cursor, limit=limit
        )
        return _list_renderer(connection.dialect.name).page(rows, next_cursor)

    # The validated parameters are the key: every one the query reads, nothing else.
    key = ("mailboxes", workspace_id, filters, cursor, limit)
    return await read_page(request, key, page, bounded=filters.bounded)


@functools.cache
def _list_renderer(dialect: str) -> RowRenderer:
    fields = mailbox_service.LIST_FIELDS
    return RowRenderer({name: column.type for name, column in fields.items()}, dialect)


@router.get(
    "/mailboxes/{mailbox_id}",
    response_model=schemas.Mailbox,
    openapi_extra=errors("mailbox_not_found"),
)
def get_mailbox(mailbox_id: uuid.UUID, ctx: Viewer) -> Response:
    """Get one mailbox (never its secrets)."""
    mailbox = mailbox_service.get_mailbox(
        ctx.session, workspace_id=ctx.workspace(), mailbox_id=mailbox_id
    )
    return render(schemas.Mailbox, mailbox)


@router.get(
    "/mailboxes/{mailbox_id}/credentials",
    response_model=schemas.Credentials,
    openapi_extra=errors("mailbox_not_found", "mailbox_not_active"),
)
def get_credentials(mailbox_id: uuid.UUID, ctx: Editor) -> Response:
    """Decrypted login secrets and server settings of an active mailbox."""
    creds = mailbox_service.credentials(
        ctx.session, ctx.secrets, workspace_id=ctx.workspace(), mailbox_id=mailbox_id
    )
    return render(schemas.Credentials, creds, secret=True)


@router.patch(
    "/mailboxes/{mailbox_id}",
    response_model=schemas.Mailbox,
    openapi_extra=errors(
        "mailbox_not_found", "mailbox_not_editable", "invalid_username", "username_taken"
    ),
)
def update_mailbox(mailbox_id: uuid.UUID, body: schemas.MailboxUpdate, ctx: Editor) -> Response:
    """Change a mailbox's names or username (same rules as ordering)."""
    mailbox = mailbox_service.update_mailbox(
        ctx.session,
        workspace_id=ctx.workspace(),
        mailbox_id=mailbox_id,
        first_name=body.first_name,
        last_name=body.last_name,
        username=body.username,
        actor=ctx.actor,
    )
    return render(schemas.Mailbox, mailbox)


@router.delete(
    "/mailboxes/{mailbox_id}",
    response_model=schemas.Mailbox,
    openapi_extra=errors("mailbox_not_found", "mailbox_failed", "mailbox_status_conflict"),
)
def remove_mailbox(mailbox_id: uuid.UUID, ctx: Editor) -> Response:
    """Remove a mailbox now; its slot stays held until its renewal date."""
    mailbox = mailbox_service.remove_now(
        ctx.session, workspace_id=ctx.workspace(), mailbox_id=mailbox_id, actor=ctx.actor
    )
    return render(schemas.Mailbox, mailbox)


@router.post(
    "/mailboxes/{mailbox_id}/scheduled-removal",
    response_model=schemas.Mailbox,
    openapi_extra=errors("mailbox_not_found", "mailbox_not_active", "mailbox_status_conflict"),
)
def schedule_removal(mailbox_id: uuid.UUID, ctx: Editor) -> Response:
    """Remove an active mailbox at its renewal date."""
    mailbox = mailbox_service.schedule_removal(
        ctx.session, workspace_id=ctx.workspace(), mailbox_id=mailbox_id, actor=ctx.actor
    )
    return render(schemas.Mailbox, mailbox)


@router.delete(
    "/mailboxes/{mailbox_id}/scheduled-removal",
    response_model=schemas.Mailbox,
    openapi_extra=errors("mailbox_not_found", "removal_not_scheduled", "mailbox_status_conflict"),
)
def cancel_scheduled_removal(mailbox_id: uuid.UUID, ctx: Editor) -> Response:
    """Cancel a scheduled removal; the mailbox is ACTIVE again."""
    mailbox = mailbox_service.cancel_scheduled_removal(
        ctx.session, workspace_id=ctx.workspace(), mailbox_id=mailbox_id, actor=ctx.actor
    )
    return render(schemas.Mailbox, mailbox)
