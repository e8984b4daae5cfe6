"""An expired subscription's mailboxes are suspended at their provider, and come back when the
workspace buys slots again: through the real worker path (sweeps, then the jobs they and the
renewals enqueue), against the real Postfix/Dovecot pair for the `smtp` backend."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.mailboxes.providers.base import NewMailbox
from mailfleet.mailboxes.providers.registry import provider_for
from mailfleet.models import (
    Domain,
    Event,
    Mailbox,
    MailboxStatus,
    MailboxType,
    SubscriptionStatus,
)
from tests.billing.renewals.test_renewals import load, runtime_of, tick, until_end
from tests.factories import (
    Caller,
    make_domain,
    make_mailbox,
    make_plan,
    make_subscription,
    make_tenant,
)
from tests.support.mailserver import MailServer

PASSWORD = "Correct-horse-42!batt"
DAY = 24 * 3600


@pytest.fixture
def client(make_client: Callable[..., TestClient], mail_overrides: dict[str, Any]) -> TestClient:
    # One failed renewal, a day of grace, then EXPIRED; deprovisioned a week later.
    return make_client(
        **mail_overrides,
        renewal_retry_hours=24,
        renewal_grace_days=1,
        expired_deprovision_days=7,
    )


def smtp_plan(db: Database, slots: int) -> str:
    return make_plan(db, mailbox_types=(MailboxType.SMTP,), slots=slots, price_cents=1_000)


def provisioned(client: TestClient, db: Database, domain: Domain, count: int) -> list[Mailbox]:
    """ACTIVE smtp mailboxes whose accounts exist on the mail server, oldest first."""
    provider = provider_for(runtime_of(client).settings, "smtp")
    made = []
    for _ in range(count):
        mailbox_id = make_mailbox(db, domain, mailbox_type=MailboxType.SMTP)
        with db.transaction() as session:
            mailbox = session.get_one(Mailbox, mailbox_id)
            mailbox.backend = "smtp"
            session.flush()
            session.expunge(mailbox)
        provider.create_mailbox(NewMailbox(mailbox.address, "Test", "Box", PASSWORD))
        made.append(mailbox)
    return made


def expire(client: TestClient, db: Database, subscription_id: uuid.UUID) -> None:
    tick(client, until_end(db, subscription_id))
    tick(client, DAY)
    assert load(db, subscription_id).status == SubscriptionStatus.EXPIRED


def state(db: Database, mailbox: Mailbox) -> Mailbox:
    with db.transaction(write=False) as session:
        found = session.get_one(Mailbox, mailbox.id)
        session.expunge(found)
        return found


def events_of(db: Database, kind: str) -> list[uuid.UUID]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(Event.subject_id).where(Event.type == kind)))


def logs_in(server: MailServer, mailbox: Mailbox) -> bool:
    return server.login_works(mailbox.address, PASSWORD)


def test_expiry_suspends_at_the_mail_server_and_buying_again_resumes(
    client: TestClient, db: Database, mail_server: MailServer, unique_domain: Callable[[str], str]
) -> None:
    tenant = _tenant(db)
    first = make_subscription(db, tenant.workspace_id, smtp_plan(db, 2))
    domain = make_domain(
        db, tenant.workspace_id, name=unique_domain("susp"), mailbox_type=MailboxType.SMTP
    )
    boxes = provisioned(client, db, domain, 2)
    for box in boxes:
        mail_server.wait_for_login(box.address, PASSWORD)

    expire(client, db, first)

    for box in boxes:
        now = state(db, box)
        assert now.status == MailboxStatus.SUSPENDED
        # Done at the provider, and recorded: nothing left for the sweep.
        assert now.next_check_at is None
        mail_server.wait_for(lambda box=box: not logs_in(mail_server, box), "login refused")
        assert mail_server.accepts_recipient(box.address), "mail still arrives"
    assert sorted(events_of(db, "mailbox.provider_suspended")) == sorted(b.id for b in boxes)

    second = make_subscription(db, tenant.workspace_id, smtp_plan(db, 2))
    tick(client)

    renews = load(db, second).current_period_end
    for box in boxes:
        now = state(db, box)
        assert now.status == MailboxStatus.ACTIVE
        assert now.next_check_at is None
        assert now.expires_at == renews
        mail_server.wait_for_login(box.address, PASSWORD)
    assert sorted(events_of(db, "mailbox.provider_resumed")) == sorted(b.id for b in boxes)


def test_only_as_many_come_back_as_the_new_slots_hold_oldest_first(
    client: TestClient, db: Database, mail_server: MailServer, unique_domain: Callable[[str], str]
) -> None:
    tenant = _tenant(db)
    first = make_subscription(db, tenant.workspace_id, smtp_plan(db, 3))
    domain = make_domain(
        db, tenant.workspace_id, name=unique_domain("part"), mailbox_type=MailboxType.SMTP
    )
    boxes = provisioned(client, db, domain, 3)
    expire(client, db, first)

    make_subscription(db, tenant.workspace_id, smtp_plan(db, 2))
    tick(client)
    tick(client)  # a second sweep changes nothing

    statuses = [state(db, box).status for box in boxes]
    assert statuses == [MailboxStatus.ACTIVE, MailboxStatus.ACTIVE, MailboxStatus.SUSPENDED]
    mail_server.wait_for_login(boxes[0].address, PASSWORD)
    mail_server.wait_for_login(boxes[1].address, PASSWORD)
    assert not logs_in(mail_server, boxes[2])
    assert len(events_of(db, "mailbox.provider_resumed")) == 2


def test_a_lost_suspension_job_is_done_by_the_sweep_once_its_lease_passes(
    client: TestClient, db: Database, mail_server: MailServer, unique_domain: Callable[[str], str]
) -> None:
    # No slots at all: the suspended mailbox stays suspended (nothing reactivates it).
    tenant = _tenant(db)
    domain = make_domain(
        db, tenant.workspace_id, name=unique_domain("lost"), mailbox_type=MailboxType.SMTP
    )
    [box] = provisioned(client, db, domain, 1)
    mail_server.wait_for_login(box.address, PASSWORD)
    # Suspended by a transaction whose job never ran (a crash right after the commit).
    with db.transaction() as session:
        session.execute(
            update(Mailbox)
            .where(Mailbox.id == box.id)
            .values(
                status=MailboxStatus.SUSPENDED, next_check_at=clock.now() - timedelta(seconds=1)
            )
        )

    tick(client)

    assert state(db, box).next_check_at is None
    mail_server.wait_for(lambda: not logs_in(mail_server, box), "login refused")
    assert events_of(db, "mailbox.provider_suspended") == [box.id]


def _tenant(db: Database) -> Caller:
    return make_tenant(db)
