"""The `mailfleet` command: serve, migrate, and manage users, workspaces and keys."""

from __future__ import annotations

import typer

from mailfleet.cli import admin, server
from mailfleet.demo import cli as demo_cli

app = typer.Typer(no_args_is_help=True, help="Mailfleet control plane.")
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


def main() -> None:
    app()
