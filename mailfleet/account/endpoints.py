"""The account overview: who you are, where you are a member, and where your workspace stands."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from mailfleet.account import schemas
from mailfleet.account import service as account_service
from mailfleet.auth.dependencies import Context
from mailfleet.kit.responses import render

router = APIRouter(tags=["account"])


@router.get("/account", response_model=schemas.Account)
def get_account(ctx: Context) -> Response:
    """Your user, workspaces and, for the request's workspace, slots and summary counts."""
    overview = account_service.overview(ctx.session, ctx.principal, ctx.workspace_id)
    return render(schemas.Account, overview)
