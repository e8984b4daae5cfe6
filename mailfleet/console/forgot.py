""" "Forgot your password?": a reset link by mail, when the deployment has a mail relay.

The answer is the same whether or not the address has an account, and the mail goes out after
the answer (a background task after the link's commit), so neither the page nor its timing says
which addresses exist. Requests count against the sign-in throttle, per address and per email.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.responses import Response

from mailfleet.console import mail, resets, service
from mailfleet.console.signin import login_limits
from mailfleet.console.web import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    FormFields,
    cookies_of,
    html,
    same_token,
    set_cookie,
)
from mailfleet.db import Database
from mailfleet.exceptions import Forbidden, NotFound, RateLimited
from mailfleet.kit.crypto import new_token

router = APIRouter(include_in_schema=False)
SENT = "If an account uses that address, a link to set its password is on its way."


def _form(
    request: Request,
    *,
    message: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    if not mail.enabled(request.app.state.settings):
        raise NotFound("Password resets by mail are not set up here.", code="not_found")
    token = cookies_of(request.headers).get(LOGIN_CSRF_COOKIE) or new_token(32)
    response = html("forgot.html", status, headers, csrf_token=token, message=message)
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token)
    return response


@router.get("/forgot")
def forgot_page(request: Request) -> Response:
    return _form(request)


@router.post("/forgot")
def forgot(request: Request, fields: FormFields) -> Response:
    settings = request.app.state.settings
    if not mail.enabled(settings):
        raise NotFound("Password resets by mail are not set up here.", code="not_found")
    if not same_token(fields.get(CSRF_FIELD), cookies_of(request.headers).get(LOGIN_CSRF_COOKIE)):
        raise Forbidden("The form is stale; reload it and retry.", code="csrf_failed")
    email = service.normalise_email(fields.get("email", ""))
    address = request.client.host if request.client else "unknown"
    try:
        login_limits(request).count(email, address)
    except RateLimited as exc:
        message = "Too many attempts. Wait a few minutes and try again."
        return _form(request, message=message, status=429, headers=dict(exc.headers))
    database: Database = request.app.state.db
    link = None
    try:
        with database.transaction() as session:
            link = resets.create_link(session, email)
    except NotFound:
        pass  # answered as for a known address
    response = _form(request, message=SENT)
    if link is not None:
        url = link.url(mail.public_url(settings))
        response.background = BackgroundTask(mail.send_reset, settings, link.email, url)
    return response
