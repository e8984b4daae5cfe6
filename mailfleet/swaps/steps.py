"""The steps of a swap after it is recorded: order the mailboxes on the new domain once it is
ACTIVE, then, once they are made, remove the old ones and export the new ones to where the
old ones were. Each step reads what other jobs left (delegation, provisioning) and records
intents; none calls a provider (the removals and exports are jobs enqueued after commit)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.exceptions import MailfleetError, NotFound
from mailfleet.exports import history
from mailfleet.exports import service as export_service
from mailfleet.exports.schemas import ExportSettingsIn
from mailfleet.kit import clock
from mailfleet.mailboxes import pictures
from mailfleet.mailboxes import service as mailbox_service
from mailfleet.mailboxes.actions import service as actions
from mailfleet.models import (
    Domain,
    DomainPurchase,
    DomainPurchaseStatus,
    DomainStatus,
    DomainSwap,
    DomainSwapStatus,
    Mailbox,
)
from mailfleet.models import MailboxStatus as M
from mailfleet.orders.service import NewMailbox, OrderRequest, create_orders
from mailfleet.policy import PolicyProfile
from mailfleet.swaps import transitions
from mailfleet.swaps.service import DOMAIN_WAIT, POLL, USABLE

S = DomainSwapStatus
# Statuses that end the wait for a new mailbox: made, or given up on.
SETTLED = frozenset({M.ACTIVE, M.FAILED, M.REMOVED})


def place(session: Session, settings: Settings, swap: DomainSwap, *, actor: str) -> None:
    """WAITING_FOR_DOMAIN: once the new domain is ACTIVE, order the mailboxes on it under the
    rules of the surface that took the swap; the order takes over the old ones' slots."""
    if swap.to_domain_id is None and not _registered(session, swap, actor=actor):
        return
    new = session.get(Domain, swap.to_domain_id) if swap.to_domain_id else None
    if new is None or new.status not in USABLE:
        status = new.status.value if new is not None else "gone"
        reason = f"The new domain is {status}; the old mailboxes are untouched."
        transitions.move(session, swap, S.FAILED, actor=actor, reason=reason)
        return
    if new.status != DomainStatus.ACTIVE:
        if clock.now() - swap.created_at > DOMAIN_WAIT:
            reason = f"{new.name} was not delegated within {DOMAIN_WAIT.days} days."
            transitions.move(session, swap, S.FAILED, actor=actor, reason=reason)
        else:
            transitions.wait(swap, POLL)
        return
    request = OrderRequest(
        swap.workspace_id,
        str(new.id),
        swap.mailbox_type,
        [NewMailbox(i["first_name"], i["last_name"], i["username"]) for i in swap.items],
        held_slots=len(swap.items),
    )
    profile = PolicyProfile.from_rules_json(settings, swap.profile)
    [result] = create_orders(session, settings, profile, [request], user_id=None, actor=actor)
    if isinstance(result, MailfleetError):
        reason = f"{result.detail} The old mailboxes are untouched."
        transitions.move(session, swap, S.FAILED, actor=actor, reason=reason)
        return
    made = {mailbox.username: mailbox for mailbox in result.mailboxes}
    items = []
    for item in swap.items:
        mailbox = made[item["username"]]
        items.append(
            {**item, "new_mailbox_id": str(mailbox.id), "new_address": mailbox.address}
            | {"status": "ORDERED"}
        )
    swap.items, swap.order_id = items, result.order.id
    transitions.move(session, swap, S.WAITING_FOR_MAILBOXES, actor=actor, next_check=POLL)


def _registered(session: Session, swap: DomainSwap, *, actor: str) -> bool:
    """A name bought for the swap: True once registered (its domain is now the swap's new
    one); False while it registers (the swap waits) or when it failed (the swap fails; the
    purchase refunds the wallet itself)."""
    purchase = session.get(DomainPurchase, swap.purchase_id) if swap.purchase_id else None
    if purchase is None or purchase.status == DomainPurchaseStatus.FAILED:
        why = purchase.failure_reason if purchase is not None else None
        reason = f"The new domain could not be registered: {why or 'the purchase is gone'}."
        transitions.move(session, swap, S.FAILED, actor=actor, reason=reason)
        return False
    if purchase.domain_id is None:
        transitions.wait(swap, POLL)
        return False
    swap.to_domain_id = purchase.domain_id
    return True


def finish(session: Session, settings: Settings, swap: DomainSwap, *, actor: str) -> None:
    """WAITING_FOR_MAILBOXES: once every new mailbox is made or failed, hand each made one its
    old one's slot (the old one removed now), copy its picture, and export the made ones to
    every account the old ones were exported to. An old mailbox whose new one failed stays."""
    new_ids = [uuid.UUID(item["new_mailbox_id"]) for item in swap.items]
    found = {row.id: row for row in session.scalars(select(Mailbox).where(Mailbox.id.in_(new_ids)))}
    if any(found[i].status not in SETTLED for i in new_ids if i in found):
        transitions.wait(swap, POLL)
        return
    items = [_settle(session, settings, swap, item, found, actor) for item in swap.items]
    swapped = {
        uuid.UUID(item["old_mailbox_id"]): uuid.UUID(item["new_mailbox_id"])
        for item in items
        if item["status"] == "SWAPPED"
    }
    swap.items = _export(session, settings, swap, items, swapped, actor)
    if not swapped:
        reasons = "; ".join(sorted({str(item["reason"]) for item in items}))[:800]
        transitions.move(
            session, swap, S.FAILED, actor=actor, reason=f"No mailbox could be made: {reasons}"
        )
        return
    if swap.export_ids:
        transitions.move(session, swap, S.REPLACING_ACCOUNTS, actor=actor, next_check=POLL)
    else:
        transitions.move(session, swap, S.DONE, actor=actor)


def _settle(
    session: Session,
    settings: Settings,
    swap: DomainSwap,
    item: dict[str, Any],
    found: dict[uuid.UUID, Mailbox],
    actor: str,
) -> dict[str, Any]:
    new = found.get(uuid.UUID(item["new_mailbox_id"]))
    if new is None or new.status != M.ACTIVE:
        why = new.failure_reason if new is not None else None
        return {**item, "status": "FAILED", "reason": why or "The new mailbox was not made."}
    mailbox_service.hand_over(
        session,
        workspace_id=swap.workspace_id,
        mailbox_id=uuid.UUID(item["old_mailbox_id"]),
        actor=actor,
    )
    if item["has_picture"]:
        _copy_picture(session, settings, swap, item, new, actor)
    return {**item, "status": "SWAPPED"}


def _copy_picture(
    session: Session,
    settings: Settings,
    swap: DomainSwap,
    item: dict[str, Any],
    new: Mailbox,
    actor: str,
) -> None:
    try:
        image, _ = pictures.load(settings, uuid.UUID(item["old_mailbox_id"]))
    except NotFound:
        return  # removed from the old mailbox meanwhile
    actions.set_picture(
        session,
        settings,
        workspace_id=swap.workspace_id,
        mailbox_id=new.id,
        image=image,
        actor=actor,
    )


def _export(
    session: Session,
    settings: Settings,
    swap: DomainSwap,
    items: list[dict[str, Any]],
    swapped: dict[uuid.UUID, uuid.UUID],
    actor: str,
) -> list[dict[str, Any]]:
    """One export job per account the old mailboxes reached, of the new ones; the app's
    refusal (the account deleted meanwhile, the re-export limit) is noted per mailbox."""
    by_old = {item["old_mailbox_id"]: item for item in items}
    jobs = []
    for (app, account_id), olds in history.destinations(session, list(swapped)).items():
        try:
            job = export_service.create(
                session,
                settings,
                swap.workspace_id,
                app=app,
                account_id=account_id,
                mailbox_ids=[swapped[old] for old in olds],
                where=None,
                exclude_ids=[],
                export_settings=ExportSettingsIn().model_dump(),
                actor=actor,
            )
        except MailfleetError as exc:
            outcome = {"app": app.value, "account_id": str(account_id), "error": exc.detail}
        else:
            jobs.append(str(job.id))
            outcome = {"app": app.value, "account_id": str(account_id), "export_id": str(job.id)}
        for old in olds:
            item = by_old[str(old)]
            by_old[str(old)] = {**item, "exported_to": [*item["exported_to"], outcome]}
    swap.export_ids = jobs
    return [by_old[item["old_mailbox_id"]] for item in items]
