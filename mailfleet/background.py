"""What `mailfleet serve` runs beside the API (the builtin DNS server and the job worker), and
what it says at start about the pieces in use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from mailfleet.config import MailboxType, Settings
from mailfleet.jobs.queue import Runtime
from mailfleet.kit.routing import warm


class Service(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def services_for(settings: Settings, runtime: Runtime) -> list[Service]:
    services: list[Service] = []
    if settings.dns_server_enabled and settings.dns_provider == "builtin":
        from mailfleet.dns.server import BuiltinDnsServer

        services.append(BuiltinDnsServer(settings, runtime.database))
    if settings.worker_in_process:
        from mailfleet.jobs.worker import Worker

        services.append(Worker(runtime))
    return services


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    services = services_for(app.state.settings, app.state.runtime)
    started: list[Service] = []
    if app.state.settings.warm_routes:
        warm(app.state.route_apps)
    try:
        for service in services:
            service.start()
            started.append(service)
        yield
    finally:
        for service in reversed(started):
            service.stop()
        app.state.pages.close()


# --- start-up messages ----------------------------------------------------------------------


def database_label(settings: Settings) -> str:
    """The database in words a log may show: a SQLite file's path, or the URL without its
    password."""
    url = settings.resolved_database_url
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "an unreadable MAILFLEET_DATABASE_URL"
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite {parsed.database or ':memory:'}"
    return parsed.render_as_string(hide_password=True)


def _dns_server(settings: Settings) -> str:
    if settings.dns_provider != "builtin":
        return f"none here: zones are kept by {settings.dns_provider}"
    if not settings.dns_server_enabled:
        return "off (MAILFLEET_DNS_SERVER_ENABLED=false): zones kept, not answered"
    return f"{settings.dns_server_host} port {settings.dns_server_port} (UDP, TCP)"


def _job_queue(settings: Settings) -> str:
    where = {
        "sqlite": f"sqlite ({settings.data_dir.resolve() / 'jobs.db'})",
        "redis": f"redis ({_hide_password(settings.redis_url.get_secret_value())})",
        "memory": "memory (this process only)",
    }.get(settings.job_queue, settings.job_queue)
    if settings.worker_in_process:
        return f"{where}, worker in this process ({settings.worker_threads} threads)"
    return f"{where}, no worker here: run `mailfleet worker` beside it"


def _hide_password(url: str) -> str:
    """A Redis URL with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "an unreadable URL"


def startup_summary(settings: Settings, *, api: str) -> list[tuple[str, str]]:
    """What `mailfleet serve` runs with, as (what, which) rows: a user sees at once whether
    orders go to an operator or a real backend, and where DNS answers."""
    rows = [
        ("API", api),
        ("Database", database_label(settings)),
        ("DNS provider", settings.dns_provider),
        ("DNS server", _dns_server(settings)),
        ("Job queue", _job_queue(settings)),
    ]
    for mailbox_type in MailboxType:
        backend = settings.backend_for(mailbox_type)
        rows.append((f"Mailboxes {mailbox_type.value}", _BACKEND_NOTES.get(backend, backend)))
    return rows


_BACKEND_NOTES = {
    "manual": "manual (orders wait for an operator)",
    "smtp": "smtp (Postfix/Dovecot on this host)",
}
