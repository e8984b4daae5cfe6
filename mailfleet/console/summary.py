"""What the overview page reads: counts by status and what needs attention, for one workspace.

Read models only (a few grouped queries, whatever the workspace's size); every rule stays in
the services they come from (slots in billing.slots, the wallet in billing.wallet).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlalchemy.orm import Session

from mailfleet.auth.scoping import scoped_columns
from mailfleet.billing import slots
from mailfleet.billing.slots import Usage
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.models import Domain, DomainStatus, Mailbox, MailboxStatus, MailboxType

# Rows of each attention list shown on the overview (the lists link to the full pages).
ATTENTION_ROWS = 20


@dataclass(frozen=True)
class Waiting:
    """A domain waiting for its registrar to point it at its nameserver pair."""

    id: uuid.UUID
    name: str
    nameserver_1: str
    nameserver_2: str


@dataclass(frozen=True)
class FailedMailbox:
    id: uuid.UUID
    address: str
    reason: str | None


@dataclass
class Overview:
    slots: dict[MailboxType, Usage]
    domains: dict[DomainStatus, int]
    mailboxes: dict[MailboxStatus, int]
    balance_cents: int
    currency: str
    low_balance: bool
    waiting: list[Waiting] = field(default_factory=list)
    failed: list[FailedMailbox] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return bool(self.waiting or self.failed or self.low_balance)


def _by_status(
    session: Session, model: type[Domain] | type[Mailbox], workspace_id: uuid.UUID
) -> dict[str, int]:
    statement = scoped_columns(model, workspace_id, model.status, func.count()).group_by(
        model.status
    )
    return {str(status): int(count) for status, count in session.execute(statement)}


def overview(session: Session, workspace_id: uuid.UUID) -> Overview:
    domains = _by_status(session, Domain, workspace_id)
    mailboxes = _by_status(session, Mailbox, workspace_id)
    wallet = wallet_service.find_wallet(session, workspace_id)
    balance = wallet.balance_cents if wallet else 0
    # Low: under the wallet's own recharge threshold with nothing set to top it up.
    low = (
        wallet is not None
        and not wallet.auto_recharge_enabled
        and (balance < wallet.auto_recharge_threshold_cents)
    )
    waiting = session.execute(
        scoped_columns(
            Domain, workspace_id, Domain.id, Domain.name, Domain.nameserver_1, Domain.nameserver_2
        )
        .where(Domain.status == DomainStatus.PENDING_NS)
        .order_by(Domain.name)
        .limit(ATTENTION_ROWS)
    )
    failed = session.execute(
        scoped_columns(Mailbox, workspace_id, Mailbox.id, Mailbox.address, Mailbox.failure_reason)
        .where(Mailbox.status == MailboxStatus.FAILED)
        .order_by(Mailbox.address)
        .limit(ATTENTION_ROWS)
    )
    return Overview(
        slots=slots.usage(session, workspace_id),
        domains={s: domains.get(s.value, 0) for s in DomainStatus if s != DomainStatus.REMOVED},
        mailboxes={
            s: mailboxes.get(s.value, 0) for s in MailboxStatus if s != MailboxStatus.REMOVED
        },
        balance_cents=balance,
        currency=wallet.currency if wallet else "USD",
        low_balance=low,
        waiting=[Waiting(*row) for row in waiting],
        failed=[FailedMailbox(*row) for row in failed],
    )
