"""Every operation of the InboxedUp document: parse its shapes, call the native services,
render its shapes. No rule lives here (the services hold them, with this surface's profile)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from mailfleet.account import service as account_service
from mailfleet.auth.dependencies import Admin, Editor, Viewer
from mailfleet.billing.subscriptions import service as subscription_service
from mailfleet.billing.subscriptions.transitions import HOLDING_SLOTS
from mailfleet.compat.inboxedup import ids, renderings, schemas, statuses
from mailfleet.domains import service as domain_service
from mailfleet.domains.listing import DomainQuery
from mailfleet.domains.verification import service as verification_service
from mailfleet.exceptions import NotFound, Unprocessable
from mailfleet.kit.errordocs import errors
from mailfleet.mailboxes import service as mailbox_service
from mailfleet.models.enums import DomainStatus, OrderStatus, Role
from mailfleet.orders import service as order_service

router = APIRouter()

Limit = Annotated[int, Query(ge=1, le=100, description="Page size (default 50).")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="`pagination.nextCursor` of the last page.")
]
DomainRef = Annotated[str, Path(max_length=100, description="The domain's id (dom_...).")]
RequestRef = Annotated[str, Path(max_length=100, description="The request's id (req_...).")]
CREATED_MESSAGE = "Your mailbox request has been received and is being processed."


def _json(
    schema: type[BaseModel],
    payload: Any,
    status: int = 200,
    *,
    secret: bool = False,
    only_set: bool = False,
) -> Response:
    # `only_set` leaves out the fields the payload does not set: the optional additions
    # (credentials) appear only when asked for.
    body = schema.model_validate(payload).model_dump_json(by_alias=True, exclude_unset=only_set)
    headers = {"Cache-Control": "no-store"} if secret else None
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _data(schema: type[BaseModel], data: Any, status: int = 200) -> Response:
    return _json(schemas.Envelope[schema], {"success": True, "data": data}, status)  # type: ignore[valid-type]


def _page(
    schema: type[BaseModel],
    items: Sequence[Any],
    cursor: str | None,
    limit: int,
    *,
    only_set: bool = False,
) -> Response:
    payload = {
        "success": True,
        "data": items,
        "pagination": {"limit": limit, "next_cursor": cursor, "has_more": cursor is not None},
    }
    return _json(schemas.ListEnvelope[schema], payload, only_set=only_set)  # type: ignore[valid-type]


def _domain_id(ref: str) -> Any:
    found = ids.decode(ids.DOMAIN, ref)
    if found is None:
        raise NotFound(f"Domain {ref} not found.", code="domain_not_found")
    return found


# Account


@router.get(
    "/account",
    tags=["Account"],
    summary="Get account overview",
    response_model=schemas.Envelope[schemas.Account],
)
def get_account(ctx: Viewer) -> Response:
    """You, your allocations per mailbox type and the account's counts."""
    overview = account_service.overview(ctx.session, ctx.principal, ctx.workspace())
    return _data(schemas.Account, renderings.account(overview))


# Subscriptions


@router.get(
    "/subscriptions",
    tags=["Subscriptions"],
    summary="List active subscriptions",
    response_model=schemas.ListEnvelope[schemas.Subscription],
)
def list_subscriptions(ctx: Viewer, limit: Limit = 50, cursor: Cursor = None) -> Response:
    """The subscriptions holding slots now (ACTIVE, and PAST_DUE during their grace days)."""
    rows, next_cursor = subscription_service.list_subscriptions(
        ctx.session,
        ctx.workspace(),
        statuses=sorted(HOLDING_SLOTS),
        q=None,
        cursor=cursor,
        limit=limit,
    )
    return _page(
        schemas.Subscription, [renderings.subscription(s) for s in rows], next_cursor, limit
    )


@router.patch(
    "/subscriptions/{subscriptionId}",
    tags=["Subscriptions"],
    summary="Update subscription notes",
    response_model=schemas.Envelope[schemas.Subscription],
    openapi_extra=errors("subscription_not_found"),
)
def update_subscription_notes(
    subscription_id: Annotated[str, Path(alias="subscriptionId", max_length=100)],
    body: schemas.SubscriptionNotes,
    ctx: Admin,
) -> Response:
    """Set (or, with null, clear) a subscription's notes."""
    subscription = subscription_service.set_notes(
        ctx.session, ctx.workspace(Role.ADMIN), subscription_id, body.notes, actor=ctx.actor
    )
    return _data(schemas.Subscription, renderings.subscription(subscription))


# Domains


@router.post(
    "/domains",
    status_code=201,
    tags=["Domains"],
    summary="Submit domains",
    response_model=schemas.Envelope[schemas.Submitted],
    openapi_extra=errors("too_many_domains", "no_domain_accepted"),
)
def submit_domains(body: schemas.DomainSubmit, ctx: Editor) -> Response:
    """Submit a batch of names: each is accepted (QUEUED, with its nameserver pair) or refused
    on its own; poll the batch for their progress."""
    result = domain_service.submit(
        ctx.session,
        ctx.settings,
        workspace_id=ctx.workspace(),
        names=body.domains,
        mailbox_type=None,
        tags=[],
        actor=ctx.actor,
    )
    return _data(schemas.Submitted, renderings.submitted(result, len(body.domains)), 201)


@router.get(
    "/domains",
    tags=["Domains"],
    summary="List domains",
    response_model=schemas.ListEnvelope[schemas.Domain],
)
def list_domains(
    ctx: Viewer,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: DomainStatus | None = None,
    search: Annotated[str | None, Query(max_length=253, description="Text in the name.")] = None,
) -> Response:
    """Your domains, newest first (REMOVED ones only with `status=REMOVED`)."""
    query = DomainQuery.of(
        ctx.workspace(),
        statuses=[status] if status else None,
        mailbox_type=None,
        text=search,
        batch_id=None,
        sort=None,
        cursor=cursor,
        limit=limit,
    )
    rows, next_cursor = domain_service.list_domains(ctx.session, query)
    return _page(schemas.Domain, [renderings.domain(d) for d in rows], next_cursor, limit)


@router.get(
    "/domains/batch/{batchId}",
    tags=["Domains"],
    summary="Get batch status",
    response_model=schemas.Envelope[schemas.BatchStatus],
    openapi_extra=errors("domain_batch_not_found"),
)
def batch_status(
    batch_id: Annotated[str, Path(alias="batchId", max_length=100)], ctx: Viewer
) -> Response:
    """Where a submission stands: counts per status and its domains grouped by the nameserver
    pair to set at the registrar. Domains move QUEUED -> PENDING_NS -> ACTIVE."""
    found = ids.decode(ids.BATCH, batch_id)
    if found is None:
        raise NotFound(f"Batch {batch_id} not found.", code="domain_batch_not_found")
    report = domain_service.batch_report(ctx.session, workspace_id=ctx.workspace(), batch_id=found)
    return _data(schemas.BatchStatus, renderings.batch(report))


@router.get(
    "/domains/{domainId}",
    tags=["Domains"],
    summary="Get domain",
    response_model=schemas.Envelope[schemas.Domain],
    openapi_extra=errors("domain_not_found"),
)
def get_domain(domain_id: Annotated[DomainRef, Path(alias="domainId")], ctx: Viewer) -> Response:
    domain = domain_service.get_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=_domain_id(domain_id)
    )
    return _data(schemas.Domain, renderings.domain(domain))


@router.delete(
    "/domains/{domainId}",
    tags=["Domains"],
    summary="Remove domain",
    response_model=schemas.Envelope[schemas.Domain],
    openapi_extra=errors("domain_not_found", "domain_has_mailboxes"),
)
def remove_domain(domain_id: Annotated[DomainRef, Path(alias="domainId")], ctx: Editor) -> Response:
    """Remove a domain that has no live mailboxes (422 `domain_has_mailboxes` otherwise)."""
    domain = domain_service.remove_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=_domain_id(domain_id), actor=ctx.actor
    )
    return _data(schemas.Domain, renderings.domain(domain))


@router.post(
    "/domains/{domainId}/verify",
    tags=["Domains"],
    summary="Verify domain NS propagation",
    response_model=schemas.Envelope[schemas.Verification],
    openapi_extra=errors("domain_not_found"),
)
def verify_domain(
    domain_id: Annotated[DomainRef, Path(alias="domainId")], ctx: Editor, request: Request
) -> Response:
    """Check now whether the registrar delegates to the assigned pair; a delegated domain
    becomes ACTIVE."""
    domain = domain_service.get_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=_domain_id(domain_id)
    )
    # The check waits on the network: end this request's transaction first so no lock is held.
    ctx.session.commit()
    result = verification_service.verify_now(request.app.state.runtime, domain.id, actor=ctx.actor)
    return _data(schemas.Verification, renderings.verification(domain, result))


# Mailboxes


@router.post(
    "/mailboxes",
    status_code=201,
    tags=["Mailboxes"],
    summary="Request mailboxes",
    response_model=schemas.MailboxRequestCreated,
    openapi_extra=errors(*order_service.CREATE_ORDER_ERRORS),
)
def request_mailboxes(body: schemas.MailboxRequestCreate, ctx: Editor) -> Response:
    """Submit a mailbox provisioning request for a domain. The domain must be ACTIVE. Per-domain
    limits: Microsoft 365 3, Google Workspace 3, SMTP 5, SMTP Dedicated 10; pending, in-progress
    and completed requests count toward them, only failed ones free slots."""
    mailbox_type = statuses.parse_type(body.type)
    if mailbox_type is None:
        raise Unprocessable(
            "type must be one of microsoft, google, smtp, smtp_dedicated (any case).",
            code="validation_error",
            field="type",
        )
    domain_id = ids.decode(ids.DOMAIN, body.domain) if body.domain.startswith(ids.DOMAIN) else None
    view = order_service.create_order(
        ctx.session,
        ctx.settings,
        ctx.profile,
        workspace_id=ctx.workspace(),
        domain_ref=str(domain_id) if domain_id else body.domain,
        mailbox_type=mailbox_type,
        mailboxes=[
            order_service.NewMailbox(m.first_name, m.last_name, m.mailbox_username)
            for m in body.mailboxes
        ],
        user_id=ctx.user_id,
        actor=ctx.actor,
    )
    payload = renderings.created(view, CREATED_MESSAGE)
    return _json(schemas.MailboxRequestCreated, payload, 201)


@router.get(
    "/mailboxes",
    tags=["Mailboxes"],
    summary="List mailbox requests",
    response_model=schemas.ListEnvelope[schemas.MailboxRequest],
)
def list_mailbox_requests(
    ctx: Viewer,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: OrderStatus | None = None,
    domain_id: Annotated[str | None, Query(alias="domainId", max_length=100)] = None,
) -> Response:
    """Your mailbox requests, newest first, with their mailboxes."""
    workspace_id = ctx.workspace()
    domain = ids.decode(ids.DOMAIN, domain_id) if domain_id else None
    if domain_id and domain is None:
        raise Unprocessable(
            "domainId is not a domain id (dom_...).", code="validation_error", field="domainId"
        )
    views, next_cursor = order_service.list_orders(
        ctx.session,
        workspace_id=workspace_id,
        statuses=[status] if status else None,
        domain_id=domain,
        cursor=cursor,
        limit=limit,
    )
    domains = domain_service.domains_by_id(
        ctx.session, workspace_id, {view.order.domain_id for view in views}
    )
    items = [renderings.mailbox_request(v, domains[v.order.domain_id]) for v in views]
    return _page(schemas.MailboxRequest, items, next_cursor, limit, only_set=True)


@router.get(
    "/mailboxes/{requestId}",
    tags=["Mailboxes"],
    summary="Get mailbox request",
    response_model=schemas.Envelope[schemas.MailboxRequest],
    openapi_extra=errors("mailbox_order_not_found", "insufficient_role"),
)
def get_mailbox_request(
    request_id: Annotated[RequestRef, Path(alias="requestId")],
    ctx: Viewer,
    include: Annotated[
        str | None,
        Query(
            pattern="^credentials$",
            description="`credentials`: add each ACTIVE mailbox's login (EDITOR role and up).",
        ),
    ] = None,
) -> Response:
    """A request, its domain's state and its mailboxes; with `include=credentials`, the
    logins of the ACTIVE ones (a Mailfleet addition)."""
    order_id = ids.decode(ids.REQUEST, request_id)
    if order_id is None:
        raise NotFound(f"Mailbox request {request_id} not found.", code="mailbox_order_not_found")
    workspace_id = ctx.workspace(Role.EDITOR) if include else ctx.workspace()
    view = order_service.get_order(ctx.session, workspace_id=workspace_id, order_id=order_id)
    domain = domain_service.get_domain(
        ctx.session, workspace_id=workspace_id, domain_id=view.order.domain_id
    )
    logins = mailbox_service.credentials_of(ctx.secrets, view.mailboxes) if include else None
    payload = renderings.mailbox_request(view, domain, logins)
    return _json(
        schemas.Envelope[schemas.MailboxRequest],
        {"success": True, "data": payload},
        secret=bool(include),
        only_set=True,
    )
