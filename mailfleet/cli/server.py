from __future__ import annotations

import typer
from rich.console import Console
from rich.panel import Panel

from mailfleet import bootstrap, migrations
from mailfleet.config import Settings
from mailfleet.db import Database

console = Console()


def serve(
    host: str = typer.Option(None, help="Listen address (default from settings)."),
    port: int = typer.Option(None, help="Listen port (default from settings)."),
) -> None:
    """Apply migrations, create the first owner if the database is empty, and serve the API."""
    import uvicorn

    from mailfleet.app import create_app

    settings = Settings()
    database = Database(settings)
    migrations.upgrade(database.engine)
    _print_bootstrap(database)
    uvicorn.run(
        create_app(settings, database),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
    )


def worker(
    threads: int = typer.Option(None, help="Worker threads (default from settings)."),
) -> None:
    """Run jobs from the queue in settings (Redis or PostgreSQL when several processes share it)."""
    import signal
    import threading

    from mailfleet.jobs.queue import Runtime
    from mailfleet.jobs.worker import Worker

    settings = Settings()
    database = Database(settings)
    migrations.upgrade(database.engine)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with Worker(Runtime(settings, database), threads=threads):
        console.print(f"[green]Worker running[/] on the {settings.job_queue} queue.")
        stop.wait()
    console.print("Worker stopped.")


def migrate() -> None:
    """Apply every pending migration."""
    database = Database(Settings())
    migrations.upgrade(database.engine)
    console.print("[green]Database is at the latest migration.[/]")


def check_migrations() -> None:
    """Fail if the models and the migrations disagree."""
    database = Database(Settings())
    migrations.upgrade(database.engine)
    migrations.check(database.engine)
    console.print("[green]Models and migrations agree.[/]")


def bootstrap_command() -> None:
    """Create the owner user, a workspace and a one-time API key if there are no users yet."""
    database = Database(Settings())
    migrations.upgrade(database.engine)
    if not _print_bootstrap(database):
        console.print("Users already exist; nothing to do. Use `mailfleet key create`.")


def _print_bootstrap(database: Database) -> bool:
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
