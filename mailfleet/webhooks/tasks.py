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
from typing import Any

import httpx
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.db import enqueue_after_commit
from mailfleet.jobs.queue import Runtime, job
from mailfleet.jobs.worker import sweeper
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.webhooks import addresses, outbox, signing

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


def _request(
    client: httpx.Client, attempt: outbox.Attempt, headers: dict[str, str], allow_private: bool
) -> httpx.Request:
    """The POST to the address the host was resolved to and checked at, nothing else.

    The URL's host is replaced by that address so that the HTTP client does not resolve the name
    again (a second answer could be another address: DNS rebinding); the Host header and, for
    https, the TLS server name (SNI and the certificate check) keep the name.
    """
    url = httpx.URL(attempt.url)
    port = url.port or (443 if url.scheme == "https" else 80)
    target = addresses.resolve(url.host, port, allow_private=allow_private)
    extensions: dict[str, Any] = {}
    if addresses.literal(url.host) is None:
        headers = {**headers, "host": url.netloc.decode("ascii")}
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host
    pinned = url.copy_with(host=str(target.address))
    return client.build_request(
        "POST", pinned, content=attempt.body, headers=headers, extensions=extensions
    )


def post(
    client: httpx.Client, attempt: outbox.Attempt, timeout: float, *, allow_private: bool = False
) -> tuple[int | None, str | None]:
    """One signed POST; returns (response status, error), error None on a 2xx."""
    timestamp = int(clock.now().timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **signing.headers(attempt.secrets, attempt.message_id, timestamp, attempt.body),
    }
    try:
        request = _request(client, attempt, headers, allow_private)
        response = client.send(request, stream=True)
    except addresses.AddressRefused as exc:
        return None, str(exc)
    except httpx.TimeoutException:
        return None, f"No answer within {timeout:g} s."
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    try:
        if 200 <= response.status_code < 300:
            return response.status_code, None
        snippet = _snippet(response)
        error = f"HTTP {response.status_code}" + (f": {snippet}" if snippet else "")
        return response.status_code, error
    except httpx.HTTPError as exc:
        return response.status_code, f"{type(exc).__name__} reading the answer: {exc}"
    finally:
        response.close()


def _log_attempt(attempt: outbox.Attempt, status: int | None, error: str | None) -> None:
    # Ids, the event type and the outcome only: the URL may carry a token of the receiver's,
    # the body is the customer's, and a failing receiver's answer can hold anything.
    outcome = f"HTTP {status}" if status is not None else f"failed: {error}"
    log.info(
        "webhook delivery %s to endpoint %s: %s (%s): %s",
        attempt.delivery_id,
        attempt.endpoint_id,
        attempt.event_type,
        attempt.subject,
        outcome,
    )


@job(SEND)
def send_deliveries(runtime: Runtime, delivery_ids: Sequence[str]) -> None:
    settings, database = runtime.settings, runtime.database
    box = SecretBox.from_settings(settings)
    with database.transaction(write=False) as session:
        attempts = outbox.attempts_for(session, box, [uuid.UUID(i) for i in delivery_ids])
    if not attempts:
        return
    timeout = settings.webhook_timeout
    allow_private = settings.webhook_allow_private_addresses
    # Redirects are not followed: a receiver that moved must be updated, not silently chased
    # (and a redirect could point anywhere, unchecked). No proxy from the environment either:
    # the connection goes to the checked address.
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for attempt in attempts:
            try:
                status, error = post(client, attempt, timeout, allow_private=allow_private)
            except Exception as exc:  # a bug must not leave the delivery leased and silent
                log.exception("webhook delivery %s failed", attempt.delivery_id)
                status, error = None, f"Internal error: {type(exc).__name__}"
            _log_attempt(attempt, status, error)
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
