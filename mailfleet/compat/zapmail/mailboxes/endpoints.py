"""Zapmail's mailbox endpoints (reference 4.4, 5.5), v2 and the v1 paths it gives.

Parse the document's shapes, call the native services with the Zapmail profile (5 per Google
or Microsoft domain, the 24-hour rule, the Microsoft wait: `ctx.profile`), render its shapes.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from mailfleet.auth.dependencies import Editor, RequestContext, Viewer
from mailfleet.billing.renewals.hooks import NewMailbox as ScheduledEntry
from mailfleet.billing.scheduled import service as scheduled_service
from mailfleet.compat.zapmail.envelope import (
    Contains,
    Envelope,
    PageLimit,
    PageNumber,
    ReadProvider,
    ServiceProvider,
    page_counters,
    respond,
    respond_flat,
)
from mailfleet.compat.zapmail.mailboxes import schemas
from mailfleet.domains import service as domain_service
from mailfleet.exceptions import MailfleetError, Unprocessable
from mailfleet.kit.errordocs import errors
from mailfleet.mailboxes import bulk, grouped
from mailfleet.mailboxes import service as mailbox_service
from mailfleet.mailboxes.actions import service as action_service
from mailfleet.models.enums import MailboxType, Role
from mailfleet.orders import service as order_service

router = APIRouter(tags=["mailbox"])

MailboxId = Annotated[uuid.UUID, Query(description="The mailbox's id.")]
ASSIGNED = "Mailboxes will be assigned shortly"


def _may_see_logins(ctx: RequestContext) -> bool:
    return ctx.role is not None and ctx.role.at_least(Role.EDITOR)


@router.get(
    "/api/v2/mailboxes/list",
    summary="Retrieve All Mailboxes",
    response_model=Envelope[schemas.MailboxPage],
)
@router.get(
    "/api/v1/mailbox/list",
    summary="Retrieve All Mailboxes (v1)",
    response_model=Envelope[schemas.MailboxPage],
)
def list_mailboxes(
    ctx: Viewer,
    provider: ReadProvider,
    page: PageNumber = 1,
    limit: PageLimit = 10,
    contains: Contains = None,
) -> Response:
    """A page of domains with their mailboxes, and the workspace's slot totals."""
    found = grouped.by_domain(
        ctx.session,
        ctx.workspace(),
        contains=contains,
        page=page,
        limit=limit,
        mailbox_type=provider,
    )
    mailboxes = [m for item in found.items for m in item.mailboxes]
    logins = mailbox_service.credentials_of(ctx.secrets, mailboxes) if _may_see_logins(ctx) else {}
    data = schemas.page(found, logins, page_counters(found.total, page, limit))
    return respond(
        Envelope[schemas.MailboxPage], "Mailboxes fetched successfully", data, secret=bool(logins)
    )


def _one(
    ctx: RequestContext, mailbox_id: uuid.UUID
) -> tuple[Any, str, mailbox_service.Credentials | None]:
    workspace_id = ctx.workspace()
    mailbox = mailbox_service.get_mailbox(
        ctx.session, workspace_id=workspace_id, mailbox_id=mailbox_id
    )
    domain = domain_service.get_domain(
        ctx.session, workspace_id=workspace_id, domain_id=mailbox.domain_id
    )
    logins = mailbox_service.credentials_of(ctx.secrets, [mailbox]) if _may_see_logins(ctx) else {}
    return mailbox, domain.name, logins.get(mailbox.id)


@router.get(
    "/api/v2/mailboxes",
    summary="Get Mailbox Details by ID",
    response_model=Envelope[schemas.OneMailbox],
    openapi_extra=errors("mailbox_not_found"),
)
def get_mailbox(ctx: Viewer, id: MailboxId) -> Response:  # noqa: A002 (the document's name)
    """One mailbox with its app password and TOTP secret (null for a VIEWER)."""
    mailbox, domain, login = _one(ctx, id)
    data = {"mailbox": schemas.details(mailbox, domain, login)}
    return respond(Envelope[schemas.OneMailbox], "Mailbox fetched successfully", data, secret=True)


@router.get(
    "/api/v1/mailbox/details",
    summary="Get Mailbox Details by ID (v1)",
    response_model=Envelope[schemas.OneMailboxV1],
    openapi_extra=errors("mailbox_not_found"),
)
def get_mailbox_v1(ctx: Viewer, id: MailboxId) -> Response:  # noqa: A002
    """One mailbox, without its app password and TOTP secret (as v1 answers)."""
    mailbox, domain, _ = _one(ctx, id)
    data = {"mailbox": schemas.details(mailbox, domain, None)}
    return respond(Envelope[schemas.OneMailboxV1], "Mailbox fetched successfully", data)


def _requests(
    ctx: RequestContext, body: schemas.Assignment, provider: MailboxType | None
) -> list[order_service.OrderRequest]:
    """One order per domain of the body; the type is x-service-provider's, else the domain's
    own, else GOOGLE. Every domainName must be its domain id's name."""
    workspace_id = ctx.workspace()
    domains = domain_service.domains_by_id(ctx.session, workspace_id, set(body.root))
    requests = []
    for domain_id, entries in body.root.items():
        domain = domains.get(domain_id)
        if domain is not None:
            for entry in entries:
                if entry.domain_name.strip().lower().rstrip(".") != domain.name:
                    raise Unprocessable(
                        f"domainName {entry.domain_name!r} is not the name of domain "
                        f"{domain_id} ({domain.name}).",
                        code="validation_error",
                        field=f"{domain_id}.domainName",
                    )
        kind = provider or (domain.mailbox_type if domain else None) or MailboxType.GOOGLE
        requests.append(
            order_service.OrderRequest(
                workspace_id,
                str(domain_id),
                kind,
                [
                    order_service.NewMailbox(e.first_name, e.last_name, e.mailbox_username)
                    for e in entries
                ],
            )
        )
    return requests


@router.post(
    "/api/v2/mailboxes",
    summary="Assign New Mailboxes to Domains",
    response_model=Envelope[None],
    openapi_extra=errors(*order_service.CREATE_ORDER_ERRORS),
)
@router.post(
    "/api/v1/mailbox/assign-new",
    summary="Assign New Mailboxes to Domains (v1)",
    response_model=Envelope[None],
    openapi_extra=errors(*order_service.CREATE_ORDER_ERRORS),
)
def assign_mailboxes(
    body: schemas.Assignment, ctx: Editor, provider: ServiceProvider = None
) -> Response:
    """Mailboxes on many domains at once, all or nothing: a domain refused by a rule (no slots,
    the 24-hour rule, 5 per domain, the Microsoft wait, a taken username) refuses the request
    and nothing is created."""
    if not body.root:
        raise Unprocessable("The payload must name at least one domain.", code="validation_error")
    results = order_service.create_orders(
        ctx.session,
        ctx.settings,
        ctx.profile,
        _requests(ctx, body, provider),
        user_id=ctx.user_id,
        actor=ctx.actor,
    )
    for result in results:
        if isinstance(result, MailfleetError):
            # The request's transaction rolls back: the accepted domains' orders go too.
            raise result
    return respond(Envelope[None], ASSIGNED, None)


@router.put(
    "/api/v2/mailboxes/scheduled-removal",
    summary="Remove mailboxes on next renewal",
    response_model=schemas.Plain,
    openapi_extra=errors("mailbox_not_found", "mailbox_not_active", "removal_not_scheduled"),
)
@router.put(
    "/api/v1/mailbox/remove-mailboxes-on-next-renewal",
    summary="Remove mailboxes on next renewal (v1)",
    response_model=schemas.Plain,
    openapi_extra=errors("mailbox_not_found", "mailbox_not_active", "removal_not_scheduled"),
)
def schedule_removal(body: schemas.MailboxIds, ctx: Editor) -> Response:
    """`remove: true` schedules removal at the next renewal, `false` cancels it; an empty
    `mailboxIds` means every active mailbox (every scheduled one when cancelling)."""
    bulk.schedule_removals(
        ctx.session,
        workspace_id=ctx.workspace(),
        ids=body.mailbox_ids,
        remove=body.remove,
        actor=ctx.actor,
    )
    message = (
        "Mailbox will be removed on next renewal"
        if body.remove
        else "Mailbox removal on next renewal is cancelled"
    )
    return respond_flat(schemas.Plain, {"message": message, "data": None})


@router.get(
    "/api/v2/mailboxes/authenticator-code",
    summary="Get Authenticator code",
    response_model=Envelope[schemas.AuthenticatorCode],
    openapi_extra=errors("mailbox_not_found", "no_totp_secret", "unusable_totp_secret"),
)
def authenticator_code(
    ctx: Editor,
    mailbox_id: Annotated[uuid.UUID | None, Query(alias="mailboxId")] = None,
    domain_id: Annotated[uuid.UUID | None, Query(alias="domainId")] = None,
) -> Response:
    """The mailbox's current TOTP code and the seconds it stays valid."""
    if mailbox_id is None:
        # Mailfleet keeps no admin account per Microsoft domain: a domain alone names no secret.
        raise Unprocessable(
            "mailboxId is required: Mailfleet keeps authenticator secrets per mailbox, not per "
            "domain admin account.",
            code="validation_error",
            field="mailboxId" if domain_id is None else "domainId",
        )
    found = action_service.current_code(
        ctx.session, ctx.secrets, workspace_id=ctx.workspace(), mailbox_id=mailbox_id
    )
    data = {"code": found.code, "expiresIn": found.expires_in}
    return respond(
        Envelope[schemas.AuthenticatorCode],
        "Authenticator code fetched successfully",
        data,
        secret=True,
    )


@router.post(
    "/api/v2/mailboxes/remove-mailboxes-instantly",
    summary="Remove Mailboxes Instantly",
    response_model=Envelope[schemas.RemovalQueued],
    openapi_extra=errors("mailbox_not_found", "mailbox_failed"),
)
def remove_instantly(body: schemas.MailboxIds, ctx: Editor) -> Response:
    """Deletes the mailboxes now; their slots stay held until the next renewal. `remove:
    false` removes nothing."""
    queued = 0
    if body.remove:
        queued = bulk.remove_instantly(
            ctx.session, workspace_id=ctx.workspace(), ids=body.mailbox_ids, actor=ctx.actor
        )
    return respond(
        Envelope[schemas.RemovalQueued],
        "Mailbox will be removed shortly",
        {"totalMailboxesQueued": queued},
    )


@router.post(
    "/api/v2/mailboxes/schedule",
    summary="schedule mailbox creation",
    deprecated=True,
    response_model=Envelope[None],
    openapi_extra=errors(
        "domain_not_found",
        "no_slot_at_renewal",
        "no_subscription_for_type",
        "username_scheduled",
        "mailbox_type_required",
    ),
)
def schedule_creation(
    body: schemas.Assignment, ctx: Editor, provider: ServiceProvider = None
) -> Response:
    """Mailboxes created at the next renewal of the subscription covering their type."""
    workspace_id = ctx.workspace()
    for domain_id, entries in body.root.items():
        scheduled_service.schedule(
            ctx.session,
            workspace_id=workspace_id,
            domain_id=domain_id,
            mailboxes=[
                ScheduledEntry(e.mailbox_username, e.first_name, e.last_name) for e in entries
            ],
            mailbox_type=provider,
            actor=ctx.actor,
        )
    return respond(Envelope[None], "Mailboxes will be created on next renewal", None)


@router.put(
    "/api/v2/mailboxes/retry-failed",
    summary="retry creation of failed mailboxes",
    response_model=Envelope[None],
    openapi_extra=errors("domain_not_found", "quota_exceeded", "domain_not_active"),
)
def retry_failed(
    body: schemas.DomainIds, ctx: Editor, provider: ServiceProvider = None
) -> Response:
    """Every FAILED mailbox of the domains goes back to its backend, if its place is free."""
    workspace_id = ctx.workspace()
    for mailbox_id in bulk.failed_on_domains(
        ctx.session, workspace_id=workspace_id, domain_ids=body.domain_ids
    ):
        action_service.retry_failed(
            ctx.session,
            ctx.settings,
            workspace_id=workspace_id,
            mailbox_id=mailbox_id,
            actor=ctx.actor,
        )
    return respond(Envelope[None], "Failed mailboxes will be retried shortly", None)
