"""Zapmail's domain settings calls (reference 4.8, 5.9): DMARC, web forwarding, email
forwarding, catch-all, Google client ids, auto-renew, removing unused domains and tags.

The bulk calls take `domainIds`, or the list's filters (`contains`, `status`, `tagIds`) that
pick the domains instead; all or nothing. Writes answer `data: null`, as Zapmail's documented
writes do. DNS changes reach the zones' providers by jobs after the commit.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Admin, Editor, RequestContext, Viewer
from mailfleet.compat.zapmail.domains import schemas
from mailfleet.compat.zapmail.envelope import Envelope, respond
from mailfleet.compat.zapmail.statuses import domain_filter
from mailfleet.dns import delivery
from mailfleet.domains import bulk
from mailfleet.domains.pages import DomainFilter, tag_counts
from mailfleet.kit.errordocs import errors

router = APIRouter(tags=["domains"])
PICK_ERRORS = ("domain_not_found", "validation_error")
SETTINGS_ERRORS = (*PICK_ERRORS, "invalid_dns_settings", "invalid_username")


def _pick(body: schemas.Picked) -> bulk.Pick:
    statuses = domain_filter(body.status)
    filtered = bool(body.contains and body.contains.strip()) or statuses is not None
    wanted = None
    if filtered or body.tag_ids:
        wanted = DomainFilter(statuses=statuses, contains=body.contains, tags=body.tag_ids)
    return bulk.Pick(ids=body.domain_ids, wanted=wanted)


def _apply(
    ctx: RequestContext,
    request: Request,
    body: schemas.Picked,
    message: str,
    changes: dict[str, Any],
) -> Response:
    ids = bulk.picked(ctx.session, ctx.workspace(), _pick(body))
    changed = bulk.update_each(
        ctx.session,
        ctx.settings,
        ctx.secrets,
        workspace_id=ctx.workspace(),
        domain_ids=ids,
        changes=changes,
        actor=ctx.actor,
    )
    return _done(ctx, request, message, changed)


def _done(
    ctx: RequestContext, request: Request, message: str, changed: list[delivery.Change]
) -> Response:
    answer = respond(Envelope[None], message, None)
    ctx.session.commit()
    delivery.deliver_later(request.app.state.runtime, changed)
    return answer


@router.post(
    "/api/v2/domains/dmarc",
    summary="Add DMARC record",
    response_model=Envelope[None],
    openapi_extra=errors(*SETTINGS_ERRORS),
)
def add_dmarc(body: schemas.DmarcIn, ctx: Editor, request: Request) -> Response:
    """Aggregate DMARC reports of the domains go to `email` (their `_dmarc` record's rua)."""
    changes = {"dmarc_rua": f"mailto:{body.email}"}
    return _apply(ctx, request, body, "DMARC record added successfully", changes)


@router.post(
    "/api/v2/domains/forwarding",
    summary="Add Domain forwarding",
    response_model=Envelope[None],
    openapi_extra=errors(*SETTINGS_ERRORS),
)
def add_forwarding(body: schemas.ForwardingIn, ctx: Editor, request: Request) -> Response:
    """Visitors of the domains (and www) are redirected to `forwardTo` (301)."""
    changes = {"forwarding_url": body.forward_to}
    return _apply(ctx, request, body, "Domain forwarding added successfully", changes)


def _forward_mail(
    ctx: RequestContext, request: Request, body: schemas.Picked, target: str | None, message: str
) -> Response:
    ids = bulk.picked(ctx.session, ctx.workspace(), _pick(body))
    changed = bulk.update_each(
        ctx.session,
        ctx.settings,
        ctx.secrets,
        workspace_id=ctx.workspace(),
        domain_ids=ids,
        changes_of=bulk.forward_all_mail(ctx.session, ids, target),
        actor=ctx.actor,
    )
    return _done(ctx, request, message, changed)


@router.post(
    "/api/v2/domains/email-forwarding",
    summary="Enable email forwarding",
    response_model=Envelope[None],
    openapi_extra=errors(*SETTINGS_ERRORS),
)
def enable_email_forwarding(body: schemas.EmailTargetIn, ctx: Editor, request: Request) -> Response:
    """Mail to every mailbox the domains hold now is also sent to `email`."""
    message = "Email forwarding enabled successfully"
    return _forward_mail(ctx, request, body, body.email, message)


@router.delete(
    "/api/v2/domains/email-forwarding",
    summary="Remove email forwarding",
    response_model=Envelope[None],
    openapi_extra=errors(*SETTINGS_ERRORS),
)
def remove_email_forwarding(body: schemas.Picked, ctx: Editor, request: Request) -> Response:
    """The domains' mailboxes keep their mail only."""
    return _forward_mail(ctx, request, body, None, "Email forwarding removed successfully")


@router.post(
    "/api/v2/domains/catch-all",
    summary="Enable catch all emails",
    response_model=Envelope[None],
    openapi_extra=errors(*SETTINGS_ERRORS),
)
def enable_catch_all(body: schemas.EmailTargetIn, ctx: Editor, request: Request) -> Response:
    """Mail to addresses of the domains that no mailbox holds goes to `email`."""
    changes = {"catch_all_target": body.email}
    return _apply(ctx, request, body, "Catch all enabled successfully", changes)


@router.delete(
    "/api/v2/domains/catch-all",
    summary="Remove catch all emails",
    response_model=Envelope[None],
    openapi_extra=errors(*SETTINGS_ERRORS),
)
def remove_catch_all(body: schemas.Picked, ctx: Editor, request: Request) -> Response:
    """Mail to unknown addresses of the domains is refused again."""
    changes = {"catch_all_target": None}
    return _apply(ctx, request, body, "Catch all removed successfully", changes)


@router.post(
    "/api/v2/domains/add-client-id",
    summary="Add Google Client ID to Domain",
    response_model=Envelope[None],
    openapi_extra=errors(*PICK_ERRORS, "client_id_google_only"),
)
def add_client_id(body: schemas.ClientIdIn, ctx: Editor) -> Response:
    """Link a Google OAuth client id to the domains for one app (its sign-in with OAuth)."""
    ids = bulk.picked(ctx.session, ctx.workspace(), _pick(body))
    bulk.add_client_id(
        ctx.session,
        workspace_id=ctx.workspace(),
        domain_ids=ids,
        app=body.app.strip().upper(),
        client_id=body.client_id.strip(),
        actor=ctx.actor,
    )
    return respond(Envelope[None], "Client ID added successfully", None)


@router.post(
    "/api/v2/domains/update-auto-renew",
    summary="Update Auto Renew Preference",
    response_model=Envelope[None],
    openapi_extra=errors(*PICK_ERRORS, "auto_renew_not_applicable"),
)
def update_auto_renew(body: schemas.AutoRenewIn, ctx: Editor) -> Response:
    """Auto-renewal on or off for active domains bought here (R13). Named domains must all be
    such; picked by a filter, the others are left out."""
    ids = bulk.picked(ctx.session, ctx.workspace(), _pick(body))
    bulk.set_auto_renew(
        ctx.session,
        workspace_id=ctx.workspace(),
        domain_ids=ids,
        auto_renew=body.auto_renew,
        strict=bool(body.domain_ids),
        actor=ctx.actor,
    )
    return respond(Envelope[None], "Auto renew preference updated successfully", None)


@router.post(
    "/api/v2/workspaces/update-domain-renewal-settings",
    summary="Update Domain Renewal Settings",
    response_model=Envelope[None],
)
def update_domain_renewal_settings(body: schemas.RenewalSettingsIn, ctx: Admin) -> Response:
    """Auto-renewal on or off for every domain the workspace bought, and those it buys next."""
    bulk.set_workspace_auto_renew(
        ctx.session,
        workspace_id=ctx.workspace(),
        auto_renew=body.domain_renewal_settings,
        actor=ctx.actor,
    )
    return respond(Envelope[None], "Domain renewal settings updated successfully", None)


@router.delete(
    "/api/v2/domains",
    summary="Remove unused domains",
    response_model=Envelope[None],
    openapi_extra=errors("domain_not_found", "domain_purchased", "domain_has_mailboxes"),
)
def remove_unused(body: schemas.RemoveUnusedIn, ctx: Editor) -> Response:
    """Remove connected domains that hold no mailbox; a bought one is refused (R12)."""
    ids = bulk.picked(ctx.session, ctx.workspace(), bulk.Pick(ids=body.ids, field="ids"))
    bulk.remove_unused(ctx.session, workspace_id=ctx.workspace(), domain_ids=ids, actor=ctx.actor)
    return respond(Envelope[None], "Domains removed successfully", None)


@router.get(
    "/api/v2/domains/tags",
    summary="List domain tags",
    response_model=Envelope[list[schemas.DomainTag]],
)
def list_tags(ctx: Viewer) -> Response:
    """The tags on the workspace's domains, by name, with how many domains carry each."""
    data = [
        {"id": tag, "name": tag, "domainCount": str(count)}
        for tag, count in tag_counts(ctx.session, ctx.workspace())
    ]
    return respond(Envelope[list[schemas.DomainTag]], "Domain tags fetched successfully", data)
