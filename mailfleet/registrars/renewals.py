"""Renewing purchased domains at their registrar, and expiring the ones not renewed.

The sweep, in one transaction: every purchased ACTIVE domain with auto-renew on (and the
workspace's `settings["domain_auto_renew"]` not false) whose registration ends within
`domain_renewal_lead_days` gets a renewal row keyed `domain-renewal:{domain_id}:{expiry date}`
and one wallet debit under the same key (the renewal price quoted at purchase, else the
price it was bought at, per year), then COMMIT.
A short wallet records the renewal FAILED (insufficient_funds) with nothing debited. The
renewal job then calls the registrar with no transaction open and records the outcome:
SUCCEEDED moves `registration_expires_at`; a refusal is FAILED and refunded once. A lost
answer (timeout, 5xx) leaves it PENDING: registrars have no idempotency key for renewals, so
the next attempt first asks the registrar's expiry and renews only if it has not moved.
Domains that will not renew by themselves (auto-renew off on the domain or the workspace) get
one `domain.expiring` event per registration period once inside the same window (the period
noted on their purchase, `expiry_notified_for`). Domains past their expiry with no renewal
under way move ACTIVE -> EXPIRED, with a `domain.expired` event naming the live mailboxes left
on them (they stay as they are; the domain takes no new mailbox orders).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement, Exists

from mailfleet.auth.scoping import get_scoped, scoped
from mailfleet.billing.errors import PaymentRequired
from mailfleet.billing.wallet import service as wallet
from mailfleet.db import enqueue_after_commit
from mailfleet.domains import lifecycle
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.kit import clock
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.models import (
    Domain,
    DomainPurchase,
    DomainPurchaseStatus,
    DomainRenewal,
    DomainRenewalStatus,
    DomainSource,
    DomainStatus,
    LedgerKind,
    Mailbox,
    Workspace,
)
from mailfleet.models.enums import DOMAIN_SLOT_STATUSES
from mailfleet.registrars import transitions
from mailfleet.registrars.protocol import (
    RegistrarError,
    RenewalNotSupported,
    RenewalResult,
    TransientRegistrarError,
)
from mailfleet.registrars.registry import DEFAULT_ACCOUNT, registrar_of

log = logging.getLogger(__name__)
RENEW = "registrars.renew"
ACTOR = "system:registrar"
SWEEP_CHUNK = 100
YEARS = 1
INSUFFICIENT_FUNDS = "insufficient_funds"
R = DomainRenewalStatus


def dedupe_key(domain_id: uuid.UUID, expires_at: datetime) -> str:
    """One renewal per domain and registration period."""
    return f"domain-renewal:{domain_id}:{expires_at.date().isoformat()}"


# --- the sweep ----------------------------------------------------------------------------


@sweeper
def sweep_renewals(runtime: Runtime) -> int:
    """Expire what ran out, start the renewals now due, hand out the PENDING ones."""
    now = clock.now()
    lead = timedelta(days=runtime.settings.domain_renewal_lead_days)
    with runtime.database.transaction() as session:
        expired = _expire(session, now)
        # Before starting new ones, so a renewal started now is enqueued once.
        handed = _hand_out(session, now)
        started = sum(_start(session, domain, now) for domain in _due(session, now, now + lead))
        # After the renewals started: what is left in the window will not renew by itself.
        warned = _warn_expiring(session, now, now + lead)
    return expired + started + handed + warned


def _purchased_active() -> list[ColumnElement[bool]]:
    return [
        Domain.source == DomainSource.PURCHASED,
        Domain.status == DomainStatus.ACTIVE,
        Domain.registration_expires_at.is_not(None),
    ]


def _pending_renewal() -> Exists:
    return exists().where(DomainRenewal.domain_id == Domain.id, DomainRenewal.status == R.PENDING)


def _expire(session: Session, now: datetime) -> int:
    """ACTIVE -> EXPIRED for registrations that ended with no renewal under way (a PENDING one
    may have renewed at the registrar: its answer decides first)."""
    rows = session.scalars(
        select(Domain)
        .where(*_purchased_active(), Domain.registration_expires_at <= now, ~_pending_renewal())
        .limit(SWEEP_CHUNK)
        .with_for_update(skip_locked=True)
    ).all()
    live = _live_mailboxes(session, [domain.id for domain in rows])
    for domain in rows:
        lifecycle.move(
            session, domain, DomainStatus.EXPIRED, actor=ACTOR, reason="registration_expired"
        )
        left = live.get(domain.id, [])
        assert domain.registration_expires_at is not None
        events.record(
            session,
            workspace_id=domain.workspace_id,
            type=EventType.DOMAIN_EXPIRED,
            subject_type="domain",
            subject_id=domain.id,
            actor=ACTOR,
            name=domain.name,
            expired_at=domain.registration_expires_at.isoformat(),
            mailbox_count=len(left),
            mailbox_ids=[str(mailbox_id) for mailbox_id, _ in left],
            addresses=[address for _, address in left],
        )
    return len(rows)


def _live_mailboxes(
    session: Session, domain_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """Each domain's mailboxes that still hold a place on it, in one query."""
    found: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
    if not domain_ids:
        return found
    rows = session.execute(
        select(Mailbox.domain_id, Mailbox.id, Mailbox.address)
        .where(Mailbox.domain_id.in_(domain_ids), Mailbox.status.in_(DOMAIN_SLOT_STATUSES))
        .order_by(Mailbox.domain_id, Mailbox.address)
    ).all()
    for domain_id, mailbox_id, address in rows:
        found.setdefault(domain_id, []).append((mailbox_id, address))
    return found


def _warn_expiring(session: Session, now: datetime, until: datetime) -> int:
    """One `domain.expiring` per registration period for purchased domains ending within the
    window that will not renew by themselves: auto-renew off on the domain or its workspace."""
    workspace_off = Workspace.settings["domain_auto_renew"].as_boolean().is_(False)
    rows = session.execute(
        select(
            Domain.id,
            Domain.workspace_id,
            Domain.name,
            Domain.auto_renew,
            Domain.registration_expires_at,
            DomainPurchase.id,
        )
        .join(Workspace, Workspace.id == Domain.workspace_id)
        .join(
            DomainPurchase,
            and_(
                DomainPurchase.domain_id == Domain.id,
                DomainPurchase.status == DomainPurchaseStatus.REGISTERED,
            ),
        )
        .where(
            *_purchased_active(),
            Domain.registration_expires_at > now,
            Domain.registration_expires_at <= until,
            or_(Domain.auto_renew.is_(False), workspace_off),
            or_(
                DomainPurchase.expiry_notified_for.is_(None),
                DomainPurchase.expiry_notified_for != Domain.registration_expires_at,
            ),
        )
        .order_by(Domain.registration_expires_at, Domain.id)
        .limit(SWEEP_CHUNK)
        .with_for_update(of=DomainPurchase, skip_locked=True)
    ).all()
    if not rows:
        return 0
    session.execute(
        update(DomainPurchase),
        [{"id": row[5], "expiry_notified_for": row[4]} for row in rows],
    )
    events.record_all(
        session,
        [
            _expiring(now, domain_id, workspace_id, name, auto_renew, expires)
            for domain_id, workspace_id, name, auto_renew, expires, _ in rows
            if expires is not None
        ],
    )
    return len(rows)


def _expiring(
    now: datetime,
    domain_id: uuid.UUID,
    workspace_id: uuid.UUID,
    name: str,
    auto_renew: bool,
    expires: datetime,
) -> events.NewEvent:
    """The `domain.expiring` event of one domain: when, and which auto-renew is off."""
    data = {
        "name": name,
        "expires_at": expires.isoformat(),
        "days_left": max(0, (expires - now).days),
        "auto_renew_off": "workspace" if auto_renew else "domain",
    }
    return events.NewEvent(
        workspace_id, EventType.DOMAIN_EXPIRING, "domain", domain_id, ACTOR, data
    )


def _due(session: Session, now: datetime, until: datetime) -> list[Domain]:
    rows = session.scalars(
        select(Domain)
        .join(Workspace, Workspace.id == Domain.workspace_id)
        .where(
            *_purchased_active(),
            Domain.auto_renew.is_(True),
            Domain.registration_expires_at > now,
            Domain.registration_expires_at <= until,
            ~_pending_renewal(),
        )
        .order_by(Domain.registration_expires_at, Domain.id)
        .limit(SWEEP_CHUNK)
        .with_for_update(of=Domain, skip_locked=True)
    ).all()
    off = _workspaces_without_auto_renew(session, {d.workspace_id for d in rows})
    return [domain for domain in rows if domain.workspace_id not in off]


def _workspaces_without_auto_renew(
    session: Session, workspace_ids: set[uuid.UUID]
) -> set[uuid.UUID]:
    if not workspace_ids:
        return set()
    found = session.execute(
        select(Workspace.id, Workspace.settings).where(Workspace.id.in_(workspace_ids))
    ).all()
    return {wid for wid, values in found if (values or {}).get("domain_auto_renew") is False}


def _start(session: Session, domain: Domain, now: datetime) -> int:
    """Record the renewal of `domain`'s current period and pay for it, once."""
    assert domain.registration_expires_at is not None
    key = dedupe_key(domain.id, domain.registration_expires_at)
    if session.scalar(select(DomainRenewal.id).where(DomainRenewal.dedupe_key == key)):
        return 0  # this period was renewed, refused or tried already
    purchase = session.scalars(
        select(DomainPurchase)
        .where(
            DomainPurchase.domain_id == domain.id,
            DomainPurchase.status == DomainPurchaseStatus.REGISTERED,
        )
        .order_by(DomainPurchase.created_at.desc())
        .limit(1)
    ).first()
    if purchase is None:
        log.warning("purchased domain %s has no registered purchase: not renewed", domain.id)
        return 0
    renewal = DomainRenewal(
        workspace_id=domain.workspace_id,
        domain_id=domain.id,
        registrar=purchase.registrar,
        years=YEARS,
        # The registrar's renewal price quoted at purchase, else the price it was bought at
        # (per year, markup included).
        amount_cents=(purchase.renewal_price_cents or purchase.price_cents) * YEARS,
        currency=purchase.currency,
        status=R.PENDING,
        dedupe_key=key,
        expires_before=domain.registration_expires_at,
        retry_at=now,
    )
    session.add(renewal)
    session.flush()
    try:
        wallet.debit(
            session,
            domain.workspace_id,
            renewal.amount_cents,
            kind=LedgerKind.DOMAIN_PURCHASE,
            reason=f"Renewal of {domain.name} for {YEARS} year(s)",
            actor=ACTOR,
            reference=wallet.Reference("domain_renewal", str(renewal.id)),
            dedupe_key=key,
            currency=renewal.currency,
        )
    except PaymentRequired:
        # Nothing moved: the renewal is FAILED with nothing to refund, and the domain expires
        # at its end unless the workspace renews it another way.
        renewal.amount_cents = 0
        transitions.finish_renewal(
            session, renewal, R.FAILED, name=domain.name, actor=ACTOR, reason=INSUFFICIENT_FUNDS
        )
        return 1
    enqueue_after_commit(session, RENEW, str(renewal.id))
    return 1


def _hand_out(session: Session, now: datetime) -> int:
    """PENDING renewals whose retry time came (a lost answer, a killed worker, a lost enqueue)."""
    due = session.scalars(
        select(DomainRenewal.id)
        .where(DomainRenewal.status == R.PENDING, DomainRenewal.retry_at <= now)
        .limit(SWEEP_CHUNK)
    ).all()
    for renewal_id in due:
        enqueue_after_commit(session, RENEW, str(renewal_id))
    return len(due)


# --- the job ------------------------------------------------------------------------------


def _claim(runtime: Runtime, renewal_id: uuid.UUID) -> tuple[DomainRenewal, str, str] | None:
    now = clock.now()
    with runtime.database.transaction() as session:
        found = session.get(DomainRenewal, renewal_id, with_for_update=True)
        if found is None or found.status != R.PENDING:
            return None
        if found.retry_at is not None and found.retry_at > now:
            return None  # a worker holds it, or its retry time has not come
        found.attempts += 1
        found.retry_at = now + timedelta(seconds=runtime.settings.job_lease_seconds)
        name = session.scalar(select(Domain.name).where(Domain.id == found.domain_id))
        # Renewed at the account that bought it.
        account = session.scalar(
            select(DomainPurchase.registrar_account)
            .where(
                DomainPurchase.domain_id == found.domain_id,
                DomainPurchase.status == DomainPurchaseStatus.REGISTERED,
            )
            .order_by(DomainPurchase.created_at.desc())
            .limit(1)
        )
        session.flush()
        session.expunge(found)
        return (found, name, account or DEFAULT_ACCOUNT) if name else None


@job(RENEW)
def renew(runtime: Runtime, renewal_id: str) -> None:
    claim = _claim(runtime, uuid.UUID(renewal_id))
    if claim is None:
        return
    claimed, name, account = claim
    registrar = registrar_of(runtime.settings, claimed.registrar, account)
    try:
        if claimed.attempts > 1:
            # An earlier call's outcome is unknown: renew only if the expiry has not moved.
            expires = registrar.expiry(name)
            if expires is not None and expires.date() > claimed.expires_before.date():
                _record(runtime, claimed.id, RenewalResult(name, expires, None, ""))
                return
        done = registrar.renew(name, claimed.years)
    except RenewalNotSupported as exc:
        _refuse(runtime, claimed.id, f"{exc.code}: {exc.message}")
        return
    except TransientRegistrarError as exc:
        _unknown(runtime, claimed.id, exc)
        return
    except RegistrarError as exc:
        _refuse(runtime, claimed.id, exc.message)
        return
    _record(runtime, claimed.id, done)


def _locked(session: Session, renewal_id: uuid.UUID) -> DomainRenewal | None:
    found = session.get(DomainRenewal, renewal_id, with_for_update=True)
    return found if found is not None and found.status == R.PENDING else None


def _record(runtime: Runtime, renewal_id: uuid.UUID, done: RenewalResult) -> None:
    with runtime.database.transaction() as session:
        found = _locked(session, renewal_id)
        if found is None:
            return
        domain = session.get_one(Domain, found.domain_id, with_for_update=True)
        domain.registration_expires_at = done.expires_at
        found.registrar_order_id = done.order_id[:200] or None
        if domain.status == DomainStatus.EXPIRED:
            lifecycle.move(session, domain, DomainStatus.ACTIVE, actor=ACTOR, reason="renewed")
        transitions.finish_renewal(
            session, found, R.SUCCEEDED, name=domain.name, actor=ACTOR, expires_at=done.expires_at
        )


def _unknown(runtime: Runtime, renewal_id: uuid.UUID, error: RegistrarError) -> None:
    with runtime.database.transaction() as session:
        found = _locked(session, renewal_id)
        if found is None:
            return
        # 1, 2, 4... minutes, or what the registrar asked for if longer; the next attempt
        # checks the expiry first.
        delay = max(60.0 * 2 ** min(found.attempts - 1, 10), error.retry_after or 0.0)
        found.failure_reason = error.message[:1000]
        found.retry_at = clock.now() + timedelta(seconds=delay)


def _refuse(runtime: Runtime, renewal_id: uuid.UUID, reason: str) -> None:
    with runtime.database.transaction() as session:
        found = _locked(session, renewal_id)
        if found is None:
            return
        name = session.scalar(select(Domain.name).where(Domain.id == found.domain_id)) or ""
        wallet.credit(
            session,
            found.workspace_id,
            found.amount_cents,
            kind=LedgerKind.REFUND,
            reason=f"{name} could not be renewed: {reason}"[:500],
            actor=ACTOR,
            reference=wallet.Reference("domain_renewal", str(found.id)),
            dedupe_key=f"domain-renewal-refund:{found.id}",
            currency=found.currency,
        )
        transitions.finish_renewal(session, found, R.FAILED, name=name, actor=ACTOR, reason=reason)


# --- reading ------------------------------------------------------------------------------


def domain_names(session: Session, renewals: Sequence[DomainRenewal]) -> dict[uuid.UUID, str]:
    """The names of the renewals' domains, in one query."""
    ids = {renewal.domain_id for renewal in renewals}
    if not ids:
        return {}
    found = session.execute(select(Domain.id, Domain.name).where(Domain.id.in_(ids))).all()
    return {domain_id: name for domain_id, name in found}


def get_renewal(session: Session, workspace_id: uuid.UUID, renewal_id: uuid.UUID) -> DomainRenewal:
    """One of the workspace's renewals (404 `domain_renewal_not_found`: another workspace's is
    one that does not exist)."""
    return get_scoped(session, DomainRenewal, workspace_id, renewal_id)


def list_renewals(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    statuses: Sequence[DomainRenewalStatus] | None,
    domain_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[DomainRenewal], str | None]:
    """The workspace's renewals, newest first."""
    statement = scoped(DomainRenewal, workspace_id)
    if statuses:
        statement = statement.where(DomainRenewal.status.in_(statuses))
    if domain_id is not None:
        statement = statement.where(DomainRenewal.domain_id == domain_id)
    rows = session.scalars(paginate(statement, DomainRenewal.id, cursor, limit)).all()
    return split_page(rows, limit, lambda renewal: renewal.id)
