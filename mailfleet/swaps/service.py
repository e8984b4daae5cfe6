"""Starting and reading domain swaps. A swap is checked and recorded here, in the caller's
transaction; the steps after it (`swaps.steps`) run in the worker. The caller commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailfleet.auth.scoping import get_scoped, scoped
from mailfleet.config import MailboxType, Settings
from mailfleet.db import enqueue_after_commit
from mailfleet.domains import service as domain_service
from mailfleet.exceptions import Conflict, FieldError, NotFound, Unprocessable
from mailfleet.kit import clock
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.models import (
    Domain,
    DomainPurchase,
    DomainStatus,
    DomainSwap,
    DomainSwapStatus,
    Mailbox,
    MailboxStatus,
)
from mailfleet.models.enums import DOMAIN_SLOT_STATUSES
from mailfleet.policy import PolicyProfile
from mailfleet.registrars import purchases
from mailfleet.swaps import transitions

ADVANCE = "swaps.advance"
POLL = timedelta(seconds=30)
# A new domain still not delegated after this long fails the swap (the old one is untouched).
DOMAIN_WAIT = timedelta(days=14)
S = DomainSwapStatus
# A new domain the swap can wait for; any other status is refused up front.
USABLE = frozenset({DomainStatus.QUEUED, DomainStatus.PENDING_NS, DomainStatus.ACTIVE})


def start(
    session: Session,
    settings: Settings,
    profile: PolicyProfile,
    *,
    workspace_id: uuid.UUID,
    from_domain_id: uuid.UUID,
    to_domain_id: uuid.UUID | None,
    to_domain: str | None,
    bought: Bought | None = None,
    actor: str,
) -> DomainSwap:
    """Swap every ACTIVE mailbox of one domain onto another: an existing domain of the
    workspace with no mailboxes, a name connected here in the same call, or a name bought in
    the same call (`bought`: priced by the caller with no transaction open)."""
    old = get_scoped(session, Domain, workspace_id, from_domain_id, for_update=True)
    mailboxes = _swappable(session, old)
    kind = mailboxes[0].mailbox_type
    new: Domain | None = None
    purchase: DomainPurchase | None = None
    if to_domain_id is not None:
        new = _existing_target(session, workspace_id, old, to_domain_id, kind)
    elif bought is None:
        new = _connected_target(session, settings, workspace_id, to_domain or "", kind, actor)
    _check_not_swapping(session, workspace_id, [old.id] + ([new.id] if new else []))
    if bought is not None:
        # Paid from the wallet (402 when short) and registered by the worker; nothing is
        # debited when a check above refused the swap.
        [purchase] = purchases.purchase(
            session,
            settings,
            bought.quote,
            registrar=bought.registrar,
            workspace_id=workspace_id,
            actor=actor,
        )
    swap = DomainSwap(
        workspace_id=workspace_id,
        status=S.WAITING_FOR_DOMAIN,
        from_domain_id=old.id,
        to_domain_id=new.id if new else None,
        purchase_id=purchase.id if purchase else None,
        mailbox_type=kind,
        items=[_item(mailbox) for mailbox in mailboxes],
        profile=profile.rules_json(),
        export_ids=[],
        next_check_at=clock.now(),
        created_by=actor,
    )
    session.add(swap)
    session.flush()
    transitions.record_start(session, swap, actor=actor)
    enqueue_after_commit(session, ADVANCE, str(swap.id))
    return swap


@dataclass(frozen=True)
class Bought:
    """A name to buy for the swap: its registrar's quote, made before the transaction."""

    quote: purchases.Quote
    registrar: str


def _swappable(session: Session, old: Domain) -> list[Mailbox]:
    mailboxes = list(
        session.scalars(
            select(Mailbox)
            .where(Mailbox.domain_id == old.id, Mailbox.status == MailboxStatus.ACTIVE)
            .order_by(Mailbox.id)
        )
    )
    if not mailboxes:
        raise Conflict(
            f"{old.name} has no ACTIVE mailbox to swap.",
            code="nothing_to_swap",
            field="from_domain_id",
        )
    return mailboxes


def _existing_target(
    session: Session,
    workspace_id: uuid.UUID,
    old: Domain,
    to_domain_id: uuid.UUID,
    kind: MailboxType,
) -> Domain:
    if to_domain_id == old.id:
        raise Unprocessable(
            "A domain cannot be swapped for itself.", code="swap_same_domain", field="to_domain_id"
        )
    new = get_scoped(session, Domain, workspace_id, to_domain_id, for_update=True)
    if new.status not in USABLE:
        raise Conflict(
            f"{new.name} is {new.status.value}; a swap needs a domain on its way to ACTIVE.",
            code="swap_target_unusable",
            field="to_domain_id",
        )
    held = session.scalar(
        select(Mailbox.id)
        .where(Mailbox.domain_id == new.id, Mailbox.status.in_(DOMAIN_SLOT_STATUSES))
        .limit(1)
    )
    if held is not None:
        raise Conflict(
            f"{new.name} has mailboxes already; swap onto an empty domain.",
            code="swap_target_has_mailboxes",
            field="to_domain_id",
        )
    if new.mailbox_type is not None and new.mailbox_type != kind:
        raise Conflict(
            f"{new.name} is set up for {new.mailbox_type.value} and the mailboxes are "
            f"{kind.value}; change its mailbox type first.",
            code="swap_type_mismatch",
            field="to_domain_id",
        )
    return new


def _connected_target(
    session: Session,
    settings: Settings,
    workspace_id: uuid.UUID,
    name: str,
    kind: MailboxType,
    actor: str,
) -> Domain:
    """Connect `name` here now (QUEUED, as POST /v1/domains does), typed like the old one."""
    try:
        submitted = domain_service.submit(
            session,
            settings,
            workspace_id=workspace_id,
            names=[name],
            mailbox_type=kind,
            tags=[],
            actor=actor,
        )
    except Unprocessable as exc:
        # The batch's reason for its one name, as the error of this field.
        first = exc.errors[0] if exc.errors else FieldError("to_domain", exc.code, exc.detail)
        raise Unprocessable(
            f"{name[:253]} cannot be connected: {first.detail}",
            code="swap_target_refused",
            field="to_domain",
            errors=[FieldError("to_domain", first.code, first.detail)],
        ) from exc
    return session.get_one(Domain, submitted.accepted[0]["id"])


def _check_not_swapping(session: Session, workspace_id: uuid.UUID, ids: list[uuid.UUID]) -> None:
    busy = session.scalar(
        scoped(DomainSwap, workspace_id)
        .where(
            DomainSwap.status.not_in(transitions.ENDS),
            or_(DomainSwap.from_domain_id.in_(ids), DomainSwap.to_domain_id.in_(ids)),
        )
        .limit(1)
    )
    if busy is not None:
        raise Conflict(
            f"Domain swap {busy.id} on one of these domains is still under way.",
            code="domain_swap_in_progress",
        )


def _item(mailbox: Mailbox) -> dict[str, object]:
    return {
        "old_mailbox_id": str(mailbox.id),
        "old_address": mailbox.address,
        "username": mailbox.username,
        "first_name": mailbox.first_name,
        "last_name": mailbox.last_name,
        "has_picture": mailbox.profile_picture_url is not None,
        "new_mailbox_id": None,
        "new_address": None,
        "status": "PENDING",
        "reason": None,
        "exported_to": [],
    }


def get(session: Session, workspace_id: uuid.UUID, swap_id: uuid.UUID) -> DomainSwap:
    found = session.scalars(
        scoped(DomainSwap, workspace_id).where(DomainSwap.id == swap_id)
    ).first()
    if found is None:
        raise NotFound(f"Domain swap {swap_id} not found.", code="domain_swap_not_found")
    return found


def list_swaps(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    statuses: Sequence[DomainSwapStatus] | None,
    domain_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[DomainSwap], str | None]:
    statement = scoped(DomainSwap, workspace_id)
    if statuses:
        statement = statement.where(DomainSwap.status.in_(statuses))
    if domain_id is not None:
        statement = statement.where(
            or_(DomainSwap.from_domain_id == domain_id, DomainSwap.to_domain_id == domain_id)
        )
    rows = session.scalars(paginate(statement, DomainSwap.id, cursor, limit)).all()
    return split_page(rows, limit, lambda row: row.id)
