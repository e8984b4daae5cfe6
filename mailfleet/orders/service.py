"""Mailbox orders: creation under every business rule, listing and reading. The caller commits.

Creation is check-then-insert, made race-free by locks taken in one fixed order: the
workspace's Allocation row for the type first, then the Domain row (SELECT ... FOR UPDATE on
PostgreSQL; on SQLite the write transaction already holds the database write lock).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.auth.scoping import get_scoped, scoped, scoped_columns
from mailfleet.config import Settings
from mailfleet.dns import tasks as dns_tasks
from mailfleet.domains.names import NameError_, normalise
from mailfleet.exceptions import NotFound, Unprocessable
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.mailboxes import rules
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
    if len(mailboxes) > settings.max_mailboxes_per_order:
        raise Unprocessable(
            f"An order holds at most {settings.max_mailboxes_per_order} mailboxes; "
            f"got {len(mailboxes)}.",
            code="too_many_mailboxes",
            field="mailboxes",
        )
    domain_id = _resolve_domain(session, workspace_id, domain_ref, settings.local_tlds)
    usernames = rules.normalise_usernames([m.username for m in mailboxes])

    # Lock order: Allocation, then Domain. Every writer of either takes them in this order.
    allocation = session.scalars(
        select(Allocation)
        .where(Allocation.workspace_id == workspace_id, Allocation.mailbox_type == mailbox_type)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    domain = session.scalars(
        scoped(Domain, workspace_id)
        .where(Domain.id == domain_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    now = clock.now()
    rules.check_domain_accepts(session, profile, domain, mailbox_type, len(mailboxes), now)
    rules.check_quota(session, allocation, workspace_id, mailbox_type, len(mailboxes), now)
    rules.check_usernames_free(session, domain.id, usernames)

    if domain.mailbox_type is None:
        domain.mailbox_type = mailbox_type
        dns_tasks.after_type_known(session, domain.id)
    order = order_status.open_order(
        session,
        workspace_id=workspace_id,
        domain_id=domain.id,
        mailbox_type=mailbox_type,
        user_id=user_id,
        actor=actor,
        mailboxes=len(mailboxes),
        now=now,
    )
    backend_name = settings.backend_for(mailbox_type)
    backend = backend_for(backend_name)
    expires_at = now + timedelta(days=settings.renewal_period_days)
    # Sorted, so that id order (how mailboxes are listed) is the order they were given in.
    ids = sorted(uuid7() for _ in mailboxes)
    rows = [
        {
            "id": mailbox_id,
            "workspace_id": workspace_id,
            "domain_id": domain.id,
            "order_id": order.id,
            "username": username,
            "address": f"{username}@{domain.name}",
            "first_name": entry.first_name,
            "last_name": entry.last_name,
            "mailbox_type": mailbox_type,
            "backend": backend_name,
            "expires_at": expires_at,
            "remove_at_renewal": False,
            "created_at": now,
            "updated_at": now,
        }
        for mailbox_id, entry, username in zip(ids, mailboxes, usernames, strict=True)
    ]
    # One executemany for the whole order.
    mailbox_transitions.insert_ordered(session, rows, actor=actor, reason="ordered")
    created = list(
        session.scalars(select(Mailbox).where(Mailbox.order_id == order.id).order_by(Mailbox.id))
    )
    backend.provision(session, created, actor=actor)
    return OrderView(order, domain.name, created)


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
