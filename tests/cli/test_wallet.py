"""`mailfleet wallet adjust`: an operator's credit or debit from the shell, with a reason."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.models import LedgerKind, Wallet, WalletEntry
from tests.cli.conftest import RunCli
from tests.factories import make_tenant


def test_adjust_credits_and_debits_with_a_reason(db: Database, cli: RunCli) -> None:
    tenant = make_tenant(db)
    workspace = str(tenant.workspace_id)
    credited = cli("wallet", "adjust", workspace, "5000", "--reason", "bank transfer 42")
    assert credited.exit_code == 0, credited.output
    assert "balance 5000 USD" in credited.output
    debited = cli("wallet", "adjust", "--reason", "correction", workspace, "--", "-1200")
    assert debited.exit_code == 0, debited.output
    assert "balance 3800" in debited.output
    with db.transaction(write=False) as session:
        entries = list(
            session.scalars(
                select(WalletEntry)
                .where(WalletEntry.workspace_id == tenant.workspace_id)
                .order_by(WalletEntry.id)
            )
        )
        balance = session.scalar(
            select(Wallet.balance_cents).where(Wallet.workspace_id == tenant.workspace_id)
        )
    assert [(e.kind, e.amount_cents, e.reason, e.actor) for e in entries] == [
        (LedgerKind.ADJUSTMENT, 5000, "bank transfer 42", "cli"),
        (LedgerKind.ADJUSTMENT, -1200, "correction", "cli"),
    ]
    assert balance == 3800


def test_adjust_refuses_what_it_cannot_do(db: Database, cli: RunCli) -> None:
    tenant = make_tenant(db)
    workspace = str(tenant.workspace_id)
    no_reason = cli("wallet", "adjust", workspace, "100")
    assert no_reason.exit_code != 0
    blank = cli("wallet", "adjust", workspace, "100", "--reason", "  ")
    assert blank.exit_code == 1
    assert "--reason is required" in blank.output
    below_zero = cli("wallet", "adjust", "--reason", "x", workspace, "--", "-1")
    assert below_zero.exit_code == 1
    assert "insufficient_funds" in below_zero.output
    nobody = cli("wallet", "adjust", str(uuid.uuid4()), "100", "--reason", "x")
    assert nobody.exit_code == 1
    assert "not found" in nobody.output
    with db.transaction(write=False) as session:
        assert session.scalars(select(WalletEntry)).first() is None
