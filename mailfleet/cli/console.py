"""The web console from the shell: one-time password-reset links.

Only typer at the top (see cli/__init__): the services load inside the command.
"""

from __future__ import annotations

import typer

from mailfleet.cli.database import fail, load_settings, open_database

console_cli = typer.Typer(
    help="The web console (/console): password-reset links.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@console_cli.command("reset-link")
def reset_link(
    email: str,
    base_url: str = typer.Option(
        None, help="The console's public URL (default: http://MAILFLEET_HOST:MAILFLEET_PORT)."
    ),
) -> None:
    """Print a one-time link that sets a user's console password (valid for an hour; using it
    signs the user out everywhere). Only the link goes to stdout."""
    from mailfleet.console import resets
    from mailfleet.exceptions import MailfleetError

    settings = load_settings()
    database = open_database(settings)
    try:
        with database.transaction() as session:
            link = resets.create_link(session, email)
    except MailfleetError as error:
        raise fail(f"{error.code}: {error.detail}") from None
    finally:
        database.dispose()
    typer.echo(link.url(base_url or f"http://{settings.host}:{settings.port}"))
