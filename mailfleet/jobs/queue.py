"""The job queue, chosen by settings, and the registry of task functions.

Task functions live in each domain package's `tasks` module and register themselves with
`@job("name")`. They receive the `Runtime` (settings, database, queue) and plain arguments
(ids as strings), own their transactions, and are idempotent: running one twice, or after a
crash half-way, leaves the same end state.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey

from mailfleet.config import Settings
from mailfleet.db import Database, create_private_file, make_data_dir

log = logging.getLogger(__name__)

# Modules whose @job functions make up the task registry.
TASK_MODULES = (
    "mailfleet.billing.payments.tasks",
    "mailfleet.dns.tasks",
    "mailfleet.domains.tasks",
    "mailfleet.mailboxes.tasks",
    "mailfleet.webhooks.tasks",
    "mailfleet.billing.renewals.tasks",
    "mailfleet.exports.tasks",
    "mailfleet.registrars.tasks",
    "mailfleet.reputation.tasks",
    "mailfleet.setups.tasks",
    "mailfleet.swaps.tasks",
)
# Modules that register hooks a lower layer calls, loaded wherever jobs run: an order's status
# follows its mailboxes' moves (mailboxes.transitions.follow_orders).
HOOK_MODULES = ("mailfleet.orders.status", "mailfleet.orders.renewals")

TaskFunction = Callable[..., None]
TASKS: dict[str, TaskFunction] = {}


def job(name: str) -> Callable[[TaskFunction], TaskFunction]:
    def register(function: TaskFunction) -> TaskFunction:
        TASKS[name] = function
        return function

    return register


def make_huey(settings: Settings) -> Huey:
    if settings.job_queue == "redis":
        return RedisHuey("mailfleet", url=settings.redis_url.get_secret_value(), blocking=True)
    if settings.job_queue == "memory":
        return MemoryHuey("mailfleet")
    if settings.job_queue == "sqlite":
        # Jobs name customers' domains and mailboxes: private like the database.
        path = make_data_dir(settings) / "jobs.db"
        create_private_file(path)
        return SqliteHuey("mailfleet", filename=str(path))
    raise ValueError(f"unknown job_queue {settings.job_queue!r}: use sqlite, redis or memory")


@dataclass
class Runtime:
    """What a job needs: settings, the database, and the queue to enqueue follow-up jobs."""

    settings: Settings
    database: Database
    huey: Huey = field(init=False)
    _tasks: dict[str, Any] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for module in (*TASK_MODULES, *HOOK_MODULES):
            importlib.import_module(module)
        self.huey = make_huey(self.settings)
        for name, function in TASKS.items():
            self._tasks[name] = self.huey.task(name=name)(self._bind(function))
        # Jobs asked for inside a transaction go out once it commits (db.enqueue_after_commit).
        self.database.dispatch = self.enqueue

    def _bind(self, function: TaskFunction) -> Callable[..., None]:
        def run(*args: Any) -> None:
            function(self, *args)

        run.__name__ = function.__name__
        return run

    def enqueue(self, name: str, args: tuple[Any, ...]) -> None:
        try:
            self._tasks[name](*args)
        except Exception:
            # The sweep finds the work again once its lease runs out; the request must not fail
            # because the queue hiccuped after its data was committed.
            log.exception("could not enqueue job %s", name)

    def enqueue_in(self, name: str, args: tuple[Any, ...], *, delay: float) -> None:
        """Enqueue after `delay` seconds (a retry that must not wait for the next sweep)."""
        try:
            self._tasks[name].schedule(args, delay=delay)
        except Exception:
            log.exception("could not schedule job %s", name)

    def run_now(self, name: str, *args: Any) -> None:
        """Run a task inline (tests, the CLI)."""
        TASKS[name](self, *args)
