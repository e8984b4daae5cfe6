"""Plans from the shell: list, seed the default table, retire.

Only typer and rich at the top (see cli.admin): services load inside the commands.
"""

from __future__ import annotations

import typer
from rich.console import Console

from mailfleet.cli.database import fail, load_settings, open_database

plans = typer.Typer(
    help="Plans: list, seed (the default table), retire.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
console = Console()
CLI_ACTOR = "cli"


@plans.command("list")
def plan_list(
    all_: bool = typer.Option(False, "--all", help="Retired plans too."),
) -> None:
    """The current version of each plan, by lookup key."""
    from mailfleet.billing.plans import service

    database = open_database()
    try:
        with database.transaction(write=False) as session:
            lines = [
                f"{plan.lookup_key}  v{plan.version}  {','.join(plan.mailbox_types)}  "
                f"{plan.slots} slots  {plan.price_cents} {plan.currency}  "
                f"add-on {plan.addon_price_cents}  {plan.status.value}"
                for plan in service.list_current(session, include_retired=all_)
            ]
    finally:
        database.dispose()
    # One line per plan, never wrapped, so scripts can grep it.
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)


@plans.command("seed")
def plan_seed() -> None:
    """Create the default plans whose lookup keys do not exist yet (idempotent)."""
    from mailfleet.billing.plans.seed import seed

    settings = load_settings()
    database = open_database(settings)
    try:
        with database.transaction() as session:
            created = [plan.lookup_key for plan in seed(session, settings, actor=CLI_ACTOR)]
    finally:
        database.dispose()
    console.print(f"{len(created)} plan(s) created")


@plans.command("retire")
def plan_retire(lookup_key: str) -> None:
    """Stop selling a plan; its subscriptions keep renewing on their version."""
    from mailfleet.billing.plans import service
    from mailfleet.exceptions import MailfleetError

    database = open_database()
    try:
        with database.transaction() as session:
            service.retire(session, lookup_key, actor=CLI_ACTOR)
    except MailfleetError as error:
        raise fail(f"{error.code}: {error.detail}") from None
    finally:
        database.dispose()
    console.print(f"{lookup_key}: retired")
