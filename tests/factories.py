"""Factories: plain functions that build rows through the services and return what tests need."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select

from mailfleet.account.service import create_user
from mailfleet.auth.service import issue_key
from mailfleet.billing.plans import service as plan_service
from mailfleet.billing.plans.seed import seed
from mailfleet.billing.service import set_allocation
from mailfleet.billing.subscriptions import service as subscription_service
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.events import service as events_service
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import (
    AddonSlots,
    Base,
    BillingPeriod,
    DeliveryStatus,
    DnsRecord,
    Domain,
    DomainPurchase,
    DomainRenewal,
    DomainRenewalStatus,
    DomainStatus,
    DomainSwap,
    DomainSwapStatus,
    Event,
    LedgerKind,
    Mailbox,
    MailboxOrder,
    MailboxStatus,
    MailboxType,
    Membership,
    OrderStatus,
    QuickSetup,
    QuickSetupStatus,
    Role,
    Subscription,
    User,
    WebhookDelivery,
)
from mailfleet.webhooks import service as webhook_service
from mailfleet.workspaces.service import create_workspace

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


@dataclass
class Caller:
    """A user with an API key, acting in one workspace."""

    user_id: uuid.UUID
    email: str
    token: str
    workspace_id: uuid.UUID
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "X-Workspace-Id": str(self.workspace_id),
            **self.extra_headers,
        }

    @property
    def zapmail_headers(self) -> dict[str, str]:
        """The Zapmail surface's way: the raw key in x-auth-zapmail, the workspace's id in
        x-workspace-key."""
        return {
            "x-auth-zapmail": self.token,
            "x-workspace-key": str(self.workspace_id),
            **self.extra_headers,
        }


def make_user(db: Database, *, operator: bool = False, email: str | None = None) -> User:
    with db.transaction() as session:
        return create_user(
            session,
            email=email or f"{unique('user')}@example.com",
            name="Test User",
            is_operator=operator,
        )


def make_tenant(db: Database, *, operator: bool = False) -> Caller:
    """A new user owning a new workspace, with a key."""
    with db.transaction() as session:
        user = create_user(
            session, email=f"{unique('owner')}@example.com", name="Owner", is_operator=operator
        )
        workspace = create_workspace(session, owner=user, name=unique("Workspace "))
        token = issue_key(session, user=user, name="test").token
        return Caller(user.id, user.email, token, workspace.id)


def make_member(db: Database, owner: Caller, role: Role) -> Caller:
    """Another user with `role` in the owner's workspace."""
    with db.transaction() as session:
        user = create_user(session, email=f"{unique('member')}@example.com", name="Member")
        session.add(Membership(workspace_id=owner.workspace_id, user_id=user.id, role=role))
        token = issue_key(session, user=user, name="test").token
        return Caller(user.id, user.email, token, owner.workspace_id)


def make_domain(
    db: Database,
    workspace_id: uuid.UUID,
    *,
    name: str | None = None,
    status: DomainStatus = DomainStatus.ACTIVE,
    mailbox_type: MailboxType | None = None,
) -> Domain:
    with db.transaction() as session:
        domain = Domain(
            workspace_id=workspace_id,
            name=name or f"{unique('domain')}.com",
            unicode_name=name or "",
            status=status,
            mailbox_type=mailbox_type,
            nameserver_1="ns1.mailfleet.local",
            nameserver_2="ns2.mailfleet.local",
            tags=[],
            activated_at=clock.now() if status == DomainStatus.ACTIVE else None,
        )
        domain.unicode_name = domain.unicode_name or domain.name
        session.add(domain)
        session.flush()
        return domain


def make_dns_record(
    db: Database,
    domain: Domain,
    *,
    name: str | None = None,
    type: str = "TXT",
    content: str = "hello",
    priority: int | None = None,
    managed: bool = False,
) -> uuid.UUID:
    with db.transaction() as session:
        record = DnsRecord(
            workspace_id=domain.workspace_id,
            domain_id=domain.id,
            name=name or domain.name,
            type=type,
            content=content,
            ttl=3600,
            priority=priority,
            managed=managed,
        )
        session.add(record)
        session.flush()
        return record.id


def give_slots(
    db: Database, workspace_id: uuid.UUID, mailbox_type: MailboxType, slots: int
) -> None:
    with db.transaction() as session:
        set_allocation(
            session, workspace_id=workspace_id, mailbox_type=mailbox_type, slots=slots, actor="test"
        )


def hours_ago(hours: float) -> object:
    return clock.now() - timedelta(hours=hours)


def make_key(db: Database, user_id: uuid.UUID, *, workspace_id: uuid.UUID | None = None) -> str:
    """Issue another API key for an existing user; returns the token."""
    with db.transaction() as session:
        user = session.get_one(User, user_id)
        return issue_key(session, user=user, name=unique("key "), workspace_id=workspace_id).token


def make_order(
    db: Database,
    workspace_id: uuid.UUID,
    domain_id: uuid.UUID,
    *,
    status: OrderStatus = OrderStatus.PENDING,
    mailbox_type: MailboxType = MailboxType.GOOGLE,
) -> uuid.UUID:
    """A bare mailbox order row (no mailboxes), for counting."""
    with db.transaction() as session:
        order = MailboxOrder(
            workspace_id=workspace_id, domain_id=domain_id, mailbox_type=mailbox_type, status=status
        )
        session.add(order)
        session.flush()
        return order.id


def make_mailbox(
    db: Database,
    domain: Domain,
    *,
    status: MailboxStatus = MailboxStatus.ACTIVE,
    mailbox_type: MailboxType = MailboxType.GOOGLE,
    username: str | None = None,
) -> uuid.UUID:
    """A bare mailbox row on `domain`, straight into the table (no provisioning)."""
    username = username or unique("box")
    with db.transaction() as session:
        mailbox = Mailbox(
            workspace_id=domain.workspace_id,
            domain_id=domain.id,
            username=username,
            address=f"{username}@{domain.name}",
            first_name="Test",
            last_name="Box",
            mailbox_type=mailbox_type,
            backend="manual",
            status=status,
            expires_at=clock.now() + timedelta(days=30),
        )
        session.add(mailbox)
        session.flush()
        return mailbox.id


def order_body(
    domain: Domain | str, usernames: list[str], mailbox_type: str = "GOOGLE"
) -> dict[str, object]:
    """The JSON body of POST /v1/mailbox-orders."""
    return {
        "domain": domain if isinstance(domain, str) else domain.name,
        "type": mailbox_type,
        "mailboxes": [
            {"first_name": "First", "last_name": "Last", "username": u} for u in usernames
        ],
    }


def count_rows(db: Database, model: type[Base], **where: object) -> int:
    with db.transaction() as session:
        statement = select(func.count()).select_from(model)
        for column, value in where.items():
            statement = statement.where(getattr(model, column) == value)
        return int(session.scalar(statement) or 0)


# Server endpoints an operator hands over when completing an SMTP mailbox.
SMTP_ENDPOINTS = {
    "smtp_host": "smtp.example.net",
    "smtp_port": 587,
    "imap_host": "imap.example.net",
    "imap_port": 993,
}


def make_webhook(
    db: Database,
    workspace_id: uuid.UUID,
    *,
    url: str = "http://127.0.0.1:9/hook",
    events: tuple[str, ...] = ("domain.status_changed",),
) -> tuple[uuid.UUID, uuid.UUID]:
    """An endpoint with one FAILED delivery of a recorded event: (webhook id, delivery id)."""
    with db.transaction() as session:
        created = webhook_service.create(
            session,
            # The default URL is a loopback one, which only this setting lets through.
            db.settings.model_copy(update={"webhook_allow_private_addresses": True}),
            SecretBox.from_settings(db.settings),
            workspace_id=workspace_id,
            url=url,
            events=list(events),
            secret=None,
            enabled=True,
            actor="test",
        )
        events_service.record(
            session,
            workspace_id=workspace_id,
            type=events[0],
            subject_type="domain",
            subject_id=None,
            actor="test",
        )
        session.flush()
        event = session.scalars(
            select(Event).where(Event.workspace_id == workspace_id).order_by(Event.id.desc())
        ).first()
        assert event is not None
        delivery = WebhookDelivery(
            workspace_id=workspace_id,
            endpoint_id=created["id"],
            event_id=event.id,
            event_type=events[0],
            payload={"type": events[0], "timestamp": "", "data": {}},
            status=DeliveryStatus.FAILED,
            attempts=1,
            max_attempts=1,
        )
        session.add(delivery)
        session.flush()
        return created["id"], delivery.id


# --- billing: plans, wallets, subscriptions ----------------------------------------------------


def seed_plans(db: Database, **setting_overrides: object) -> None:
    """The default plan table (billing.plans.seed) with test settings."""
    with db.transaction() as session:
        seed(session, Settings(**setting_overrides))  # type: ignore[arg-type]


def fund_wallet(db: Database, workspace_id: uuid.UUID, cents: int) -> None:
    """Credit the workspace's wallet as an operator would after a bank transfer."""
    with db.transaction() as session:
        wallet_service.credit(
            session,
            workspace_id,
            cents,
            kind=LedgerKind.ADJUSTMENT,
            reason="test funding",
            actor="test",
        )


def make_subscription(
    db: Database, workspace_id: uuid.UUID, lookup_key: str = "google_starter_monthly"
) -> uuid.UUID:
    """A paid subscription (the wallet is funded with its price first); the plans must exist."""
    with db.transaction(write=False) as session:
        price = plan_service.current(session, lookup_key).price_cents
    if price:
        fund_wallet(db, workspace_id, price)
    with db.transaction() as session:
        subscription = subscription_service.purchase(
            session, workspace_id, lookup_key, default_currency="USD", actor="test"
        )
        return subscription.id


# --- billing (renewals): plans with chosen prices, add-on rows -------------------------------


def make_plan(
    db: Database,
    *,
    mailbox_types: tuple[MailboxType, ...] = (MailboxType.GOOGLE,),
    slots: int = 10,
    price_cents: int = 10_000,
    addon_price_cents: int = 500,
    period: BillingPeriod = BillingPeriod.MONTHLY,
) -> str:
    """A plan through the plans service; returns its lookup key."""
    key = unique("plan-")
    spec = plan_service.PlanSpec(
        key, f"Plan {key}", "STARTER", period, mailbox_types, slots, price_cents,
        addon_price_cents, "USD",
    )  # fmt: skip
    with db.transaction() as session:
        plan_service.create(session, spec, actor="test")
    return key


def make_addon(
    db: Database,
    subscription_id: uuid.UUID,
    mailbox_type: MailboxType = MailboxType.GOOGLE,
    *,
    quantity: int = 2,
    renew: bool = True,
) -> uuid.UUID:
    """Add-on slots for the subscription's current period."""
    with db.transaction() as session:
        subscription = session.get_one(Subscription, subscription_id)
        addon = AddonSlots(
            workspace_id=subscription.workspace_id,
            subscription_id=subscription_id,
            mailbox_type=mailbox_type,
            quantity=quantity,
            unit_price_cents=subscription.addon_price_cents,
            period_start=subscription.current_period_start,
            period_end=subscription.current_period_end,
            renew=renew,
        )
        session.add(addon)
        session.flush()
        return addon.id


def make_domain_purchase(
    db: Database, workspace_id: uuid.UUID, *, name: str | None = None
) -> uuid.UUID:
    """A bought name waiting for its registration (no wallet movement, no registrar)."""
    with db.transaction() as session:
        purchase = DomainPurchase(
            workspace_id=workspace_id,
            name=name or f"{unique('bought')}.com",
            years=1,
            registrar="porkbun",
            registrar_price_cents=1108,
            price_cents=1330,
            currency="USD",
            nameserver_1="ns1.mailfleet.local",
            nameserver_2="ns2.mailfleet.local",
            created_by="test",
        )
        session.add(purchase)
        session.flush()
        return purchase.id


def make_quick_setup(db: Database, workspace_id: uuid.UUID) -> uuid.UUID:
    """A finished quick setup row (made here: most test clients sell no domains)."""
    with db.transaction() as session:
        setup = QuickSetup(
            workspace_id=workspace_id,
            status=QuickSetupStatus.DONE,
            mailbox_type=MailboxType.GOOGLE,
            offers=[],
            registrar="none",
            total_cents=0,
            mailboxes={},
            profile={},
            created_by="test",
        )
        session.add(setup)
        session.flush()
        return setup.id


def make_domain_swap(db: Database, workspace_id: uuid.UUID, from_id: uuid.UUID) -> uuid.UUID:
    """A finished swap row from `from_id` onto a new empty domain of the workspace."""
    to = make_domain(db, workspace_id)
    with db.transaction() as session:
        swap = DomainSwap(
            workspace_id=workspace_id,
            status=DomainSwapStatus.DONE,
            from_domain_id=from_id,
            to_domain_id=to.id,
            mailbox_type=MailboxType.GOOGLE,
            items=[],
            profile={},
            export_ids=[],
            created_by="test",
        )
        session.add(swap)
        session.flush()
        return swap.id


def make_domain_renewal(
    db: Database,
    domain: Domain,
    *,
    status: DomainRenewalStatus = DomainRenewalStatus.SUCCEEDED,
    days: int = 0,
) -> uuid.UUID:
    """A renewal row of `domain`'s period ending in `days` days (no wallet, no registrar)."""
    expires = clock.now() + timedelta(days=days)
    with db.transaction() as session:
        row = DomainRenewal(
            workspace_id=domain.workspace_id,
            domain_id=domain.id,
            registrar="namecheap",
            years=1,
            amount_cents=1458,
            currency="USD",
            status=status,
            dedupe_key=f"domain-renewal:{domain.id}:{expires.date().isoformat()}",
            expires_before=expires,
            failure_reason="insufficient_funds" if status == DomainRenewalStatus.FAILED else None,
            completed_at=None if status == DomainRenewalStatus.PENDING else clock.now(),
        )
        session.add(row)
        session.flush()
        return row.id
