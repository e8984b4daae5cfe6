"""Webhook jobs: the sweep that turns events into deliveries, and the job that sends them.

A send job reads what to send in one short transaction, makes the HTTP calls outside any
transaction, and records each outcome in its own. Losing a job loses nothing: its deliveries
stay PENDING and the sweep hands them out again once their lease runs out. Sending twice is
possible after such a loss, which is why every attempt carries the same `webhook-id`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence

import httpx
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.db import enqueue_after_commit
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.webhooks import outbox, signing

log = logging.getLogger(__name__)

SEND = "webhooks.send"
# Deliveries per sweep pass.
CHUNK = 500
# Deliveries per send job: sent one after another, so a job of slow receivers (each up to the
# timeout) must still end well within the lease that keeps the sweep from handing them out again.
SEND_CHUNK = 10
USER_AGENT = "Mailfleet-Webhooks/1"
# How much of a failing receiver's answer the delivery log keeps.
RESPONSE_SNIPPET = 200


def _chunks(ids: Sequence[uuid.UUID], size: int = SEND_CHUNK) -> list[list[str]]:
    return [[str(i) for i in ids[start : start + size]] for start in range(0, len(ids), size)]


def after_resend(session: Session, delivery_id: uuid.UUID) -> None:
    enqueue_after_commit(session, SEND, [str(delivery_id)])


def _snippet(response: httpx.Response) -> str:
    received = b""
    for chunk in response.iter_bytes():
        received += chunk
        if len(received) >= RESPONSE_SNIPPET * 4:
            break
    text = received.decode("utf-8", errors="replace")[:RESPONSE_SNIPPET]
    # PostgreSQL text cannot hold NUL.
    return text.replace("\x00", "").strip()


def post(
    client: httpx.Client, attempt: outbox.Attempt, timeout: float
) -> tuple[int | None, str | None]:
    """One signed POST; returns (response status, error), error None on a 2xx."""
    timestamp = int(clock.now().timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **signing.headers(attempt.secrets, attempt.message_id, timestamp, attempt.body),
    }
    try:
        with client.stream("POST", attempt.url, content=attempt.body, headers=headers) as response:
            if 200 <= response.status_code < 300:
                return response.status_code, None
            snippet = _snippet(response)
            error = f"HTTP {response.status_code}" + (f": {snippet}" if snippet else "")
            return response.status_code, error
    except httpx.TimeoutException:
        return None, f"No answer within {timeout:g} s."
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@job(SEND)
def send_deliveries(runtime: Runtime, delivery_ids: Sequence[str]) -> None:
    settings, database = runtime.settings, runtime.database
    box = SecretBox.from_settings(settings)
    with database.transaction(write=False) as session:
        attempts = outbox.attempts_for(session, box, [uuid.UUID(i) for i in delivery_ids])
    if not attempts:
        return
    timeout = settings.webhook_timeout
    # Redirects are not followed: a receiver that moved must be updated, not silently chased.
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for attempt in attempts:
            try:
                status, error = post(client, attempt, timeout)
            except Exception as exc:  # a bug must not leave the delivery leased and silent
                log.exception("webhook delivery %s failed", attempt.delivery_id)
                status, error = None, f"Internal error: {type(exc).__name__}"
            with database.transaction() as session:
                outbox.record_attempt(
                    session, settings, attempt.delivery_id, response_status=status, error=error
                )


Claim = Callable[[Session, Settings], list[uuid.UUID]]


def _new(session: Session, settings: Settings) -> list[uuid.UUID]:
    return outbox.fan_out(session, settings, limit=CHUNK)


def _due(session: Session, settings: Settings) -> list[uuid.UUID]:
    return outbox.claim_due(session, settings, limit=CHUNK)


def _until_done(runtime: Runtime, claim: Claim) -> int:
    handed_out = 0
    while True:
        with runtime.database.transaction() as session:
            ids = claim(session, runtime.settings)
            for chunk in _chunks(ids):
                enqueue_after_commit(session, SEND, chunk)
        handed_out += len(ids)
        if len(ids) < CHUNK:
            return handed_out


@sweeper
def sweep_webhooks(runtime: Runtime) -> int:
    """New events become deliveries (sent at once); failed attempts are retried when due."""
    return _until_done(runtime, _new) + _until_done(runtime, _due)
