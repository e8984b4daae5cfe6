"""Mailbox actions: the current authenticator code, and retrying a failed mailbox."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from mailfleet.auth.dependencies import Editor
from mailfleet.kit.responses import render
from mailfleet.mailboxes import actions, schemas

router = APIRouter(tags=["mailboxes"])


@router.get("/mailboxes/{mailbox_id}/totp", response_model=schemas.AuthenticatorCode)
def authenticator_code(mailbox_id: uuid.UUID, ctx: Editor) -> Response:
    """The current RFC 6238 code of the mailbox's authenticator, and seconds until it changes."""
    code = actions.current_code(
        ctx.session, ctx.secrets, workspace_id=ctx.workspace(), mailbox_id=mailbox_id
    )
    return render(schemas.AuthenticatorCode, code, secret=True)


@router.post("/mailboxes/{mailbox_id}/retry", response_model=schemas.Mailbox)
def retry_mailbox(mailbox_id: uuid.UUID, ctx: Editor) -> Response:
    """Try a FAILED mailbox again, if its place on the domain and its quota slot are free."""
    mailbox = actions.retry_failed(
        ctx.session,
        ctx.settings,
        workspace_id=ctx.workspace(),
        mailbox_id=mailbox_id,
        actor=ctx.actor,
    )
    return render(schemas.Mailbox, mailbox)
