"""Zapmail's users endpoint: GET /v2/users (v1: GET /v1/user/details)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from mailfleet.account import service as account_service
from mailfleet.auth.dependencies import Context
from mailfleet.compat.zapmail.envelope import Envelope, respond
from mailfleet.compat.zapmail.users import schemas

router = APIRouter(tags=["users"])


@router.get(
    "/api/v2/users",
    summary="Retrieve User Details",
    response_model=Envelope[schemas.User],
)
@router.get(
    "/api/v1/user/details",
    summary="Retrieve User Details (v1)",
    response_model=Envelope[schemas.User],
)
def get_user(ctx: Context) -> Response:
    """You, with the plan, slots and wallet balance of the request's workspace."""
    details = account_service.user_details(ctx.session, ctx.principal, ctx.workspace_id)
    return respond(
        Envelope[schemas.User], "User details fetched successfully", schemas.user(details)
    )
