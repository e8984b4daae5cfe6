"""A batch of orders (`orders.service.create_orders`: a renewal's scheduled mailboxes) reads
the domain and username rules for all its domains at once. Each order still gets the answer
it would get alone, whatever its neighbours in the batch hold."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.exceptions import MailfleetError
from mailfleet.kit import clock
from mailfleet.models import Domain, Mailbox, MailboxStatus, MailboxType
from mailfleet.orders import service as orders
from mailfleet.policy import PolicyProfile
from tests.factories import make_domain
from tests.orders.helpers import tenant

G, M = MailboxType.GOOGLE, MailboxType.MICROSOFT
S = MailboxStatus


def _domain(
    db: Database,
    kind: MailboxType = G,
    usernames: Sequence[str] = (),
    *,
    hours_ago: float = 48,
    status: MailboxStatus = S.ACTIVE,
) -> Domain:
    """A domain of its own workspace (100 slots), with mailboxes made `hours_ago`."""
    owner = tenant(db, kind)
    domain = make_domain(db, owner.workspace_id, mailbox_type=kind)
    with db.transaction() as session:
        for username in usernames:
            session.add(
                Mailbox(
                    workspace_id=domain.workspace_id,
                    domain_id=domain.id,
                    username=username,
                    address=f"{username}@{domain.name}",
                    first_name="Old",
                    last_name="Box",
                    mailbox_type=kind,
                    backend="manual",
                    status=status,
                    expires_at=clock.now() + timedelta(days=30),
                    created_at=clock.now() - timedelta(hours=hours_ago),
                )
            )
    return domain


def _order(domain: Domain, *names: str, kind: MailboxType = G) -> orders.OrderRequest:
    boxes = [orders.NewMailbox("New", "Box", name) for name in names]
    return orders.OrderRequest(domain.workspace_id, str(domain.id), kind, boxes)


def _answers(db: Database, settings: Settings, requests: list[orders.OrderRequest]) -> list[str]:
    profile = PolicyProfile.from_settings(settings)
    with db.transaction() as session:
        results = orders.create_orders(
            session, settings, profile, requests, user_id=None, actor="test"
        )
        return [r.code if isinstance(r, MailfleetError) else "created" for r in results]


def test_each_order_of_a_batch_meets_its_own_domains_rules(
    db: Database, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(recent_creation_rule="seed", domain_limit_google=3)
    full = _domain(db, usernames=["a", "b", "c"])
    roomy = _domain(db, usernames=["a"])
    taken = _domain(db, usernames=["alex"])
    fresh = _domain(db)
    waiting = _domain(db, M, ["m"], status=S.PENDING)
    recent = _domain(db, usernames=["a"], hours_ago=1)
    answers = _answers(
        db,
        settings,
        [
            _order(full, "d"),
            _order(roomy, "alex"),  # taken on another domain only
            _order(taken, "alex"),
            _order(fresh, "alex", "sam"),
            _order(waiting, "mia", kind=M),
            _order(recent, "rob"),
        ],
    )
    assert answers == [
        "domain_mailbox_limit",
        "created",
        "username_taken",
        "created",
        "microsoft_mailboxes_not_active",
        "recent_mailbox_creation",
    ]


def test_the_window_rule_reads_each_domains_first_mailbox(
    db: Database, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(recent_creation_rule="window")
    old = _domain(db, usernames=["a"])
    young = _domain(db, usernames=["a"], hours_ago=1)
    fresh = _domain(db)
    failed_only = _domain(db, usernames=["a"], status=S.FAILED)  # a failed one never counts
    answers = _answers(db, settings, [_order(d, "new") for d in (old, young, fresh, failed_only)])
    assert answers == ["recent_mailbox_creation", "created", "created", "created"]


def test_a_workspaces_second_order_sees_what_its_first_wrote(
    db: Database, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(recent_creation_rule="window", domain_limit_google=3)
    domain = _domain(db, usernames=["a"], hours_ago=1)
    other = _domain(db, usernames=["a"], hours_ago=1)
    answers = _answers(
        db,
        settings,
        [_order(domain, "b"), _order(other, "b"), _order(domain, "b"), _order(domain, "c", "d")],
    )
    # Rounds: the second and third orders on `domain` are checked after the first is written.
    assert answers == ["created", "created", "username_taken", "domain_mailbox_limit"]
