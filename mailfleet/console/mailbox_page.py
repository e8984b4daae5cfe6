"""One mailbox's page: its facts, its credentials shown only on an explicit "reveal" post, and
the live code of its authenticator (the JSON the page's script polls).

The credentials and the code come from the same services as `GET /v1/mailboxes/{id}/credentials`
and `GET /v1/mailboxes/{id}/totp`, with the same role (EDITOR): a VIEWER sees the mailbox, never
its secrets. The native API records no event for a credentials read, so neither does the console.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from mailfleet.auth.dependencies import Editor, RequestContext, Viewer
from mailfleet.console.web import PostedForm, page
from mailfleet.domains import service as domain_service
from mailfleet.exceptions import MailfleetError, NotFound
from mailfleet.kit.errordocs import errors
from mailfleet.mailboxes import service as mailbox_service
from mailfleet.mailboxes.actions import service as actions
from mailfleet.models import Role

router = APIRouter(include_in_schema=False)
json_router = APIRouter()


def _uuid(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise NotFound("No such mailbox.", code="mailbox_not_found") from exc


def _mailbox_page(ctx: RequestContext, mailbox_id: uuid.UUID, **values: Any) -> Response:
    workspace_id = ctx.workspace()
    mailbox = mailbox_service.get_mailbox(
        ctx.session, workspace_id=workspace_id, mailbox_id=mailbox_id
    )
    domain = domain_service.get_domain(
        ctx.session, workspace_id=workspace_id, domain_id=mailbox.domain_id
    )
    shown: dict[str, Any] = {"credentials": None, "reveal_error": None}
    shown.update(values)
    can_see_secrets = ctx.role is not None and ctx.role.at_least(Role.EDITOR)
    return page(
        ctx,
        "mailbox.html",
        mailbox=mailbox,
        domain=domain,
        totp=_first_code(ctx, mailbox_id) if can_see_secrets and mailbox.totp_secret_enc else None,
        **shown,
    )


def _first_code(ctx: RequestContext, mailbox_id: uuid.UUID) -> actions.AuthenticatorCode | str:
    """The code as the page opens (the script keeps it current), or why there is none."""
    try:
        return actions.current_code(
            ctx.session, ctx.secrets, workspace_id=ctx.workspace(), mailbox_id=mailbox_id
        )
    except MailfleetError as exc:
        return exc.detail


@router.get("/mailboxes/{mailbox_id}")
def mailbox(ctx: Viewer, mailbox_id: str) -> Response:
    return _mailbox_page(ctx, _uuid(mailbox_id))


@router.post("/mailboxes/{mailbox_id}/reveal")
def reveal(form: PostedForm, mailbox_id: str) -> Response:
    """The page again, with the decrypted credentials (a POST, so never cached or prefetched)."""
    ctx = form.ctx
    wanted = _uuid(mailbox_id)
    workspace_id = ctx.workspace(Role.EDITOR)
    try:
        creds = mailbox_service.credentials(
            ctx.session, ctx.secrets, workspace_id=workspace_id, mailbox_id=wanted
        )
    except MailfleetError as exc:
        if exc.code != "mailbox_not_active":
            raise
        return _mailbox_page(ctx, wanted, reveal_error=exc.detail)
    return _mailbox_page(ctx, wanted, credentials=creds)


@json_router.get(
    "/api/mailboxes/{mailbox_id}/totp",
    openapi_extra=errors(
        "mailbox_not_found", "no_totp_secret", "unusable_totp_secret", "console_sign_in_required"
    ),
)
def authenticator_code(ctx: Editor, mailbox_id: uuid.UUID) -> Response:
    """The authenticator's current code and the seconds it has left, for the page's script."""
    code = actions.current_code(
        ctx.session, ctx.secrets, workspace_id=ctx.workspace(), mailbox_id=mailbox_id
    )
    return JSONResponse(
        {"code": code.code, "expires_in": code.expires_in, "period": code.period},
        headers={"Cache-Control": "no-store"},
    )
