"""A renewal run over N due subscriptions, each with add-on slots and scheduled changes (a
removal at renewal, and on every tenth a mailbox scheduled for creation), against a set-based
baseline making the same ledger inserts and updates (wallet balances, ledger entries,
invoices, periods, subscription and add-on dates) in a few bulk statements.

The renewal path is the worker's: the sweep's claim (renews_at pushed a lease ahead), then the
`billing.renew` job per chunk of 100 (`renewals.batch`: one transaction per chunk, with
everything a renewal does: events, invoices, periods, mailboxes' dates and removals, and the
scheduled orders through the orders service).

Run: .venv/bin/python -m bench.renewals [N ...]   (default 1000 10000; SQLite, then PostgreSQL;
MAILFLEET_BENCH_BACKENDS=sqlite or =postgresql runs one)
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update

from bench.common import Env, fresh_environment, tenant
from mailfleet.billing import periods
from mailfleet.billing.plans import service as plans
from mailfleet.billing.renewals import service as renewals
from mailfleet.billing.renewals import tasks as renewal_tasks
from mailfleet.jobs.queue import Runtime
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import (
    AddonSlots,
    BillingPeriod,
    Domain,
    DomainStatus,
    Invoice,
    LedgerKind,
    Mailbox,
    MailboxStatus,
    MailboxType,
    ScheduledMailbox,
    Subscription,
    SubscriptionPeriod,
    Wallet,
    WalletEntry,
    Workspace,
)
from tests.support.servers import postgres_server

PRICE, ADDON, ADDONS = 10_000, 500, 2
CHUNK = 500
# Every K-th subscription has a mailbox scheduled for creation (an order at its renewal);
# MAILFLEET_BENCH_CREATE_EVERY=0 leaves them out to show the renewal's own cost.
CREATE_EVERY = int(os.environ.get("MAILFLEET_BENCH_CREATE_EVERY", "10"))


def _insert(session: Any, model: type[Any], rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(cast(Table, model.__table__)), rows[start : start + CHUNK])


def build(env: Env, n: int) -> list[uuid.UUID]:
    """N workspaces, each with a funded wallet, one due subscription, an add-on, a domain with
    a live mailbox and one scheduled for removal; every tenth has a mailbox scheduled."""
    owner = tenant(env).user_id
    start = clock.now() - timedelta(days=40)
    end = periods.period_end(start, BillingPeriod.MONTHLY)
    with env.database.transaction() as session:
        key = f"bench-{uuid7().hex[:8]}"
        spec = plans.PlanSpec(
            key, "Bench", "STARTER", BillingPeriod.MONTHLY, (MailboxType.GOOGLE,), 10, PRICE,
            ADDON, "USD",
        )  # fmt: skip
        plan = plans.create(session, spec, actor="bench")
        rows: dict[type[Any], list[dict[str, Any]]] = {m: [] for m in ORDER}
        subscriptions = []
        for i in range(n):
            ws, sub, domain = uuid7(), uuid7(), uuid7()
            subscriptions.append(sub)
            common = {"workspace_id": ws, "created_at": start}
            rows[Workspace].append(
                {"id": ws, "name": f"w{i}", "owner_id": owner, "settings": {}, "created_at": start}
            )
            rows[Wallet].append(
                {**common, "id": uuid7(), "currency": "USD", "balance_cents": 2 * PRICE,
                 "updated_at": start}
            )  # fmt: skip
            rows[Subscription].append(
                {**common, "id": sub, "public_id": f"sub_bench{i}", "plan_id": plan.id,
                 "lookup_key": key, "period": BillingPeriod.MONTHLY, "mailbox_types": ["GOOGLE"],
                 "slots": 10, "price_cents": PRICE, "addon_price_cents": ADDON, "currency": "USD",
                 "current_period_start": start, "current_period_end": end, "renews_at": end,
                 "created_by": "bench", "updated_at": start}
            )  # fmt: skip
            rows[AddonSlots].append(
                {**common, "id": uuid7(), "subscription_id": sub,
                 "mailbox_type": MailboxType.GOOGLE, "quantity": ADDONS, "unit_price_cents": ADDON,
                 "period_start": start,
                 "period_end": end, "renew": True}
            )  # fmt: skip
            name = f"bench{i}.test"
            rows[Domain].append(
                {**common, "id": domain, "name": name, "unicode_name": name,
                 "status": DomainStatus.ACTIVE, "mailbox_type": MailboxType.GOOGLE,
                 "nameserver_1": "ns1.test", "nameserver_2": "ns2.test", "tags": [],
                 "email_forwards": {}, "activated_at": start}
            )  # fmt: skip
            for user, status in (
                ("live", MailboxStatus.ACTIVE),
                ("leaving", MailboxStatus.REMOVAL_SCHEDULED),
            ):
                rows[Mailbox].append(
                    {**common, "id": uuid7(), "domain_id": domain, "username": user,
                     "address": f"{user}@{name}", "first_name": "B", "last_name": "M",
                     "mailbox_type": MailboxType.GOOGLE, "backend": "manual", "status": status,
                     "expires_at": end, "remove_at_renewal": status != MailboxStatus.ACTIVE,
                     "updated_at": start}
                )  # fmt: skip
            if CREATE_EVERY and i % CREATE_EVERY == 0:
                rows[ScheduledMailbox].append(
                    {**common, "id": uuid7(), "domain_id": domain, "subscription_id": sub,
                     "mailbox_type": MailboxType.GOOGLE, "username": "later", "first_name": "L",
                     "last_name": "M", "scheduled_for": end, "created_by": "bench",
                     "updated_at": start}
                )  # fmt: skip
        for model in ORDER:
            _insert(session, model, rows[model])
    return subscriptions


ORDER: tuple[type[Any], ...] = (
    Workspace, Wallet, Subscription, AddonSlots, Domain, Mailbox, ScheduledMailbox,
)  # fmt: skip


def run_renewals(env: Env) -> tuple[float, dict[str, int]]:
    runtime = Runtime(env.settings, env.database)
    started = time.perf_counter()
    while True:
        with env.database.transaction() as session:
            ids = renewals.claim_due(session, env.settings, clock.now(), limit=CHUNK)
        # The job the sweep enqueues for each claimed chunk.
        for start in range(0, len(ids), renewal_tasks.CHUNK):
            renewal_tasks.renew(runtime, [str(i) for i in ids[start : start + renewal_tasks.CHUNK]])
        if len(ids) < CHUNK:
            return time.perf_counter() - started, outcomes(env)


def outcomes(env: Env) -> dict[str, int]:
    """What the run left: subscriptions per status, periods, removals and creations done."""
    with env.database.transaction(write=False) as session:
        found = {
            status.value: n
            for status, n in session.execute(
                select(Subscription.status, func.count()).group_by(Subscription.status)
            )
        }
        found["periods"] = session.scalar(select(func.count()).select_from(SubscriptionPeriod))
        found["created"] = session.scalar(
            select(func.count()).where(ScheduledMailbox.status == "CREATED")
        )
        found["removed"] = session.scalar(
            select(func.count()).where(Mailbox.status == MailboxStatus.REMOVED)
        )
    return found


def run_baseline(env: Env) -> float:
    """The same money and dates, set-based: what a renewal run cannot go below."""
    started = time.perf_counter()
    with env.database.transaction() as session:
        subs = session.execute(
            select(Subscription.id, Subscription.workspace_id, Subscription.current_period_end,
                   Subscription.plan_id, Wallet.id.label("wallet_id"))
            .join(Wallet, Wallet.workspace_id == Subscription.workspace_id)
        ).all()  # fmt: skip
        total = PRICE + ADDONS * ADDON
        now = clock.now()
        entries, invoices, opened, dates, wallets = [], [], [], [], []
        for row in subs:
            start = row.current_period_end
            end = periods.period_end(start, BillingPeriod.MONTHLY)
            entry, invoice = uuid7(), uuid7()
            wallets.append({"id": row.wallet_id, "balance_cents": 2 * PRICE - total})
            entries.append(
                {"id": entry, "workspace_id": row.workspace_id, "wallet_id": row.wallet_id,
                 "kind": LedgerKind.RENEWAL, "amount_cents": -total,
                 "balance_after_cents": 2 * PRICE - total, "currency": "USD", "reason": "renewal",
                 "actor": "bench", "dedupe_key": f"renewal:{row.id}:{start.isoformat()}",
                 "created_at": now}
            )  # fmt: skip
            invoices.append(
                {"id": invoice, "workspace_id": row.workspace_id, "number": f"B-{invoice.hex}",
                 "kind": LedgerKind.RENEWAL, "subscription_id": row.id, "wallet_entry_id": entry,
                 "currency": "USD", "lines": [], "subtotal_cents": total, "credit_cents": 0,
                 "total_cents": total, "issued_at": now, "created_at": now}
            )  # fmt: skip
            opened.append(
                {"id": uuid7(), "workspace_id": row.workspace_id, "subscription_id": row.id,
                 "plan_id": row.plan_id, "period_start": start, "period_end": end, "slots": 10,
                 "amount_cents": total, "wallet_entry_id": entry, "invoice_id": invoice,
                 "created_at": now}
            )  # fmt: skip
            dates.append(
                {"id": row.id, "current_period_start": start, "current_period_end": end,
                 "renews_at": end}
            )  # fmt: skip
        session.execute(update(Wallet), wallets)
        _insert(session, WalletEntry, entries)
        _insert(session, Invoice, invoices)
        _insert(session, SubscriptionPeriod, opened)
        session.execute(update(Subscription), dates)
        session.execute(
            update(AddonSlots)
            .where(AddonSlots.renew.is_(True))
            .values(period_start=AddonSlots.period_end)
            .execution_options(synchronize_session=False)
        )
    return time.perf_counter() - started


def measure(make_env: Any, sizes: list[int]) -> None:
    results = {}
    for n in sizes:
        with make_env() as env:
            build(env, n)
            spent, outcomes = run_renewals(env)
            backend = env.database.engine.dialect.name
        with make_env() as env:
            build(env, n)
            floor = run_baseline(env)
        results[n] = (spent, floor)
        print(
            f"{backend:>10} {n:>6} renewals: {spent:7.2f} s ({n / spent:6.0f}/s)  "
            f"baseline {floor:6.2f} s  ratio {spent / floor:5.1f}  {outcomes}"
        )
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        growth = results[large][0] / results[small][0]
        print(f"{'':>10} growth {small} -> {large}: x{growth:.1f} for x{large / small:.0f}")


@contextmanager
def sqlite_environment() -> Iterator[Env]:
    with fresh_environment(MAILFLEET_JOB_QUEUE="memory") as env:
        yield env


@contextmanager
def postgres_environment() -> Iterator[Env]:
    with (
        postgres_server() as url,
        fresh_environment(MAILFLEET_DATABASE_URL=url, MAILFLEET_JOB_QUEUE="memory") as env,
    ):
        yield env


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10_000]
    backends = os.environ.get("MAILFLEET_BENCH_BACKENDS", "sqlite,postgresql").split(",")
    print("backend        N  renewal run                   set-based baseline")
    if "sqlite" in backends:
        measure(sqlite_environment, sizes)
    if "postgresql" in backends:
        measure(postgres_environment, sizes)


if __name__ == "__main__":
    main()
