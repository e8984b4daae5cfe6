"""Wallets from the shell: credit or debit by hand (a bank transfer received, a correction).

Only typer and rich at the top (see cli.admin): services load inside the command.
"""

from __future__ import annotations

import uuid

import typer
from rich.console import Console

from mailfleet.cli.database import fail, open_database

wallet = typer.Typer(
    help="Wallets: adjust a balance by hand, with a reason.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
console = Console()
CLI_ACTOR = "cli"


@wallet.command("adjust", context_settings={"ignore_unknown_options": True})
def wallet_adjust(
    workspace_id: str,
    amount_cents: int = typer.Argument(
        ..., help="Signed cents: 5000 credits 50.00, -500 takes 5.00 out (never below zero)."
    ),
    reason: str = typer.Option(..., "--reason", help="Why, shown in the ledger (required)."),
) -> None:
    """Credit (positive) or debit (negative) a workspace's wallet, e.g. after a bank
    transfer; the ledger records the reason and `cli` as the actor."""
    from mailfleet.billing.wallet import service
    from mailfleet.exceptions import MailfleetError
    from mailfleet.models import Workspace

    try:
        workspace = uuid.UUID(workspace_id)
    except ValueError:
        raise fail(f"{workspace_id!r} is not a valid workspace id (a UUID)") from None
    if not reason.strip():
        raise fail("--reason is required: say why the balance changes")
    database = open_database()
    try:
        with database.transaction() as session:
            if session.get(Workspace, workspace) is None:
                raise fail(f"workspace {workspace} not found")
            movement = service.adjust(
                session, workspace, amount_cents, reason=reason.strip(), actor=CLI_ACTOR
            )
    except MailfleetError as error:
        raise fail(f"{error.code}: {error.detail}") from None
    finally:
        database.dispose()
    console.print(
        f"{movement.amount_cents:+d} cents: balance {movement.balance_after_cents} "
        f"{movement.currency} (entry {movement.entry_id})",
        highlight=False,
    )
