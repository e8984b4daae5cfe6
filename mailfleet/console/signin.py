"""Signing in and out, and the workspace switcher.

Sign-in is the one form without a session: its CSRF token is a double-submit cookie set with
the form. Attempts are counted per email and per client address before the password is checked
(argon2, outside any write transaction), and a success always starts a new session.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mailfleet.console import resets, service
from mailfleet.console.web import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    WORKSPACE_COOKIE,
    FormFields,
    PostedForm,
    clear_cookie,
    cookies_of,
    html,
    redirect,
    safe_next,
    same_token,
    set_cookie,
    workspaces_of,
)
from mailfleet.db import Database
from mailfleet.exceptions import Forbidden, NotFound, RateLimited, Unprocessable
from mailfleet.kit.crypto import new_token
from mailfleet.kit.passwords import hash_password

router = APIRouter(include_in_schema=False)


def login_limits(request: Request) -> service.LoginLimits:
    """The app's sign-in throttle, made on first use (tests put a tighter one in its place)."""
    state = request.app.state
    limits: service.LoginLimits | None = getattr(state, "console_login_limits", None)
    if limits is None:
        limits = state.console_login_limits = service.LoginLimits.from_settings(state.settings)
    return limits


def _login_form(
    request: Request,
    *,
    next_path: str,
    email: str = "",
    message: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    token = cookies_of(request.headers).get(LOGIN_CSRF_COOKIE) or new_token(32)
    response = html(
        "login.html",
        status,
        headers,
        csrf_token=token,
        next_path=next_path,
        email=email,
        message=message,
        can_reset=bool(request.app.state.settings.console_mail_host),
    )
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token)
    return response


@router.get("/login")
def login_page(
    request: Request,
    next: Annotated[str | None, Query()] = None,
    reset: Annotated[str | None, Query()] = None,
) -> Response:
    message = "Your password is changed. Sign in with it." if reset == "done" else None
    return _login_form(request, next_path=safe_next(next), message=message)


@router.post("/login")
def login(request: Request, fields: FormFields) -> Response:
    cookies = cookies_of(request.headers)
    if not same_token(fields.get(CSRF_FIELD), cookies.get(LOGIN_CSRF_COOKIE)):
        raise Forbidden("The sign-in form is stale; reload it and retry.", code="csrf_failed")
    email = service.normalise_email(fields.get("email", ""))
    next_path = safe_next(fields.get("next"))
    address = request.client.host if request.client else "unknown"
    try:
        login_limits(request).count(email, address)
    except RateLimited as exc:
        message = "Too many sign-in attempts. Wait a few minutes and try again."
        return _login_form(
            request,
            next_path=next_path,
            email=email,
            message=message,
            status=429,
            headers=dict(exc.headers),
        )
    database: Database = request.app.state.db
    # The password is checked in a read transaction: argon2 is slow on purpose, and no write
    # lock should wait on it.
    with database.transaction(write=False) as session:
        user = service.check_password(session, email, fields.get("password", ""))
        user_id = user.id if user is not None else None
        pending = user is not None and user.totp_enabled_at is not None
    if user_id is None:
        message = "Wrong email or password."
        return _login_form(request, next_path=next_path, email=email, message=message, status=401)
    with database.transaction() as session:
        signed = service.sign_in(
            session, user_id, replacing=cookies.get(SESSION_COOKIE), pending=pending
        )
    if pending:
        next_path = f"{PREFIX}/login/second-factor?next={quote(next_path, safe='/')}"
    response = redirect(next_path)
    lifetime = int(service.SESSION_LIFETIME.total_seconds())
    set_cookie(response, request, SESSION_COOKIE, signed.token, max_age=lifetime)
    clear_cookie(response, request, LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, form: PostedForm) -> Response:
    token = cookies_of(request.headers).get(SESSION_COOKIE, "")
    service.sign_out(form.ctx.session, token)
    response = redirect(f"{PREFIX}/login")
    clear_cookie(response, request, SESSION_COOKIE)
    clear_cookie(response, request, WORKSPACE_COOKIE)
    return response


@router.post("/workspace")
def switch_workspace(request: Request, form: PostedForm) -> Response:
    """Picks the workspace the pages show (one of the user's, else 404)."""
    try:
        wanted = uuid.UUID(form.field("workspace_id"))
    except ValueError as exc:
        raise NotFound("No such workspace.", code="workspace_not_found") from exc
    if wanted not in {c.id for c in workspaces_of(form.ctx.session, form.ctx.user_id)}:
        raise NotFound("No such workspace.", code="workspace_not_found")
    response = redirect(f"{PREFIX}/")
    set_cookie(response, request, WORKSPACE_COOKIE, str(wanted))
    return response


def _reset_form(
    request: Request, token: str, *, message: str | None = None, status: int = 200
) -> Response:
    csrf = cookies_of(request.headers).get(LOGIN_CSRF_COOKIE) or new_token(32)
    response = html("reset.html", status, csrf_token=csrf, token=token, message=message)
    set_cookie(response, request, LOGIN_CSRF_COOKIE, csrf)
    return response


@router.get("/reset/{token}")
def reset_page(request: Request, token: str) -> Response:
    """The form of a one-time reset link (404 once used or expired)."""
    database: Database = request.app.state.db
    with database.transaction(write=False) as session:
        if resets.find_link(session, token) is None:
            raise NotFound("This reset link is unknown, used or expired.", code="not_found")
    return _reset_form(request, token)


@router.post("/reset/{token}")
def reset(request: Request, token: str, fields: FormFields) -> Response:
    if not same_token(fields.get(CSRF_FIELD), cookies_of(request.headers).get(LOGIN_CSRF_COOKIE)):
        raise Forbidden("The reset form is stale; reload it and retry.", code="csrf_failed")
    password = fields.get("password", "")
    try:
        resets.check_new_password(password, fields.get("password_again", ""))
    except Unprocessable as exc:
        return _reset_form(request, token, message=exc.detail, status=422)
    # Hashed before the write transaction: argon2 is slow on purpose.
    password_hash = hash_password(password)
    database: Database = request.app.state.db
    with database.transaction() as session:
        resets.use_link(session, token, password_hash)
    response = redirect(f"{PREFIX}/login?reset=done")
    clear_cookie(response, request, SESSION_COOKIE)
    return response
