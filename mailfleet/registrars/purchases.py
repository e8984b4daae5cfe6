"""Buying domains: priced at the registrar first (no transaction open), then placed on the
registrar's accounts under their daily cap (registrars.accounts: 409 before any debit when
they are full), paid from the wallet and recorded in one transaction, registered by the worker
(registrars.tasks).

A purchase is paid once (the wallet debit's key is the request's batch), registered once (the
registrar call's idempotency key is the purchase's id) and refunded once if the registrar
refuses it (the refund's key is the purchase's id).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.auth.scoping import get_scoped, scoped
from mailfleet.billing.wallet import service as wallet
from mailfleet.config import Settings
from mailfleet.db import enqueue_after_commit
from mailfleet.domains import service as domain_service
from mailfleet.exceptions import FieldError
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.models import DomainPurchase, DomainPurchaseStatus, LedgerKind
from mailfleet.models.registrar import LIVE_PURCHASES
from mailfleet.registrars import accounts
from mailfleet.registrars.errors import NamesNotForSale, TooManyYears
from mailfleet.registrars.service import Offer

REGISTER = "registrars.register"


@dataclass(frozen=True)
class Quote:
    offers: list[Offer]
    years: int
    total_cents: int
    currency: str


def quote(offers: Sequence[Offer], years: int, max_years: int) -> Quote:
    """What buying `offers` for `years` costs; refused unless every name is AVAILABLE."""
    if years > max_years:
        raise TooManyYears(
            f"This registrar registers for at most {max_years} year(s) at a time.", field="years"
        )
    refused = [
        FieldError(f"names[{i}]", offer.verdict.value.lower(), offer.reason or offer.verdict.value)
        for i, offer in enumerate(offers)
        if not offer.available or offer.price_cents is None
    ]
    if refused:
        raise NamesNotForSale(
            "Some names cannot be bought: only AVAILABLE names are sold (never premium ones).",
            field=refused[0].field,
            errors=refused,
        )
    total = sum((offer.price_cents or 0) * years for offer in offers)
    return Quote(list(offers), years, total, offers[0].currency if offers else "USD")


def _check_not_held(session: Session, workspace_id: uuid.UUID, names: list[str]) -> None:
    held = domain_service.holders(session, names)
    buying = set(
        session.scalars(
            select(DomainPurchase.name).where(
                DomainPurchase.name.in_(names), DomainPurchase.status.in_(LIVE_PURCHASES)
            )
        )
    )
    refused = [
        FieldError(
            f"names[{i}]",
            "already_in_workspace" if held.get(name) == workspace_id else "domain_taken",
            "This name is in Mailfleet already." if name in held else "It is being bought.",
        )
        for i, name in enumerate(names)
        if name in held or name in buying
    ]
    if refused:
        raise NamesNotForSale(
            "Some names are held or being bought already.", field=refused[0].field, errors=refused
        )


def purchase(
    session: Session,
    settings: Settings,
    priced: Quote,
    *,
    registrar: str,
    workspace_id: uuid.UUID,
    actor: str,
) -> list[DomainPurchase]:
    """Place every name on one of the registrar's accounts, debit the wallet once for them all
    and record each purchase PENDING, its registration job enqueued after commit. Accounts at
    their daily cap raise 409 and a short wallet 402 (nothing recorded either way)."""
    names = [offer.name for offer in priced.offers]
    _check_not_held(session, workspace_id, names)
    # Before the debit: names that fit under no account's cap today cost nothing.
    placed = accounts.place(session, settings, registrar, len(names))
    batch = uuid7()
    wallet.debit(
        session,
        workspace_id,
        priced.total_cents,
        kind=LedgerKind.DOMAIN_PURCHASE,
        reason=f"{len(names)} domain(s) for {priced.years} year(s): {', '.join(names)[:400]}",
        actor=actor,
        reference=wallet.Reference("domain_purchase_batch", str(batch)),
        dedupe_key=f"domain-purchase:{batch}",
        currency=priced.currency,
    )
    now = clock.now()
    rows = []
    for offer, account in zip(priced.offers, placed, strict=True):
        ns1, ns2 = domain_service.nameservers_for(settings, offer.name)
        row = DomainPurchase(
            workspace_id=workspace_id,
            name=offer.name,
            years=priced.years,
            registrar=registrar,
            registrar_account=account,
            status=DomainPurchaseStatus.PENDING,
            registrar_price_cents=offer.registrar_price_cents or 0,
            price_cents=offer.price_cents or 0,
            renewal_price_cents=offer.renewal_price_cents,
            currency=offer.currency,
            nameserver_1=ns1,
            nameserver_2=ns2,
            retry_at=now,
            created_by=actor,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    for row in rows:
        enqueue_after_commit(session, REGISTER, str(row.id))
    return rows


def refund(session: Session, found: DomainPurchase, *, actor: str) -> None:
    """Give a failed purchase's money back, once."""
    wallet.credit(
        session,
        found.workspace_id,
        found.price_cents * found.years,
        kind=LedgerKind.REFUND,
        reason=f"{found.name} could not be registered: {found.failure_reason or 'refused'}"[:500],
        actor=actor,
        reference=wallet.Reference("domain_purchase", str(found.id)),
        dedupe_key=f"domain-purchase-refund:{found.id}",
        currency=found.currency,
    )


def get_purchase(
    session: Session, workspace_id: uuid.UUID, purchase_id: uuid.UUID
) -> DomainPurchase:
    """One of the workspace's purchases (404 `domain_purchase_not_found`)."""
    return get_scoped(session, DomainPurchase, workspace_id, purchase_id)


def list_purchases(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    statuses: Sequence[DomainPurchaseStatus] | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[DomainPurchase], str | None]:
    statement = scoped(DomainPurchase, workspace_id)
    if statuses:
        statement = statement.where(DomainPurchase.status.in_(statuses))
    rows = session.scalars(paginate(statement, DomainPurchase.id, cursor, limit)).all()
    return split_page(rows, limit, lambda p: p.id)
