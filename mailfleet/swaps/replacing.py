"""The last step of a swap: once the new mailboxes' exports have run, delete the old
addresses' accounts at each app where the new one arrived, so the app holds the new accounts
instead of the old. Recorded in three parts so no app is called with a transaction open: the
plan (read under the swap's lock), the calls, then the outcomes and DONE. A rerun after a crash
asks again: an account already gone is answered ABSENT."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.exports import accounts, history
from mailfleet.exports.apps.protocol import AppAccount
from mailfleet.exports.removal import Removal, remove_accounts
from mailfleet.jobs.queue import Runtime
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import DomainSwap, DomainSwapStatus, ExportAccount, ExportApp, ExportJob
from mailfleet.models import ExportStatus as E
from mailfleet.swaps import transitions
from mailfleet.swaps.service import POLL

S = DomainSwapStatus
FINISHED = frozenset({E.COMPLETED, E.FAILED})
KEPT = "KEPT"


@dataclass
class Target:
    """One app account and the old addresses to delete there."""

    app: ExportApp
    account: AppAccount
    emails: list[str] = field(default_factory=list)


def replace(runtime: Runtime, swap_id: uuid.UUID, *, actor: str) -> None:
    plan = _plan(runtime.database.transaction, runtime.settings, swap_id)
    if plan is None:
        return
    targets, kept = plan
    done: dict[tuple[str, str], Removal] = {}
    for account_id, target in targets.items():
        for removal in remove_accounts(runtime.settings, target.app, target.account, target.emails):
            done[(account_id, removal.email)] = removal
    with runtime.database.transaction() as session:
        swap = session.get(DomainSwap, swap_id, with_for_update=True)
        if swap is None or swap.status != S.REPLACING_ACCOUNTS:
            return
        swap.items = [_with_outcomes(item, done, kept) for item in swap.items]
        transitions.move(session, swap, S.DONE, actor=actor)


def _plan(
    transaction: Any, settings: Settings, swap_id: uuid.UUID
) -> tuple[dict[str, Target], dict[tuple[str, str], str]] | None:
    """Per account, the old addresses to delete; and why the others are kept. None while an
    export still runs (the swap waits) or when the swap is not at this step."""
    with transaction() as session:
        swap = session.get(DomainSwap, swap_id, with_for_update=True)
        if swap is None or swap.status != S.REPLACING_ACCOUNTS:
            return None
        job_ids = [uuid.UUID(value) for value in swap.export_ids]
        statuses = session.scalars(select(ExportJob.status).where(ExportJob.id.in_(job_ids)))
        if any(status not in FINISHED for status in statuses):
            transitions.wait(swap, POLL)
            return None
        return _targets(session, settings, swap, job_ids)


def _targets(
    session: Session, settings: Settings, swap: DomainSwap, job_ids: list[uuid.UUID]
) -> tuple[dict[str, Target], dict[tuple[str, str], str]]:
    new_ids = [uuid.UUID(i["new_mailbox_id"]) for i in swap.items if i["status"] == "SWAPPED"]
    arrived = history.arrived(session, job_ids, new_ids)
    rows = session.scalars(
        select(ExportAccount).where(
            ExportAccount.workspace_id == swap.workspace_id,
            ExportAccount.id.in_(
                {uuid.UUID(o["account_id"]) for i in swap.items for o in i["exported_to"]}
            ),
        )
    )
    box = SecretBox.from_settings(settings)
    found = {str(row.id): row for row in rows}
    targets: dict[str, Target] = {}
    kept: dict[tuple[str, str], str] = defaultdict(str)
    for item in swap.items:
        for outcome in item["exported_to"]:
            account_id, address = outcome["account_id"], item["old_address"]
            row = found.get(account_id)
            export_id = outcome.get("export_id")
            new_id = uuid.UUID(item["new_mailbox_id"]) if item["new_mailbox_id"] else None
            if row is None:
                kept[(account_id, address)] = "The account was deleted from Mailfleet."
            elif export_id is None or (uuid.UUID(export_id), new_id) not in arrived:
                kept[(account_id, address)] = "The new mailbox did not reach the app."
            else:
                target = targets.setdefault(
                    account_id, Target(row.app, accounts.app_account(box, row))
                )
                target.emails.append(address)
    return targets, dict(kept)


def _with_outcomes(
    item: dict[str, Any], done: dict[tuple[str, str], Removal], kept: dict[tuple[str, str], str]
) -> dict[str, Any]:
    outcomes = []
    for outcome in item["exported_to"]:
        key = (outcome["account_id"], item["old_address"])
        removal = done.get(key)
        if removal is not None:
            outcome = {**outcome, "old_account": removal.outcome.value}
            outcome["old_account_reason"] = removal.reason
        else:
            outcome = {**outcome, "old_account": KEPT, "old_account_reason": kept.get(key)}
        outcomes.append(outcome)
    return {**item, "exported_to": outcomes}
