"""Run queued jobs inline, so lifecycle tests are deterministic without a consumer thread."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailfleet.jobs.queue import Runtime


def runtime_of(client: TestClient) -> Runtime:
    """The jobs runtime of the app behind a test client (settings, database, queue)."""
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def drain(runtime: Runtime, *, limit: int = 10_000) -> int:
    """Execute every queued job (and the jobs those enqueue); returns how many ran."""
    ran = 0
    while ran < limit:
        task = runtime.huey.dequeue()
        if task is None:
            return ran
        runtime.huey.execute(task)
        ran += 1
    raise AssertionError(f"jobs kept coming after {limit} runs")
