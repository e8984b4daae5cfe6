"""Mailbox orders: creation under every business rule, listing and reading. The caller commits.

Creation is check-then-insert, made race-free by locks taken in one fixed order: the
workspace's Allocation rows of the type's pool first (every type a unified plan pools with it,
`billing.slots.lock_pools`), then the Domain row (SELECT ... FOR UPDATE on PostgreSQL; on
SQLite the write transaction already holds the database write lock). `create_orders` does the
same for many orders at once (a renewal's scheduled mailboxes); `create_order` is one of it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.auth.scoping import get_scoped, scoped, scoped_columns
from mailfleet.billing import slots
from mailfleet.config import Settings
from mailfleet.dns import tasks as dns_tasks
from mailfleet.domains.names import NameError_, normalise
from mailfleet.exceptions import MailfleetError, NotFound, Unprocessable
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.mailboxes import expiry, rules
from mailfleet.mailboxes import transitions as mailbox_transitions
from mailfleet.mailboxes.backends import backend_for
from mailfleet.models import (
    Allocation,
    Domain,
    DomainStatus,
    Mailbox,
    MailboxOrder,
    MailboxType,
    OrderStatus,
)
from mailfleet.orders import status as order_status
from mailfleet.policy import PolicyProfile

# Every code creating an order can answer with, for the routes of every surface that do it.
CREATE_ORDER_ERRORS = (
    "domain_not_found",
    "too_many_mailboxes",
    "invalid_username",
    "duplicate_username",
    "domain_not_active",
    "domain_type_mismatch",
    "microsoft_mailboxes_not_active",
    "recent_mailbox_creation",
    "domain_mailbox_limit",
    "quota_exceeded",
    "username_taken",
    "backend_unavailable",
)


@dataclass(frozen=True)
class NewMailbox:
    first_name: str
    last_name: str
    username: str


@dataclass
class OrderView:
    """An order with its domain's name and its mailboxes, shaped like `schemas.Order`."""

    order: MailboxOrder
    domain: str
    mailboxes: list[Mailbox] = field(default_factory=list)

    def payload(self) -> dict[str, object]:
        order = self.order
        return {
            "id": order.id,
            "domain_id": order.domain_id,
            "domain": self.domain,
            "type": order.mailbox_type,
            "status": order.status,
            "operator_notes": order.operator_notes,
            "failure_reason": order.failure_reason,
            "created_at": order.created_at,
            "updated_at": order.updated_at,
            "completed_at": order.completed_at,
            "mailboxes": self.mailboxes,
        }


@dataclass(frozen=True)
class OrderRequest:
    """One order of a batch (`create_orders`): mailboxes of one type on one domain."""

    workspace_id: uuid.UUID
    domain_ref: str
    mailbox_type: MailboxType
    mailboxes: Sequence[NewMailbox]
    # Slots the order takes over from mailboxes it replaces (a domain swap removes them once
    # these are made): that many of its mailboxes need no free slot.
    held_slots: int = 0

    @property
    def new_slots(self) -> int:
        return max(0, len(self.mailboxes) - self.held_slots)


@dataclass
class _Accepted:
    request: OrderRequest
    domain: Domain
    usernames: list[str]


def create_order(
    session: Session,
    settings: Settings,
    profile: PolicyProfile,
    *,
    workspace_id: uuid.UUID,
    domain_ref: str,
    mailbox_type: MailboxType,
    mailboxes: Sequence[NewMailbox],
    user_id: uuid.UUID | None,
    actor: str,
) -> OrderView:
    request = OrderRequest(workspace_id, domain_ref, mailbox_type, mailboxes)
    result = create_orders(session, settings, profile, [request], user_id=user_id, actor=actor)[0]
    if isinstance(result, MailfleetError):
        raise result
    return result


def create_orders(
    session: Session,
    settings: Settings,
    profile: PolicyProfile,
    requests: Sequence[OrderRequest],
    *,
    user_id: uuid.UUID | None,
    actor: str,
) -> list[OrderView | MailfleetError]:
    """Create many orders under every rule, in a few statements; per request, its order or
    the error of the rule that refused it (a refused one writes nothing).

    All the checks of a round run before its writes, so two requests on one domain go to
    successive rounds: each sees what the one before it wrote. Requests of one workspace on
    different domains share a round (an assign across 1,000 domains is one round); they share
    only the workspace's quota, which the round reads once and draws down request by request."""
    results: list[OrderView | MailfleetError | None] = [None] * len(requests)
    ready = _prepare(session, settings, requests, results)
    # Lock order: the pools' Allocation rows, then the Domain rows, each sorted. Every writer
    # of either takes them in this order.
    allocations = slots.lock_pools(
        session, {(requests[i].workspace_id, requests[i].mailbox_type) for i in ready}, clock.now()
    )
    domains = _lock_domains(session, {domain_id for domain_id, _ in ready.values()})
    for round_ in _rounds(requests, ready):
        now = clock.now()
        keys = [(requests[i].workspace_id, requests[i].mailbox_type) for i in round_]
        # Each quota is read once per round, in bulk when there are many; what the round's
        # accepted requests take from it is counted in `drawn` (per workspace and pool).
        found = slots.quotas(session, keys, now) if len(round_) > 1 else {}
        drawn: dict[tuple[uuid.UUID, frozenset[MailboxType]], int] = defaultdict(int)
        # A domain is one workspace's, so it comes once per round: its facts, read for the
        # whole round in one query per rule, are what its check would read alone.
        facts, taken = _round_facts(session, profile, requests, ready, round_)
        accepted: dict[int, _Accepted] = {}
        for index, key in zip(round_, keys, strict=True):
            request, (domain_id, usernames) = requests[index], ready[index]
            domain = domains[domain_id]
            allocation = allocations.get(key)
            quota = found.get(key)
            pool = (request.workspace_id, quota.pool) if quota is not None else None
            if quota is not None and pool is not None:
                quota = slots.Quota(quota.pool, quota.allocated, quota.used + drawn[pool])
            try:
                _check(
                    session,
                    profile,
                    request,
                    allocation,
                    domain,
                    usernames,
                    now,
                    quota,
                    facts[domain_id],
                    taken[domain_id],
                )
            except MailfleetError as exc:
                results[index] = exc
                continue
            if pool is not None:
                drawn[pool] += request.new_slots
            accepted[index] = _Accepted(request, domain, usernames)
        views = _write(session, settings, list(accepted.values()), user_id, actor, now)
        for index, view in zip(accepted, views, strict=True):
            results[index] = view
    return [result for result in results if result is not None]


def _prepare(
    session: Session,
    settings: Settings,
    requests: Sequence[OrderRequest],
    results: list[OrderView | MailfleetError | None],
) -> dict[int, tuple[uuid.UUID, list[str]]]:
    """The checks that need no lock: size, the domain named, the usernames' syntax."""
    ready = {}
    by_id = _domains_by_id(session, [r.domain_ref for r in requests]) if len(requests) > 1 else {}
    for index, request in enumerate(requests):
        try:
            if len(request.mailboxes) > settings.max_mailboxes_per_order:
                raise Unprocessable(
                    f"An order holds at most {settings.max_mailboxes_per_order} mailboxes; "
                    f"got {len(request.mailboxes)}.",
                    code="too_many_mailboxes",
                    field="mailboxes",
                )
            domain_id = by_id.get((request.workspace_id, request.domain_ref)) or _resolve_domain(
                session, request.workspace_id, request.domain_ref, settings.local_tlds
            )
            usernames = rules.normalise_usernames([m.username for m in request.mailboxes])
        except MailfleetError as exc:
            results[index] = exc
            continue
        ready[index] = (domain_id, usernames)
    return ready


def _domains_by_id(session: Session, refs: list[str]) -> dict[tuple[uuid.UUID, str], uuid.UUID]:
    """The refs that are domain ids, found in one query: {(workspace, ref): id}. The others
    (names, unknown ids) go through `_resolve_domain`, which finds them or says why not."""
    ids = {}
    for ref in refs:
        try:
            ids[uuid.UUID(ref.strip())] = ref
        except ValueError:
            continue
    if not ids:
        return {}
    found = session.execute(select(Domain.id, Domain.workspace_id).where(Domain.id.in_(ids)))
    return {(workspace_id, ids[domain_id]): domain_id for domain_id, workspace_id in found}


def _lock_domains(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Domain]:
    if not ids:
        return {}
    found = session.scalars(
        select(Domain)
        .where(Domain.id.in_(ids))
        .order_by(Domain.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {domain.id: domain for domain in found}


def _rounds(
    requests: Sequence[OrderRequest], ready: dict[int, tuple[uuid.UUID, list[str]]]
) -> list[list[int]]:
    """The k-th round holds each domain's k-th request."""
    rounds: list[list[int]] = []
    seen: dict[uuid.UUID, int] = defaultdict(int)
    for index in sorted(ready):
        domain_id = ready[index][0]
        k = seen[domain_id]
        seen[domain_id] += 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append(index)
    return rounds


def _round_facts(
    session: Session,
    profile: PolicyProfile,
    requests: Sequence[OrderRequest],
    ready: dict[int, tuple[uuid.UUID, list[str]]],
    round_: list[int],
) -> tuple[dict[uuid.UUID, rules.DomainFacts], dict[uuid.UUID, set[str]]]:
    """What the domain and username rules read, for all the round's domains at once."""
    wanted = {ready[i][0]: ready[i][1] for i in round_}
    microsoft = {
        ready[i][0]
        for i in round_
        if rules.microsoft_rule_applies(profile, requests[i].mailbox_type)
    }
    facts = rules.domain_facts(session, list(wanted), microsoft=microsoft)
    return facts, rules.taken_usernames(session, wanted)


def _check(
    session: Session,
    profile: PolicyProfile,
    request: OrderRequest,
    allocation: Allocation | None,
    domain: Domain,
    usernames: list[str],
    now: datetime,
    quota: slots.Quota | None,
    facts: rules.DomainFacts,
    taken: set[str],
) -> None:
    count, kind = len(request.mailboxes), request.mailbox_type
    rules.check_domain_accepts(session, profile, domain, kind, count, now, facts=facts)
    if request.new_slots:
        rules.check_quota(
            session, allocation, request.workspace_id, kind, request.new_slots, now, found=quota
        )
    rules.check_usernames_free(session, domain.id, usernames, taken=taken)


def _write(
    session: Session,
    settings: Settings,
    accepted: list[_Accepted],
    user_id: uuid.UUID | None,
    actor: str,
    now: datetime,
) -> list[OrderView]:
    """The orders, their mailboxes and events of one round: one insert each, whatever their
    number; then each backend is handed its new mailboxes once."""
    if not accepted:
        return []
    typed = []
    for item in accepted:
        if item.domain.mailbox_type is None:
            item.domain.mailbox_type = item.request.mailbox_type
            typed.append(item.domain.id)
    # Their records are published by one job per chunk, not one per domain.
    dns_tasks.after_types_known(session, typed)
    orders = order_status.open_orders(
        session,
        [
            order_status.NewOrder(
                a.request.workspace_id, a.domain.id, a.request.mailbox_type, len(a.usernames)
            )
            for a in accepted
        ],
        user_id=user_id,
        actor=actor,
        now=now,
    )
    # Each mailbox's renewal date is its subscription's period end (mailboxes.expiry).
    renews = expiry.renewal_dates(
        session, settings, {(a.request.workspace_id, a.request.mailbox_type) for a in accepted}, now
    )
    rows = []
    for item, order in zip(accepted, orders, strict=True):
        expires_at = renews[(item.request.workspace_id, item.request.mailbox_type)]
        rows += _mailbox_rows(settings, item, order.id, now, expires_at)
    # One executemany for the whole round.
    mailbox_transitions.insert_ordered(session, rows, actor=actor, reason="ordered")
    by_order: dict[uuid.UUID, list[Mailbox]] = defaultdict(list)
    by_backend: dict[str, list[Mailbox]] = defaultdict(list)
    created = session.scalars(
        select(Mailbox).where(Mailbox.order_id.in_([o.id for o in orders])).order_by(Mailbox.id)
    )
    for mailbox in created:
        by_order[cast(uuid.UUID, mailbox.order_id)].append(mailbox)
        by_backend[mailbox.backend].append(mailbox)
    for backend_name, mailboxes in by_backend.items():
        backend_for(backend_name).provision(session, mailboxes, actor=actor)
    return [
        OrderView(order, item.domain.name, by_order[order.id])
        for item, order in zip(accepted, orders, strict=True)
    ]


def _mailbox_rows(
    settings: Settings,
    item: _Accepted,
    order_id: uuid.UUID,
    now: datetime,
    expires_at: datetime,
) -> list[dict[str, Any]]:
    kind, domain = item.request.mailbox_type, item.domain
    # Sorted, so that id order (how mailboxes are listed) is the order they were given in.
    ids = sorted(uuid7() for _ in item.usernames)
    return [
        {
            "id": mailbox_id,
            "workspace_id": item.request.workspace_id,
            "domain_id": domain.id,
            "order_id": order_id,
            "username": username,
            "address": f"{username}@{domain.name}",
            "first_name": entry.first_name,
            "last_name": entry.last_name,
            "mailbox_type": kind,
            "backend": settings.backend_for(kind),
            "expires_at": expires_at,
            "remove_at_renewal": False,
            "created_at": now,
            "updated_at": now,
        }
        for mailbox_id, entry, username in zip(
            ids, item.request.mailboxes, item.usernames, strict=True
        )
    ]


def _resolve_domain(
    session: Session, workspace_id: uuid.UUID, ref: str, local_tlds: Collection[str]
) -> uuid.UUID:
    """The id of the workspace's live domain named or identified by `ref` (404 otherwise)."""
    statement = scoped_columns(Domain, workspace_id, Domain.id)
    try:
        statement = statement.where(Domain.id == uuid.UUID(ref.strip()))
    except ValueError:
        name = normalise(ref, local_tlds=local_tlds)
        if isinstance(name, NameError_):
            raise NotFound(
                f"Domain {ref[:253]!r} not found.", code="domain_not_found", field="domain"
            ) from None
        statement = statement.where(
            Domain.name == name.ascii, Domain.status != DomainStatus.REMOVED
        )
    found: uuid.UUID | None = session.scalar(statement.limit(1))
    if found is None:
        raise NotFound(f"Domain {ref[:253]!r} not found.", code="domain_not_found", field="domain")
    return found


def list_orders(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    statuses: list[OrderStatus] | None,
    domain_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[OrderView], str | None]:
    statement = scoped(MailboxOrder, workspace_id)
    if statuses:
        statement = statement.where(MailboxOrder.status.in_(statuses))
    if domain_id is not None:
        statement = statement.where(MailboxOrder.domain_id == domain_id)
    rows = session.scalars(paginate(statement, MailboxOrder.id, cursor, limit)).all()
    page, next_cursor = split_page(rows, limit, lambda o: o.id)
    return with_mailboxes(session, page), next_cursor


def with_mailboxes(session: Session, orders: Sequence[MailboxOrder]) -> list[OrderView]:
    """Attach domain names and mailboxes to a page of orders: two queries, whatever its size."""
    if not orders:
        return []
    order_ids = [o.id for o in orders]
    names = dict(
        session.execute(
            select(Domain.id, Domain.name).where(Domain.id.in_({o.domain_id for o in orders}))
        ).all()
    )
    by_order: dict[uuid.UUID, list[Mailbox]] = defaultdict(list)
    for mailbox in session.scalars(
        select(Mailbox).where(Mailbox.order_id.in_(order_ids)).order_by(Mailbox.id)
    ):
        if mailbox.order_id is not None:
            by_order[mailbox.order_id].append(mailbox)
    return [OrderView(o, names.get(o.domain_id, ""), by_order[o.id]) for o in orders]


def get_order(session: Session, *, workspace_id: uuid.UUID, order_id: uuid.UUID) -> OrderView:
    order = get_scoped(session, MailboxOrder, workspace_id, order_id)
    return with_mailboxes(session, [order])[0]
