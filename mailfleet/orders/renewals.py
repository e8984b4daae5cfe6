"""The mailbox side of subscription renewals (billing.renewals.hooks.MailboxSide).

Billing sits below mailboxes and orders, so a renewal reaches them through this hook,
registered on import (jobs.queue.HOOK_MODULES loads it wherever jobs run, and the app builds
that runtime). Every step reuses the one rule or move that exists: the order rules, the
orders service, the mailbox transitions and the backends' deprovision path.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.billing.renewals import hooks
from mailfleet.config import Settings
from mailfleet.events import service as events
from mailfleet.exceptions import MailfleetError
from mailfleet.mailboxes import rules, suspension, transitions
from mailfleet.mailboxes.backends import backend_for
from mailfleet.models import Mailbox, MailboxStatus, MailboxType
from mailfleet.orders import service as orders
from mailfleet.policy import PolicyProfile

M = MailboxStatus


class OrdersMailboxSide:
    def check_usernames(
        self, session: Session, domain_id: uuid.UUID, usernames: Sequence[str]
    ) -> list[str]:
        normalised = rules.normalise_usernames(usernames)
        rules.check_usernames_free(session, domain_id, normalised)
        return normalised

    def remove_scheduled(
        self,
        session: Session,
        workspace_ids: Sequence[uuid.UUID],
        types: Sequence[MailboxType],
        now: datetime,
        *,
        actor: str,
    ) -> int:
        ids = list(
            session.scalars(
                select(Mailbox.id).where(
                    Mailbox.workspace_id.in_(workspace_ids),
                    Mailbox.mailbox_type.in_(types),
                    Mailbox.status == M.REMOVAL_SCHEDULED,
                )
            )
        )
        if not ids:
            return 0
        moved = transitions.move_where(
            session, ids, M.REMOVAL_SCHEDULED, M.REMOVED, actor=actor, reason="renewal", now=now
        )
        _deprovision(session, moved, actor)
        return len(moved)

    def create_many(
        self,
        session: Session,
        settings: Settings,
        new: Sequence[hooks.NewOrder],
        *,
        actor: str,
    ) -> list[list[uuid.UUID] | MailfleetError]:
        requests = [
            orders.OrderRequest(
                n.workspace_id,
                str(n.domain_id),
                n.mailbox_type,
                [orders.NewMailbox(m.first_name, m.last_name, m.username) for m in n.mailboxes],
            )
            for n in new
        ]
        profile = PolicyProfile.from_settings(settings)
        results = orders.create_orders(
            session, settings, profile, requests, user_id=None, actor=actor
        )
        # An order lists its mailboxes in the order given (their ids are sorted uuid7s).
        return [
            r if isinstance(r, MailfleetError) else [mailbox.id for mailbox in r.mailboxes]
            for r in results
        ]

    def suspend(
        self,
        session: Session,
        mailbox_ids: Sequence[uuid.UUID],
        *,
        until: datetime,
        actor: str,
        reason: str,
    ) -> list[uuid.UUID]:
        rows = session.scalars(
            select(Mailbox)
            .where(
                Mailbox.id.in_(mailbox_ids), Mailbox.status.in_(transitions.sources(M.SUSPENDED))
            )
            .order_by(Mailbox.id)
            .with_for_update()
        ).all()
        moves = [
            transitions.Move(
                m.id,
                m.workspace_id,
                m.order_id,
                m.status,
                M.SUSPENDED,
                reason,
                values={"expires_at": until},
            )
            for m in rows
        ]
        transitions.move_rows(session, moves, actor=actor)
        # At the provider after commit: a job for the automated backends, an operator's request
        # for the manual one (mailboxes.suspension).
        suspension.tell_backends(session, [m.id for m in rows], M.SUSPENDED, actor=actor)
        return [m.id for m in rows]

    def deprovision(
        self, session: Session, mailbox_ids: Sequence[uuid.UUID], *, actor: str
    ) -> list[uuid.UUID]:
        moved = transitions.move_where(
            session,
            mailbox_ids,
            M.SUSPENDED,
            M.REMOVED,
            actor=actor,
            reason="subscription expired",
        )
        _deprovision(session, moved, actor)
        return moved


def _deprovision(session: Session, ids: Sequence[uuid.UUID], actor: str) -> None:
    if not ids:
        return
    removed = session.scalars(select(Mailbox).where(Mailbox.id.in_(ids))).all()
    by_backend: dict[str, list[Mailbox]] = defaultdict(list)
    for mailbox in removed:
        by_backend[mailbox.backend].append(mailbox)
    # A renewal removes the mailboxes of many workspaces: their events go in one insert.
    with events.batched(session):
        for backend, mailboxes in by_backend.items():
            backend_for(backend).deprovision(session, mailboxes, actor=actor)


hooks.register(OrdersMailboxSide())
