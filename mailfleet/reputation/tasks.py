"""Blacklist checks in the worker: the sweep claims due subjects in chunks, a job checks one chunk.

A job reads its subjects (short read transaction), asks every zone with no transaction open
(in parallel, under the process's query budget), then applies the verdicts in one write
transaction. A crash after the claim leaves the lease: the sweep hands the chunk out again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from mailfleet.config import Settings
from mailfleet.db import enqueue_after_commit
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.reputation import checks, service

log = logging.getLogger(__name__)

CHECK = "reputation.check_blacklists"
# Subjects per job: with two domain zones, 200 domains are 400 queries, 20 s at 20 a second.
CHUNK = 200


def check_now(
    runtime: Runtime,
    check_ids: Sequence[uuid.UUID],
    *,
    actor: str = service.ACTOR,
    bucket: checks.TokenBucket | None = None,
) -> int:
    """Check these subjects against every configured zone and store the verdicts."""
    settings, database = runtime.settings, runtime.database
    with database.transaction(write=False) as session:
        subjects = service.subjects(session, check_ids)
    if not subjects:
        return 0
    queries = checks.queries_for(
        [item.subject for item in subjects if not item.is_ip],
        [item.subject for item in subjects if item.is_ip],
        settings,
    )
    verdicts = checks.run(queries, settings, bucket)
    with database.transaction() as session:
        service.apply(session, settings, subjects, verdicts, actor=actor)
    errors = sum(1 for verdict in verdicts if verdict.error is not None)
    log.info(
        "blacklist check of %d subjects: %d queries, %d listed, %d without a verdict",
        len(subjects),
        len(queries),
        sum(1 for verdict in verdicts if verdict.listed),
        errors,
    )
    return len(subjects)


@job(CHECK)
def check_blacklists(runtime: Runtime, check_ids: Sequence[str]) -> None:
    check_now(runtime, [uuid.UUID(value) for value in check_ids])


def per_sweep(settings: Settings) -> int:
    """Subjects one sweep hands out: what the query budget can ask before the next sweep.

    More would only queue behind the budget, each job holding a worker thread while it waits
    for tokens (and starving provisioning and DNS jobs); the rest stays due for the next sweep.
    """
    zones = max(len(settings.dnsbl_domain_zones), len(settings.dnsbl_ip_zones), 1)
    return max(1, int(settings.dnsbl_queries_per_second * settings.sweep_interval / zones))


def claim_all(
    runtime: Runtime, *, total: int | None = None, enqueue: bool = True
) -> list[list[uuid.UUID]]:
    """Due subjects, up to `total`, claimed chunk by chunk (each claim commits alone);
    `enqueue=False` leaves running the chunks to the caller (the benchmark)."""
    claimed: list[list[uuid.UUID]] = []
    left = total if total is not None else float("inf")
    with runtime.database.transaction() as session:
        service.ensure_checks(session, runtime.settings)
    while left > 0:
        limit = int(min(CHUNK, left))
        with runtime.database.transaction() as session:
            ids = service.claim_due(session, runtime.settings, limit=limit)
            if ids and enqueue:
                enqueue_after_commit(session, CHECK, [str(i) for i in ids])
        if ids:
            claimed.append(ids)
        left -= len(ids)
        if len(ids) < limit:
            break
    return claimed


@sweeper
def sweep_blacklists(runtime: Runtime) -> int:
    if not runtime.settings.dnsbl_enabled:
        return 0
    return sum(len(chunk) for chunk in claim_all(runtime, total=per_sweep(runtime.settings)))
