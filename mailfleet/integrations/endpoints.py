"""Provider installations (ADMIN installs and deletes, any member reads): a customer's own
provider account bound to the workspace. New zones and mailboxes are made at it; those made at
it keep using it, so it cannot be deleted while they are live."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query
from fastapi.responses import Response

from mailfleet.auth.dependencies import Admin, Viewer
from mailfleet.integrations import schemas
from mailfleet.integrations import service as installations
from mailfleet.kit.errordocs import errors
from mailfleet.kit.responses import render, render_page
from mailfleet.kit.schemas import Deleted, Page
from mailfleet.models import Role

router = APIRouter(tags=["integrations"])


@router.post(
    "/integrations",
    status_code=201,
    response_model=schemas.Installation,
    openapi_extra=errors(
        "unknown_provider_kind",
        "unknown_provider",
        "provider_not_installable",
        "invalid_installation",
        "installation_exists",
    ),
)
def create_installation(body: schemas.InstallationCreate, ctx: Admin) -> Response:
    """Install the workspace's own provider account; the workspace's new zones (dns) or
    mailboxes of that provider (mailbox) are made at it from now on."""
    created = installations.create(
        ctx.session,
        ctx.secrets,
        ctx.workspace(Role.ADMIN),
        kind=body.kind,
        provider=body.provider,
        label=body.label,
        credentials=body.credentials,
        config=body.config,
    )
    return render(schemas.Installation, created, status=201)


@router.get("/integrations", response_model=Page[schemas.Installation])
def list_installations(
    ctx: Viewer,
    kind: str | None = Query(
        default=None, max_length=32, pattern=r"^[a-z_]+$", description='"dns", "mailbox", ...'
    ),
) -> Response:
    """The workspace's installations, oldest first (never their credentials)."""
    rows = installations.list_installations(ctx.session, ctx.secrets, ctx.workspace(), kind=kind)
    return render_page(schemas.Installation, rows, None)


@router.get(
    "/integrations/{installation_id}",
    response_model=schemas.Installation,
    openapi_extra=errors("provider_installation_not_found"),
)
def get_installation(installation_id: uuid.UUID, ctx: Viewer) -> Response:
    """Get one installation."""
    found = installations.get(ctx.session, ctx.secrets, ctx.workspace(), installation_id)
    return render(schemas.Installation, found)


@router.delete(
    "/integrations/{installation_id}",
    response_model=Deleted,
    openapi_extra=errors("provider_installation_not_found", "installation_in_use"),
)
def delete_installation(installation_id: uuid.UUID, ctx: Admin) -> Response:
    """Delete an installation: new zones and mailboxes go to the deployment's default again.
    Refused with 409 installation_in_use while live domains or mailboxes were made at it."""
    installations.delete(ctx.session, ctx.workspace(Role.ADMIN), installation_id)
    return render(Deleted, {"id": installation_id})
