"""The job consumer, in the web process (embedded default) or as `mailfleet worker`, and the sweep.

The sweep is what makes jobs safe to lose: every resource that needs work carries a
`next_check_at`; the sweep claims due rows (pushing `next_check_at` forward by a lease) and
enqueues them. A job that dies mid-way leaves its rows due again once the lease runs out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from huey.consumer import Consumer

from mailfleet.jobs.queue import Runtime

log = logging.getLogger(__name__)

# Each domain package contributes a function that claims due work and enqueues it.
Sweeper = Callable[[Runtime], int]
SWEEPERS: list[Sweeper] = []


def sweeper(function: Sweeper) -> Sweeper:
    SWEEPERS.append(function)
    return function


def sweep(runtime: Runtime) -> int:
    """Claim and enqueue everything due now; returns how many items were handed out."""
    handed_out = 0
    for function in SWEEPERS:
        try:
            handed_out += function(runtime)
        except Exception:
            log.exception("sweep %s failed", function.__name__)
    return handed_out


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]
    # Signals belong to the web server (or the CLI) that hosts the consumer.
    def _set_signal_handlers(self) -> None:
        pass


class Worker:
    """A huey consumer plus the periodic sweep, started and stopped together."""

    def __init__(self, runtime: Runtime, *, threads: int | None = None) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.consumer = _EmbeddedConsumer(
            runtime.huey,
            workers=threads or settings.worker_threads,
            worker_type="thread",
            periodic=False,
            initial_delay=0.05,
            backoff=1.3,
            max_delay=1.0,
        )
        self._stopping = threading.Event()
        self._sweeper = threading.Thread(
            target=self._sweep_loop, name="mailfleet-sweep", daemon=True
        )

    def start(self) -> None:
        self.consumer.start()
        self._sweeper.start()

    def stop(self) -> None:
        self._stopping.set()
        self.consumer.stop(graceful=True)
        self._sweeper.join(timeout=5)

    def _sweep_loop(self) -> None:
        interval = self.runtime.settings.sweep_interval
        while True:
            sweep(self.runtime)
            if self._stopping.wait(timeout=interval):
                return

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.stop()
