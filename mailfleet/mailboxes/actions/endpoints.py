"""Mailbox actions: the current authenticator code, and retrying a failed mailbox."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Editor, Viewer
from mailfleet.kit.errordocs import errors
from mailfleet.kit.responses import render
from mailfleet.mailboxes import schemas
from mailfleet.mailboxes.actions import service as actions

router = APIRouter(tags=["mailboxes"])


@router.get(
    "/mailboxes/{mailbox_id}/totp",
    response_model=schemas.AuthenticatorCode,
    openapi_extra=errors("mailbox_not_found", "no_totp_secret", "unusable_totp_secret"),
)
def authenticator_code(mailbox_id: uuid.UUID, ctx: Editor) -> Response:
    """The current RFC 6238 code of the mailbox's authenticator, and seconds until it changes."""
    code = actions.current_code(
        ctx.session, ctx.secrets, workspace_id=ctx.workspace(), mailbox_id=mailbox_id
    )
    return render(schemas.AuthenticatorCode, code, secret=True)


@router.post(
    "/mailboxes/{mailbox_id}/retry",
    response_model=schemas.Mailbox,
    openapi_extra=errors(
        "mailbox_not_found",
        "mailbox_not_failed",
        "domain_not_active",
        "domain_mailbox_limit",
        "quota_exceeded",
        "username_taken",
        "mailbox_status_conflict",
    ),
)
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


async def _image(request: Request) -> bytes:
    return await request.body()


@router.put(
    "/mailboxes/{mailbox_id}/picture",
    response_model=schemas.Mailbox,
    openapi_extra={
        **errors(
            "mailbox_not_found",
            "mailbox_not_editable",
            "picture_type",
            "picture_missing",
            "picture_too_large",
        ),
        "requestBody": {
            "required": True,
            "content": {
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            },
        },
    },
)
def set_picture(
    mailbox_id: uuid.UUID, image: Annotated[bytes, Depends(_image)], ctx: Editor
) -> Response:
    """Set the profile picture (PNG or JPEG, at most 4 MB); the provider gets it too."""
    mailbox = actions.set_picture(
        ctx.session,
        ctx.settings,
        workspace_id=ctx.workspace(),
        mailbox_id=mailbox_id,
        image=image,
        actor=ctx.actor,
    )
    return render(schemas.Mailbox, mailbox)


@router.get(
    "/mailboxes/{mailbox_id}/picture",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}},
    openapi_extra=errors("mailbox_not_found", "picture_not_found"),
)
def get_picture(mailbox_id: uuid.UUID, ctx: Viewer) -> Response:
    """The profile picture as uploaded."""
    image, content_type = actions.picture(
        ctx.session, ctx.settings, workspace_id=ctx.workspace(), mailbox_id=mailbox_id
    )
    return Response(image, media_type=content_type)
