"""10,000 random wallet operations from 20 concurrent clients on one wallet: top-ups, purchases
(a debit and its invoice), add-ons, refunds, some refused for a short balance, and one in ten
sent again under a key already used (a retried request), often while the first is in flight.

What must hold afterwards, on SQLite and PostgreSQL: the balance equals the sum of the ledger
and never went below zero (each entry's balance_after is >= 0 and they chain), every key
applied at most once, and exactly the operations the clients saw succeed are in the ledger.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select

from mailfleet.billing import charges
from mailfleet.billing.errors import PaymentRequired
from mailfleet.billing.invoices.service import Line
from mailfleet.billing.wallet import service as wallet
from mailfleet.db import Database
from mailfleet.models import Invoice, LedgerKind, Wallet, WalletEntry
from tests.factories import make_tenant

CLIENTS = 20
OPERATIONS = 10_000
RETRIED_SHARE = 0.1
ACTOR = "test:concurrency"


@dataclass(frozen=True)
class Operation:
    key: str
    kind: LedgerKind
    cents: int

    @property
    def signed(self) -> int:
        return self.cents if self.kind in (LedgerKind.TOPUP, LedgerKind.REFUND) else -self.cents


def _operations(rng: random.Random) -> list[Operation]:
    kinds = [LedgerKind.TOPUP, LedgerKind.PURCHASE, LedgerKind.ADDON, LedgerKind.REFUND]
    # Debits a little heavier than credits, so the wallet runs dry and some are refused.
    weights = [35, 35, 20, 10]
    unique = round(OPERATIONS * (1 - RETRIED_SHARE))
    first = [
        Operation(f"op-{n}", rng.choices(kinds, weights)[0], rng.randint(1, 5_000))
        for n in range(unique)
    ]
    retried = [rng.choice(first) for _ in range(OPERATIONS - unique)]
    # A retry lands near its original, so the two are often in flight together.
    position = {operation.key: n for n, operation in enumerate(first)}
    placed = [(float(n), operation) for n, operation in enumerate(first)]
    placed += [
        (position[operation.key] + rng.uniform(0.5, CLIENTS * 2), operation)
        for operation in retried
    ]
    return [operation for _, operation in sorted(placed, key=lambda pair: pair[0])]


def _run(db: Database, workspace_id: uuid.UUID, operation: Operation) -> str:
    try:
        with db.transaction() as session:
            if operation.kind is LedgerKind.PURCHASE:
                done = charges.charge(
                    session,
                    workspace_id,
                    kind=LedgerKind.PURCHASE,
                    lines=[Line("Plan", 1, operation.cents, operation.cents)],
                    reason="purchase",
                    actor=ACTOR,
                    dedupe_key=operation.key,
                )
                applied = done.movement is not None and done.movement.applied
            elif operation.signed > 0:
                applied = wallet.credit(
                    session,
                    workspace_id,
                    operation.cents,
                    kind=operation.kind,
                    reason="credit",
                    actor=ACTOR,
                    dedupe_key=operation.key,
                ).applied
            else:
                applied = wallet.debit(
                    session,
                    workspace_id,
                    operation.cents,
                    kind=operation.kind,
                    reason="debit",
                    actor=ACTOR,
                    dedupe_key=operation.key,
                ).applied
    except PaymentRequired:
        return "refused"
    return "applied" if applied else "repeated"


def test_concurrent_operations_keep_the_ledger_and_the_balance_together(db: Database) -> None:
    tenant = make_tenant(db)
    operations = _operations(random.Random(20261203))
    outcomes: list[tuple[Operation, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    queue = iter(operations)

    def client() -> None:
        while True:
            with lock:
                operation = next(queue, None)
            if operation is None:
                return
            try:
                outcome = _run(db, tenant.workspace_id, operation)
            except BaseException as error:  # noqa: BLE001 - reported after the join
                errors.append(error)
                return
            with lock:
                outcomes.append((operation, outcome))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)

    assert not errors, errors[:3]
    assert len(outcomes) == OPERATIONS
    tally = Counter(outcome for _, outcome in outcomes)
    assert tally["refused"] > 0, tally
    assert tally["repeated"] > 0, tally

    applied = {op.key: op for op, outcome in outcomes if outcome == "applied"}
    applied_count = sum(1 for _, outcome in outcomes if outcome == "applied")
    assert applied_count == len(applied), "a key was applied twice"
    with db.transaction(write=False) as session:
        entries = session.execute(
            select(
                WalletEntry.dedupe_key, WalletEntry.amount_cents, WalletEntry.balance_after_cents
            ).where(WalletEntry.workspace_id == tenant.workspace_id)
        ).all()
        balance = session.scalar(
            select(Wallet.balance_cents).where(Wallet.workspace_id == tenant.workspace_id)
        )
        invoices = session.scalar(
            select(func.count())
            .select_from(Invoice)
            .where(Invoice.workspace_id == tenant.workspace_id)
        )
    # Exactly what the clients saw applied is in the ledger, once each, with its amount.
    assert {key: amount for key, amount, _ in entries} == {
        key: op.signed for key, op in applied.items()
    }
    assert len(entries) == len(applied)
    assert balance == sum(amount for _, amount, _ in entries)
    assert min(after for _, _, after in entries) >= 0
    # One invoice per applied purchase, none for a retry or a refusal.
    assert invoices == sum(1 for op in applied.values() if op.kind is LedgerKind.PURCHASE)
    # No lost update: each entry started from the balance another one left (or from zero),
    # and only the last one's is the balance now. Order-free, so no clock is trusted.
    afters = [after for _, _, after in entries]
    started_from = Counter(after - amount for _, amount, after in entries)
    assert started_from == Counter([0, *afters]) - Counter([balance])
