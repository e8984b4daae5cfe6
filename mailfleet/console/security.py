"""The security page (turn the TOTP second factor on or off) and the sign-in's second step."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mailfleet.auth.dependencies import Context
from mailfleet.console import second_factor
from mailfleet.console.signin import login_limits
from mailfleet.console.web import (
    CSRF_FIELD,
    PREFIX,
    SESSION_COOKIE,
    FormFields,
    PostedForm,
    cookies_of,
    html,
    page,
    redirect,
    safe_next,
    same_token,
)
from mailfleet.db import Database
from mailfleet.exceptions import Forbidden, RateLimited
from mailfleet.kit.crypto import SecretBox

router = APIRouter(include_in_schema=False)


def _security_page(ctx: Context, status: int = 200, message: str | None = None) -> Response:
    secret = second_factor.pending_secret(ctx.session, ctx.secrets, ctx.user_id)
    return page(
        ctx,
        "security.html",
        status,
        totp_enabled=second_factor.enabled(ctx.session, ctx.user_id),
        pending_secret=secret,
        setup_uri=second_factor.setup_uri(ctx.principal.email, secret) if secret else None,
        message=message,
    )


@router.get("/security")
def security(ctx: Context) -> Response:
    return _security_page(ctx)


@router.post("/security/totp/setup")
def setup(form: PostedForm) -> Response:
    ctx = form.ctx
    if not second_factor.enabled(ctx.session, ctx.user_id):
        second_factor.begin_setup(ctx.session, ctx.secrets, ctx.user_id)
    return redirect(f"{PREFIX}/security")


@router.post("/security/totp/confirm")
def confirm(form: PostedForm) -> Response:
    ctx = form.ctx
    if not second_factor.confirm_setup(ctx.session, ctx.secrets, ctx.user_id, form.field("code")):
        return _security_page(ctx, 422, "That code is not the app's current one; try again.")
    return redirect(f"{PREFIX}/security")


@router.post("/security/totp/disable")
def disable(form: PostedForm) -> Response:
    ctx = form.ctx
    if not second_factor.disable(ctx.session, ctx.secrets, ctx.user_id, form.field("code")):
        return _security_page(ctx, 422, "That code is not the app's current one; try again.")
    return redirect(f"{PREFIX}/security")


def _step_form(
    csrf_token: str,
    next_path: str,
    *,
    message: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return html(
        "second_factor.html",
        status,
        headers,
        csrf_token=csrf_token,
        next_path=next_path,
        message=message,
    )


@router.get("/login/second-factor")
def step_page(request: Request, next: Annotated[str | None, Query()] = None) -> Response:
    database: Database = request.app.state.db
    token = cookies_of(request.headers).get(SESSION_COOKIE, "")
    with database.transaction(write=False) as session:
        row = second_factor.find_pending(session, token)
        csrf = row.csrf_token if row is not None else None
    if csrf is None:
        return redirect(f"{PREFIX}/login")
    return _step_form(csrf, safe_next(next))


@router.post("/login/second-factor")
def step(request: Request, fields: FormFields) -> Response:
    database: Database = request.app.state.db
    secrets: SecretBox = request.app.state.secrets
    token = cookies_of(request.headers).get(SESSION_COOKIE, "")
    next_path = safe_next(fields.get("next"))
    with database.transaction() as session:
        row = second_factor.find_pending(session, token)
        if row is None:
            return redirect(f"{PREFIX}/login")
        if not same_token(fields.get(CSRF_FIELD), row.csrf_token):
            raise Forbidden("The form is stale; reload it and retry.", code="csrf_failed")
        csrf, user_id = row.csrf_token, row.user_id
        address = request.client.host if request.client else "unknown"
        try:
            # Codes count against the same throttle as passwords: six digits are few.
            login_limits(request).count(f"second-factor:{user_id}", address)
        except RateLimited as exc:
            message = "Too many attempts. Wait a few minutes and try again."
            return _step_form(
                csrf, next_path, message=message, status=429, headers=dict(exc.headers)
            )
        if second_factor.complete(session, secrets, row, fields.get("code", "")):
            return redirect(next_path)
    return _step_form(csrf, next_path, message="That code is not right.", status=401)
