"""The console's plumbing: its cookie credential, forms with their CSRF check, page rendering and
HTML error pages.

Pages are Jinja2 templates rendered on the server, so every page reads and submits without
JavaScript; the one script (static/console.js) adds live updates and copy buttons. The
Content-Security-Policy allows scripts, styles and requests from the console's own origin only.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import Depends, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import cookie_parser
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mailfleet.auth.dependencies import Context, RequestContext
from mailfleet.console import service
from mailfleet.exception_handlers import ErrorInfo
from mailfleet.exceptions import Forbidden, Unauthorized
from mailfleet.kit.errordocs import declares
from mailfleet.models import Membership, Role, Workspace

PREFIX = "/console"
# Under it, JSON for the page's script: errors there are JSON too, and a 401 is not a redirect.
JSON_PREFIX = f"{PREFIX}/api/"
SESSION_COOKIE = "mf_console"
WORKSPACE_COOKIE = "mf_console_workspace"
# The login form's CSRF token, before there is a session to hold it (double-submit cookie).
LOGIN_CSRF_COOKIE = "mf_console_login"
CSRF_FIELD = "csrf_token"
# A form is small: a pasted list of 10,000 names fits well within.
MAX_FORM_FIELDS = 200
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def cookies_of(headers: Mapping[str, str]) -> dict[str, str]:
    return cookie_parser(headers.get("cookie", ""))


@dataclass(frozen=True)
class CookieCredentials:
    """The recipe's credential scheme for the console: the session cookie, and the workspace
    the switcher picked (a cookie too; absent, the user's first workspace)."""

    workspace_field: str = "workspace"

    def token(self, headers: Mapping[str, str]) -> str | None:
        return cookies_of(headers).get(SESSION_COOKIE) or None

    def workspace(self, headers: Mapping[str, str]) -> str | None:
        return cookies_of(headers).get(WORKSPACE_COOKIE) or None

    def missing(self) -> Unauthorized:
        return Unauthorized("Sign in to the console first.", code="console_sign_in_required")


def secure(request: Request) -> bool:
    """Cookies are Secure when the request came over TLS (a proxy's X-Forwarded-Proto counts
    when uvicorn runs with --proxy-headers)."""
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, **extra: Any) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path=f"{PREFIX}/",
        **extra,
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path=f"{PREFIX}/", httponly=True, samesite="lax", secure=secure(request)
    )


async def form_fields(request: Request) -> dict[str, str]:
    """An HTML form's fields (application/x-www-form-urlencoded); anything else is no fields,
    so its CSRF check fails."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return {}
    body = (await request.body()).decode("utf-8", "replace")
    try:
        pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError as exc:
        raise Forbidden("The form has too many fields.", code="csrf_failed") from exc
    return dict(pairs)


FormFields = Annotated[dict[str, str], Depends(form_fields)]


def same_token(sent: str | None, expected: str | None) -> bool:
    return bool(sent) and bool(expected) and hmac.compare_digest(str(sent), str(expected))


@dataclass(frozen=True)
class Posted:
    """A signed-in form post whose CSRF token matched: the request's context and the fields."""

    ctx: RequestContext
    fields: dict[str, str]

    def field(self, name: str) -> str:
        return self.fields.get(name, "").strip()


@declares("csrf_failed")
def checked_form(ctx: Context, fields: FormFields) -> Posted:
    expected = service.csrf_token_of(ctx.session, ctx.principal.api_key_id)
    if not same_token(fields.get(CSRF_FIELD), expected):
        raise Forbidden(
            "The form is stale or did not come from the console; reload the page and retry.",
            code="csrf_failed",
        )
    return Posted(ctx, fields)


PostedForm = Annotated[Posted, Depends(checked_form)]


@dataclass(frozen=True)
class WorkspaceChoice:
    id: uuid.UUID
    name: str
    role: Role


def workspaces_of(session: Session, user_id: uuid.UUID) -> list[WorkspaceChoice]:
    """The user's workspaces, first joined first (the default when none is picked)."""
    rows = session.execute(
        select(Workspace.id, Workspace.name, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Membership.id)
    )
    return [WorkspaceChoice(*row) for row in rows]


def page(ctx: RequestContext, template: str, http_status: int = 200, **values: Any) -> HTMLResponse:
    """A signed-in page: the template with the user, the workspace switcher and the CSRF token."""
    choices = workspaces_of(ctx.session, ctx.user_id)
    current = next((c for c in choices if c.id == ctx.workspace_id), None)
    can_edit = ctx.role is not None and ctx.role.at_least(Role.EDITOR)
    return html(
        template,
        http_status,
        user_email=ctx.principal.email,
        is_operator=ctx.principal.is_operator,
        workspaces=choices,
        workspace=current,
        can_edit=can_edit,
        csrf_token=service.csrf_token_of(ctx.session, ctx.principal.api_key_id),
        **values,
    )


def html(
    template: str, status: int = 200, headers: Mapping[str, str] | None = None, **values: Any
) -> HTMLResponse:
    body = TEMPLATES.get_template(template).render(prefix=PREFIX, **values)
    return HTMLResponse(body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def redirect(path: str) -> RedirectResponse:
    # 303: the browser follows a form post with a GET.
    return RedirectResponse(path, status_code=303, headers={"Cache-Control": "no-store"})


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    unsafe = ("\\", "\r", "\n")
    if value and value.startswith(f"{PREFIX}/") and not any(c in value for c in unsafe):
        return value
    return f"{PREFIX}/"


def render_error(error: ErrorInfo, instance: str) -> Response:
    """The console's ErrorRenderer: HTML pages; a 401 sends a page to the sign-in form."""
    if instance.startswith(JSON_PREFIX):
        body = {"status": error.status, "code": error.code, "detail": error.detail}
        return Response(
            json.dumps(body),
            status_code=error.status,
            media_type="application/json",
            headers={k: v for k, v in error.headers.items() if k.lower() == "retry-after"},
        )
    if error.status == 401:
        return redirect(f"{PREFIX}/login?next={quote(instance, safe='/')}")
    if error.field == "workspace" and error.code in ("workspace_not_found", "invalid_workspace_id"):
        # The picked workspace is gone (or the cookie is garbage): back to the default one.
        response = redirect(f"{PREFIX}/")
        response.delete_cookie(WORKSPACE_COOKIE, path=f"{PREFIX}/")
        return response
    headers = {k: v for k, v in error.headers.items() if k.lower() == "retry-after"}
    return html("error.html", error.status, headers, error=error)
