"""Credit and debit a workspace's wallet. The caller commits.

Every movement is one conditional UPDATE of the balance (`balance + amount >= 0`, so it never
goes negative, with no read-modify-write race: PostgreSQL's row lock and SQLite's write lock
order concurrent movements) and one ledger row carrying the resulting balance, in a savepoint.
A movement with a `dedupe_key` applies once per wallet: a second one with the same key (a
replayed webhook, a rerun renewal, two racing retries) finds the first and changes nothing.
So the balance always equals the sum of the ledger.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailfleet.billing.errors import CurrencyMismatch, InvalidAmount, PaymentRequired
from mailfleet.config import Settings
from mailfleet.db import insert_ignoring_duplicates
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import LedgerKind, Wallet, WalletEntry

DEFAULT_CURRENCY = "USD"
# Kinds that take money out of the wallet; the rest put it in.
DEBITS = frozenset(
    {
        LedgerKind.PURCHASE,
        LedgerKind.RENEWAL,
        LedgerKind.ADDON,
        LedgerKind.UPGRADE,
        LedgerKind.DOMAIN_PURCHASE,
    }
)
MAX_AMOUNT_CENTS = 100_000_000  # one million in the currency: a typo, not a purchase


@dataclass(frozen=True)
class Reference:
    """What a movement paid for or came from."""

    type: str
    id: str


@dataclass(frozen=True)
class Movement:
    entry_id: uuid.UUID
    wallet_id: uuid.UUID
    kind: LedgerKind
    amount_cents: int
    balance_after_cents: int
    currency: str
    created_at: datetime
    # False when an earlier movement with the same dedupe key had applied already.
    applied: bool


def wallet_for(session: Session, workspace_id: uuid.UUID) -> Wallet:
    """The workspace's wallet, made on first use (concurrent first uses make one)."""
    wallet = session.scalars(select(Wallet).where(Wallet.workspace_id == workspace_id)).first()
    if wallet is not None:
        return wallet
    insert_ignoring_duplicates(
        session,
        Wallet,
        [
            {
                "id": uuid7(),
                "workspace_id": workspace_id,
                "currency": DEFAULT_CURRENCY,
                "balance_cents": 0,
                "created_at": clock.now(),
                "updated_at": clock.now(),
            }
        ],
        unique=["workspace_id"],
    )
    return session.scalars(select(Wallet).where(Wallet.workspace_id == workspace_id)).one()


def balance_cents(session: Session, workspace_id: uuid.UUID) -> int:
    """The balance as stored now (movements are UPDATE statements: a loaded Wallet object may
    hold an older one); 0 before the wallet's first use."""
    found = session.scalar(select(Wallet.balance_cents).where(Wallet.workspace_id == workspace_id))
    return int(found or 0)


def wallet_view(settings: Settings, purse: Wallet | None) -> dict[str, Any]:
    """Balance, auto-recharge settings and whether a card is saved (defaults without a wallet)."""
    if purse is None:
        return {
            "balance_cents": 0,
            "currency": settings.billing_currency,
            "auto_recharge": {
                "enabled": False,
                "threshold_cents": settings.auto_recharge_threshold_cents,
                "amount_cents": settings.auto_recharge_min_amount_cents,
            },
            "has_payment_method": False,
        }
    return {
        "balance_cents": purse.balance_cents,
        "currency": purse.currency,
        "auto_recharge": {
            "enabled": purse.auto_recharge_enabled,
            "threshold_cents": purse.auto_recharge_threshold_cents,
            "amount_cents": purse.auto_recharge_amount_cents,
        },
        "has_payment_method": purse.default_payment_method_id is not None,
    }


def find_wallet(session: Session, workspace_id: uuid.UUID) -> Wallet | None:
    """The workspace's wallet, or None before its first use (a read never makes one)."""
    return session.scalars(select(Wallet).where(Wallet.workspace_id == workspace_id)).first()


def check_amount(amount_cents: object, field: str = "amount_cents") -> int:
    """A positive whole number of cents, or a clear 422 naming the field."""
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise InvalidAmount("Amounts are whole numbers of cents.", field=field)
    if amount_cents <= 0:
        raise InvalidAmount("The amount must be more than zero.", field=field)
    if amount_cents > MAX_AMOUNT_CENTS:
        raise InvalidAmount(f"The amount may be at most {MAX_AMOUNT_CENTS} cents.", field=field)
    return amount_cents


def credit(
    session: Session,
    workspace_id: uuid.UUID,
    amount_cents: int,
    *,
    kind: LedgerKind,
    reason: str,
    actor: str,
    reference: Reference | None = None,
    dedupe_key: str | None = None,
    currency: str | None = None,
) -> Movement:
    if kind in DEBITS:
        raise ValueError(f"{kind} is a debit")
    return _move(
        session,
        workspace_id,
        check_amount(amount_cents),
        kind,
        reason,
        actor,
        reference,
        dedupe_key,
        currency,
    )


def debit(
    session: Session,
    workspace_id: uuid.UUID,
    amount_cents: int,
    *,
    kind: LedgerKind,
    reason: str,
    actor: str,
    reference: Reference | None = None,
    dedupe_key: str | None = None,
    currency: str | None = None,
) -> Movement:
    """Take `amount_cents` out, or raise PaymentRequired naming the shortfall (nothing moves)."""
    if kind not in DEBITS:
        raise ValueError(f"{kind} is a credit")
    return _move(
        session,
        workspace_id,
        -check_amount(amount_cents),
        kind,
        reason,
        actor,
        reference,
        dedupe_key,
        currency,
    )


def adjust(
    session: Session,
    workspace_id: uuid.UUID,
    amount_cents: int,
    *,
    reason: str,
    actor: str,
    dedupe_key: str | None = None,
) -> Movement:
    """An operator's adjustment: signed, never below zero, and always with a reason."""
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents == 0:
        raise InvalidAmount(
            "An adjustment is a non-zero whole number of cents.", field="amount_cents"
        )
    check_amount(abs(amount_cents))
    return _move(
        session,
        workspace_id,
        amount_cents,
        LedgerKind.ADJUSTMENT,
        reason,
        actor,
        None,
        dedupe_key,
        None,
    )


def _move(
    session: Session,
    workspace_id: uuid.UUID,
    signed_cents: int,
    kind: LedgerKind,
    reason: str,
    actor: str,
    reference: Reference | None,
    dedupe_key: str | None,
    currency: str | None,
) -> Movement:
    wallet = wallet_for(session, workspace_id)
    if currency is not None and currency.upper() != wallet.currency:
        raise CurrencyMismatch(
            f"This wallet holds {wallet.currency}, not {currency.upper()}.", field="currency"
        )
    if dedupe_key is not None:
        earlier = _entry_with_key(session, wallet.id, dedupe_key)
        if earlier is not None:
            return _movement(earlier, applied=False)
    try:
        with session.begin_nested():
            balance = _apply(session, wallet, signed_cents)
            entry = WalletEntry(
                workspace_id=workspace_id,
                wallet_id=wallet.id,
                kind=kind,
                amount_cents=signed_cents,
                balance_after_cents=balance,
                currency=wallet.currency,
                reason=reason[:500],
                actor=actor,
                reference_type=reference.type if reference else None,
                reference_id=reference.id if reference else None,
                dedupe_key=dedupe_key,
            )
            session.add(entry)
            session.flush()
    except IntegrityError:
        # A concurrent movement with the same key committed between our check and our insert.
        earlier = _entry_with_key(session, wallet.id, dedupe_key) if dedupe_key else None
        if earlier is None:
            raise
        return _movement(earlier, applied=False)
    events.record(
        session,
        workspace_id=workspace_id,
        type=EventType.WALLET_CREDITED if signed_cents > 0 else EventType.WALLET_DEBITED,
        subject_type="wallet",
        subject_id=wallet.id,
        actor=actor,
        entry_id=str(entry.id),
        kind=kind.value,
        amount_cents=signed_cents,
        balance_after_cents=balance,
        currency=wallet.currency,
        reference_type=entry.reference_type,
        reference_id=entry.reference_id,
    )
    return _movement(entry, applied=True)


@dataclass(frozen=True)
class Debit:
    """One debit of a batch (`debit_many`)."""

    workspace_id: uuid.UUID
    amount_cents: int
    kind: LedgerKind
    reason: str
    actor: str
    reference: Reference | None = None
    dedupe_key: str | None = None
    currency: str | None = None


def debit_many(
    session: Session, debits: Sequence[Debit]
) -> list[Movement | PaymentRequired | CurrencyMismatch]:
    """`debit` for many at once (a renewal run): per debit, its movement (`applied` False when
    its dedupe key had applied already) or the error `debit` would raise, nothing moved then.

    The wallets are locked first, in id order, and read under the lock; each debit is checked
    against its wallet's balance after the batch's earlier debits of that wallet, so none goes
    below zero and each balance still equals its ledger. Then one relative UPDATE per wallet
    (executemany), one insert of the ledger entries and one of their `wallet.debited` events."""
    for item in debits:
        if item.kind not in DEBITS:
            raise ValueError(f"{item.kind} is a credit")
        check_amount(item.amount_cents)
    wallets = _lock_wallets(session, {item.workspace_id for item in debits})
    earlier = _entries_with_keys(session, wallets.values(), debits)
    balances = {wallet.id: wallet.balance_cents for wallet in wallets.values()}
    now = clock.now()
    results: list[Movement | PaymentRequired | CurrencyMismatch] = []
    rows: list[dict[str, Any]] = []
    for item in debits:
        wallet = wallets.get(item.workspace_id)
        refused = _refusal(wallet, balances, item)
        if refused is not None:
            results.append(refused)
            continue
        assert wallet is not None  # _refusal says no wallet is a shortfall
        found = earlier.get((wallet.id, item.dedupe_key)) if item.dedupe_key else None
        if found is not None:
            results.append(found)
            continue
        balances[wallet.id] -= item.amount_cents
        row = _entry_row(wallet, item, balances[wallet.id], now)
        rows.append(row)
        results.append(_movement_of(row, applied=True))
        if item.dedupe_key:  # the same key twice in one batch applies once, too
            earlier[(wallet.id, item.dedupe_key)] = _movement_of(row, applied=False)
    _write_debits(session, wallets, balances, rows, now)
    return results


def _lock_wallets(session: Session, workspace_ids: set[uuid.UUID]) -> dict[uuid.UUID, Wallet]:
    found = session.scalars(
        select(Wallet)
        .where(Wallet.workspace_id.in_(workspace_ids))
        .order_by(Wallet.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {wallet.workspace_id: wallet for wallet in found}


def _entries_with_keys(
    session: Session, wallets: Iterable[Wallet], debits: Sequence[Debit]
) -> dict[tuple[uuid.UUID, str | None], Movement]:
    keys = {item.dedupe_key for item in debits if item.dedupe_key}
    if not keys:
        return {}
    # By (wallet, key): the unique index's order, so the check reads the index, not the ledger.
    entries = session.scalars(
        select(WalletEntry).where(
            WalletEntry.wallet_id.in_([w.id for w in wallets]), WalletEntry.dedupe_key.in_(keys)
        )
    )
    return {(e.wallet_id, e.dedupe_key): _movement(e, applied=False) for e in entries}


def _refusal(
    wallet: Wallet | None, balances: dict[uuid.UUID, int], item: Debit
) -> PaymentRequired | CurrencyMismatch | None:
    currency = wallet.currency if wallet is not None else DEFAULT_CURRENCY
    if item.currency is not None and item.currency.upper() != currency:
        return CurrencyMismatch(
            f"This wallet holds {currency}, not {item.currency.upper()}.", field="currency"
        )
    have = balances[wallet.id] if wallet is not None else 0
    if have >= item.amount_cents:
        return None
    shortfall = item.amount_cents - have
    return PaymentRequired(
        f"The wallet holds {_money(have, currency)}; this costs "
        f"{_money(item.amount_cents, currency)}, {_money(shortfall, currency)} more "
        "than the balance.",
        shortfall_cents=shortfall,
    )


def _entry_row(wallet: Wallet, item: Debit, balance: int, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "created_at": now,
        "workspace_id": wallet.workspace_id,
        "wallet_id": wallet.id,
        "kind": item.kind,
        "amount_cents": -item.amount_cents,
        "balance_after_cents": balance,
        "currency": wallet.currency,
        "reason": item.reason[:500],
        "actor": item.actor,
        "reference_type": item.reference.type if item.reference else None,
        "reference_id": item.reference.id if item.reference else None,
        "dedupe_key": item.dedupe_key,
    }


def _movement_of(row: dict[str, Any], *, applied: bool) -> Movement:
    return Movement(
        entry_id=row["id"],
        wallet_id=row["wallet_id"],
        kind=row["kind"],
        amount_cents=row["amount_cents"],
        balance_after_cents=row["balance_after_cents"],
        currency=row["currency"],
        created_at=row["created_at"],
        applied=applied,
    )


def _write_debits(
    session: Session,
    wallets: dict[uuid.UUID, Wallet],
    balances: dict[uuid.UUID, int],
    rows: list[dict[str, Any]],
    now: datetime,
) -> None:
    if not rows:
        return
    taken: dict[uuid.UUID, int] = defaultdict(int)
    for row in rows:
        taken[row["wallet_id"]] -= row["amount_cents"]
    table = cast(Table, Wallet.__table__)
    # Relative, as `_apply`: the rows are locked, so this is the balance read plus the debits.
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("wallet_id"))
        .values(balance_cents=table.c.balance_cents - bindparam("amount"), updated_at=now),
        [{"wallet_id": wallet_id, "amount": amount} for wallet_id, amount in taken.items()],
    )
    session.execute(insert(cast(Table, WalletEntry.__table__)), rows)
    for wallet in wallets.values():
        if wallet.id in taken:
            session.expire(wallet, ["balance_cents", "updated_at"])
    events.record_all(
        session,
        (
            events.NewEvent(
                row["workspace_id"],
                EventType.WALLET_DEBITED,
                "wallet",
                row["wallet_id"],
                row["actor"],
                {
                    "entry_id": str(row["id"]),
                    "kind": row["kind"].value,
                    "amount_cents": row["amount_cents"],
                    "balance_after_cents": row["balance_after_cents"],
                    "currency": row["currency"],
                    "reference_type": row["reference_type"],
                    "reference_id": row["reference_id"],
                },
            )
            for row in rows
        ),
    )


def _apply(session: Session, wallet: Wallet, signed_cents: int) -> int:
    balance = session.execute(
        update(Wallet)
        .where(Wallet.id == wallet.id, Wallet.balance_cents + signed_cents >= 0)
        .values(balance_cents=Wallet.balance_cents + signed_cents, updated_at=clock.now())
        .returning(Wallet.balance_cents)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if balance is None:
        have = session.scalar(select(Wallet.balance_cents).where(Wallet.id == wallet.id)) or 0
        shortfall = -signed_cents - have
        raise PaymentRequired(
            f"The wallet holds {_money(have, wallet.currency)}; this costs "
            f"{_money(-signed_cents, wallet.currency)}, {_money(shortfall, wallet.currency)} more "
            "than the balance.",
            shortfall_cents=shortfall,
        )
    return int(balance)


def _money(cents: int, currency: str) -> str:
    return f"{cents // 100}.{cents % 100:02d} {currency}"


def _entry_with_key(session: Session, wallet_id: uuid.UUID, key: str) -> WalletEntry | None:
    return session.scalars(
        select(WalletEntry).where(WalletEntry.wallet_id == wallet_id, WalletEntry.dedupe_key == key)
    ).first()


def _movement(entry: WalletEntry, *, applied: bool) -> Movement:
    return Movement(
        entry_id=entry.id,
        wallet_id=entry.wallet_id,
        kind=entry.kind,
        amount_cents=entry.amount_cents,
        balance_after_cents=entry.balance_after_cents,
        currency=entry.currency,
        created_at=entry.created_at,
        applied=applied,
    )
