"""The `mailfleet` command: serve, migrate, and manage users, workspaces and keys.

Every module the CLI imports at start names only typer and rich at its top, so `mailfleet
--help` (and any command's help) answers without loading FastAPI, SQLAlchemy or uvicorn; each
command imports what it needs when it runs.
"""

from __future__ import annotations

import typer

from mailfleet.cli import admin, server
from mailfleet.cli.console import console_cli
from mailfleet.cli.plans import plans as plans_cli
from mailfleet.cli.wallet import wallet as wallet_cli
from mailfleet.demo import cli as demo_cli

# Markdown: help paragraphs are re-flowed to the terminal (typer's "rich" mode keeps every
# line break of a docstring).
app = typer.Typer(
    no_args_is_help=True, help="Mailfleet control plane.", rich_markup_mode="markdown"
)
app.command("serve")(server.serve)
app.command("worker")(server.worker)
app.command("migrate")(server.migrate)
app.command("check-migrations")(server.check_migrations)
app.command("bootstrap")(server.bootstrap_command)
app.command("demo")(demo_cli.demo)
app.add_typer(admin.users, name="user")
app.add_typer(admin.workspaces, name="workspace")
app.add_typer(admin.keys, name="key")
app.add_typer(admin.allocations, name="allocation")
app.add_typer(wallet_cli, name="wallet")
app.add_typer(plans_cli, name="plans")
app.add_typer(console_cli, name="console")


def main() -> None:
    app()
