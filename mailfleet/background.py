"""What `mailfleet serve` runs beside the API: the builtin DNS server and the job worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI

from mailfleet.config import Settings
from mailfleet.jobs.queue import Runtime


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
    try:
        for service in services:
            service.start()
            started.append(service)
        yield
    finally:
        for service in reversed(started):
            service.stop()
        app.state.pages.close()
