"""`serve`, `worker`, `migrate`, `check-migrations` and `bootstrap`.

Only typer and rich at the top: the web stack, SQLAlchemy and uvicorn load inside the commands,
so `mailfleet --help` answers at once.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from mailfleet.cli.database import fail, load_settings, open_database

if TYPE_CHECKING:
    from mailfleet.config import Settings
    from mailfleet.db import Database

console = Console()

# uvicorn's exit status when the app fails to start (its lifespan raised).
STARTUP_FAILURE = 3


def serve(
    host: str = typer.Option(None, help="API listen address (default: MAILFLEET_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="API listen port (default: MAILFLEET_PORT, 8000)."),
) -> None:
    """Serve the API; by default the builtin DNS server and the job worker run in it too.

    Creates the database (and ./data, or MAILFLEET_DATA_DIR) if needed, applies migrations,
    and on an empty database creates the owner, a workspace and a one-time API key.
    """
    from mailfleet.cli.ports import PortError, api_socket, check_dns_ports

    settings = load_settings()
    host = host or settings.host
    port = port or settings.port
    # Ports first: a second `serve` stops here, before it touches any database.
    try:
        sock = api_socket(host, port)
        if settings.dns_provider == "builtin" and settings.dns_server_enabled:
            check_dns_ports(settings.dns_server_host, settings.dns_server_port)
    except PortError as error:
        raise fail(str(error)) from None
    try:
        database = open_database(settings, create=True)
        _print_bootstrap(database)
        _print_summary(settings, f"http://{_url_host(host)}:{sock.getsockname()[1]}")
        _run_uvicorn(settings, database, sock, host, port)
    finally:
        sock.close()


def _run_uvicorn(
    settings: Settings, database: Database, sock: socket.socket, host: str, port: int
) -> None:
    import uvicorn

    from mailfleet.app import create_app

    config = uvicorn.Config(
        create_app(settings, database), host=host, port=port, log_level=settings.log_level.lower()
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:
        raise typer.Exit(STARTUP_FAILURE)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _print_summary(settings: Settings, api: str) -> None:
    from mailfleet.background import startup_summary

    table = Table(title="Mailfleet", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for what, which in startup_summary(settings, api=api):
        table.add_row(what, which)
    console.print(table)


def worker(
    threads: int = typer.Option(None, help="Worker threads (default: MAILFLEET_WORKER_THREADS)."),
) -> None:
    """Run jobs from the queue in MAILFLEET_JOB_QUEUE, beside a `serve` started with
    MAILFLEET_WORKER_IN_PROCESS=false.

    Queues: sqlite (the default, a file in the data directory, shared by the processes on this
    machine) or redis (MAILFLEET_REDIS_URL, shared across machines). Needs an existing database.
    """
    import signal
    import threading

    from mailfleet.jobs.queue import Runtime
    from mailfleet.jobs.worker import Worker

    settings = load_settings()
    database = open_database(settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with Worker(Runtime(settings, database), threads=threads):
        console.print(f"[green]Worker running[/] on the {settings.job_queue} queue.")
        stop.wait()
    console.print("Worker stopped.")


def migrate() -> None:
    """Create the database if needed and apply every pending migration."""
    open_database(create=True).dispose()
    console.print("[green]Database is at the latest migration.[/]")


def check_migrations() -> None:
    """Fail if the models and the migrations disagree (for developers; needs a database)."""
    from mailfleet import migrations

    database = open_database()
    try:
        migrations.check(database.engine)
    finally:
        database.dispose()
    console.print("[green]Models and migrations agree.[/]")


def bootstrap_command() -> None:
    """Create the database if needed; with no users yet, create the owner, a workspace and a
    one-time API key."""
    database = open_database(create=True)
    try:
        if not _print_bootstrap(database):
            console.print(
                "Users already exist; nothing to do. "
                "`mailfleet user list` shows them, `mailfleet key create EMAIL` makes a key."
            )
    finally:
        database.dispose()


def _print_bootstrap(database: Database) -> bool:
    from mailfleet import bootstrap

    with database.transaction() as session:
        created = bootstrap.bootstrap_if_empty(session, database.settings)
    if created is None:
        return False
    console.print(
        Panel.fit(
            f"Owner: {created.email}\n"
            f"Workspace: {created.workspace_name} ({created.workspace_id})\n"
            f"API key (shown once): [bold]{created.token}[/]",
            title="Mailfleet first start",
        )
    )
    return True
