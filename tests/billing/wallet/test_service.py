"""The wallet core: movements keep balance == sum of the ledger, never below zero, once per key."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DatabaseError

from mailfleet.billing.errors import CurrencyMismatch, InvalidAmount, PaymentRequired
from mailfleet.billing.wallet import service as wallet
from mailfleet.db import Database
from mailfleet.models import Event, LedgerKind, Wallet, WalletEntry
from tests.factories import make_tenant


def _balance_and_sum(db: Database, workspace_id: object) -> tuple[int, int]:
    with db.transaction(write=False) as session:
        balance = session.scalar(
            select(Wallet.balance_cents).where(Wallet.workspace_id == workspace_id)
        )
        total = session.scalar(
            select(func.coalesce(func.sum(WalletEntry.amount_cents), 0)).where(
                WalletEntry.workspace_id == workspace_id
            )
        )
    return int(balance or 0), int(total or 0)


def test_credit_then_debit_records_each_movement_with_the_resulting_balance(db: Database) -> None:
    tenant = make_tenant(db)
    with db.transaction() as session:
        top_up = wallet.credit(
            session,
            tenant.workspace_id,
            5000,
            kind=LedgerKind.TOPUP,
            reason="bank transfer",
            actor="operator:test",
        )
        spent = wallet.debit(
            session,
            tenant.workspace_id,
            3900,
            kind=LedgerKind.PURCHASE,
            reason="Starter monthly",
            actor="user:test",
            reference=wallet.Reference("subscription", "sub_1"),
        )
    assert (top_up.balance_after_cents, spent.balance_after_cents) == (5000, 1100)
    assert spent.amount_cents == -3900
    assert spent.applied
    assert _balance_and_sum(db, tenant.workspace_id) == (1100, 1100)
    with db.transaction(write=False) as session:
        kinds = session.scalars(
            select(Event.type)
            .where(Event.workspace_id == tenant.workspace_id, Event.subject_type == "wallet")
            .order_by(Event.id)
        ).all()
        entry = session.get(WalletEntry, spent.entry_id)
    assert kinds == ["wallet.credited", "wallet.debited"]
    assert entry is not None
    assert (entry.reference_type, entry.reference_id) == (
        "subscription",
        "sub_1",
    )


def test_a_debit_over_the_balance_names_the_shortfall_and_moves_nothing(db: Database) -> None:
    tenant = make_tenant(db)
    with db.transaction() as session:
        wallet.credit(
            session, tenant.workspace_id, 1000, kind=LedgerKind.TOPUP, reason="r", actor="a"
        )
    with pytest.raises(PaymentRequired) as refused, db.transaction() as session:
        wallet.debit(
            session, tenant.workspace_id, 3900, kind=LedgerKind.PURCHASE, reason="r", actor="a"
        )
    assert refused.value.shortfall_cents == 2900
    assert refused.value.status == 402
    assert refused.value.code == "insufficient_funds"
    assert "29.00 USD" in refused.value.detail
    assert _balance_and_sum(db, tenant.workspace_id) == (1000, 1000)


def test_a_movement_with_a_dedupe_key_applies_once(db: Database) -> None:
    tenant = make_tenant(db)
    for _ in range(3):
        with db.transaction() as session:
            moved = wallet.credit(
                session,
                tenant.workspace_id,
                2500,
                kind=LedgerKind.TOPUP,
                reason="checkout",
                actor="stripe",
                dedupe_key="evt_1",
            )
    assert not moved.applied
    assert moved.balance_after_cents == 2500
    assert _balance_and_sum(db, tenant.workspace_id) == (2500, 2500)


@pytest.mark.parametrize("amount", [0, -5, 10.5, True, "100", 100_000_001])
def test_amounts_must_be_positive_whole_cents(db: Database, amount: object) -> None:
    tenant = make_tenant(db)
    with pytest.raises(InvalidAmount) as refused, db.transaction() as session:
        wallet.credit(
            session,
            tenant.workspace_id,
            amount,
            kind=LedgerKind.TOPUP,  # type: ignore[arg-type]
            reason="r",
            actor="a",
        )
    assert refused.value.field == "amount_cents"


def test_operator_adjustments_are_signed_but_never_go_below_zero(db: Database) -> None:
    tenant = make_tenant(db)
    with db.transaction() as session:
        wallet.adjust(session, tenant.workspace_id, 700, reason="goodwill", actor="operator:x")
        wallet.adjust(session, tenant.workspace_id, -200, reason="correction", actor="operator:x")
    with pytest.raises(PaymentRequired), db.transaction() as session:
        wallet.adjust(session, tenant.workspace_id, -501, reason="too much", actor="operator:x")
    assert _balance_and_sum(db, tenant.workspace_id) == (500, 500)


def test_the_ledger_refuses_updates(db: Database) -> None:
    tenant = make_tenant(db)
    with db.transaction() as session:
        wallet.credit(
            session, tenant.workspace_id, 100, kind=LedgerKind.TOPUP, reason="r", actor="a"
        )
    with pytest.raises(DatabaseError, match="append-only"), db.transaction() as session:
        session.execute(update(WalletEntry).values(amount_cents=1_000_000))
    with pytest.raises(DatabaseError), db.transaction() as session:
        session.execute(text("UPDATE wallets SET balance_cents = -1"))
    assert _balance_and_sum(db, tenant.workspace_id) == (100, 100)


def test_a_charge_debits_once_and_issues_one_invoice_per_key(db: Database) -> None:
    from mailfleet.billing.charges import charge
    from mailfleet.billing.invoices.service import Line
    from mailfleet.models import Invoice

    tenant = make_tenant(db)
    with db.transaction() as session:
        wallet.credit(
            session, tenant.workspace_id, 10_000, kind=LedgerKind.TOPUP, reason="r", actor="a"
        )
    lines = [Line("Growth monthly", 1, 9900, 9900), Line("Unused Starter", 1, -2000, -2000)]
    for _ in range(2):
        with db.transaction() as session:
            done = charge(
                session,
                tenant.workspace_id,
                kind=LedgerKind.UPGRADE,
                lines=lines,
                reason="upgrade",
                actor="user:x",
                dedupe_key="upgrade:1",
            )
            number = done.invoice.number
    with db.transaction(write=False) as session:
        invoices = session.scalars(
            select(Invoice).where(Invoice.workspace_id == tenant.workspace_id)
        ).all()
    assert [i.number for i in invoices] == [number]
    assert (invoices[0].subtotal_cents, invoices[0].credit_cents, invoices[0].total_cents) == (
        9900,
        2000,
        7900,
    )
    assert _balance_and_sum(db, tenant.workspace_id) == (2100, 2100)


def test_debit_many_checks_each_wallet_and_charges_each_key_once(db: Database) -> None:
    rich, poor, other = (make_tenant(db) for _ in range(3))
    with db.transaction() as session:
        for caller, cents in ((rich, 10_000), (poor, 1_000), (other, 5_000)):
            wallet.credit(
                session, caller.workspace_id, cents, kind=LedgerKind.TOPUP, reason="t", actor="t"
            )
        # Charged already (an earlier renewal of the same period): found, not charged again.
        wallet.debit(
            session, other.workspace_id, 2_000, kind=LedgerKind.RENEWAL, reason="t", actor="t",
            dedupe_key="renewal:other",
        )  # fmt: skip

    def debit(caller: object, cents: int, key: str | None = None, **extra: object) -> wallet.Debit:
        return wallet.Debit(
            caller.workspace_id,  # type: ignore[attr-defined]
            cents,
            LedgerKind.RENEWAL,
            "renewal",
            "system:test",
            wallet.Reference("subscription", "sub_x"),
            key,
            **extra,  # type: ignore[arg-type]
        )

    with db.transaction() as session:
        results = wallet.debit_many(
            session,
            [
                debit(rich, 6_000, "renewal:a"),
                debit(rich, 6_000, "renewal:b"),  # 4,000 left after the first: refused
                debit(rich, 4_000, "renewal:a"),  # the same key in one batch: applied once
                debit(poor, 1_000, "renewal:p"),  # exactly the balance
                debit(other, 2_000, "renewal:other"),
                debit(other, 100, currency="EUR"),
            ],
        )
    first, short, again, exact, charged, euro = results
    assert isinstance(first, wallet.Movement)
    assert first.applied
    assert first.balance_after_cents == 4_000
    assert isinstance(short, PaymentRequired)
    assert short.shortfall_cents == 2_000
    assert isinstance(again, wallet.Movement)
    assert not again.applied
    assert again.entry_id == first.entry_id
    assert isinstance(exact, wallet.Movement)
    assert exact.balance_after_cents == 0
    assert isinstance(charged, wallet.Movement)
    assert not charged.applied
    assert isinstance(euro, CurrencyMismatch)
    assert _balance_and_sum(db, rich.workspace_id) == (4_000, 4_000)
    assert _balance_and_sum(db, poor.workspace_id) == (0, 0)
    assert _balance_and_sum(db, other.workspace_id) == (3_000, 3_000)
    with db.transaction(write=False) as session:
        debited = session.scalars(
            select(Event.data).where(Event.type == "wallet.debited").order_by(Event.id)
        ).all()
    # As `debit` records them: one per applied movement (the earlier debit's, then the batch's).
    assert sorted(d["amount_cents"] for d in debited) == [-6_000, -2_000, -1_000]
    (batch_first,) = [d for d in debited if d["entry_id"] == str(first.entry_id)]
    assert batch_first["balance_after_cents"] == 4_000
    assert batch_first["reference_type"] == "subscription"
