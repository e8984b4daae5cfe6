"""Deleting accounts at a sequencer (a domain swap retires the old addresses once the new
ones are in). Runs with no transaction open: the caller records the outcomes after."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from mailfleet.config import Settings
from mailfleet.exports.apps import registry
from mailfleet.exports.apps.protocol import AppAccount, AppError, Connection, RemovalNotSupported
from mailfleet.models import ExportApp

log = logging.getLogger(__name__)
REASON_LIMIT = 500
# A Retry-After longer than this is not waited for here: the removal is reported failed.
MAX_WAIT_SECONDS = 60.0


class Removed(enum.StrEnum):
    REMOVED = "REMOVED"
    # The app held no account for the address.
    ABSENT = "ABSENT"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Removal:
    email: str
    outcome: Removed
    reason: str | None = None


def remove_accounts(
    settings: Settings, app: ExportApp, account: AppAccount, emails: Sequence[str]
) -> list[Removal]:
    """Each address's account deleted at the app, one at a time, retried on 429/5xx as an
    export's pushes are."""
    sequencer = registry.sequencer_for(settings, app)
    if sequencer is None:
        reason = f"No API client for {app.value}: remove the accounts in the app."
        return [Removal(email, Removed.NOT_SUPPORTED, reason) for email in emails]
    connection = sequencer.connect(account)
    try:
        return [_remove_one(settings, connection, email) for email in emails]
    finally:
        connection.close()


def _remove_one(settings: Settings, connection: Connection, email: str) -> Removal:
    steps = settings.export_backoff_seconds or [1.0]
    attempt = 0
    while True:
        try:
            removed = connection.remove(email)
        except RemovalNotSupported as exc:
            return Removal(email, Removed.NOT_SUPPORTED, str(exc)[:REASON_LIMIT])
        except AppError as exc:
            step = steps[min(attempt, len(steps) - 1)]
            delay = exc.retry_after if exc.retry_after is not None else step
            retries_left = attempt < settings.export_max_retries
            if not exc.retryable or not retries_left or delay > MAX_WAIT_SECONDS:
                return Removal(email, Removed.FAILED, exc.message[:REASON_LIMIT])
            time.sleep(delay)
            attempt += 1
            continue
        except Exception as exc:  # a client bug must not lose the other addresses' outcomes
            log.exception("removing an account failed unexpectedly")
            return Removal(email, Removed.FAILED, f"Internal error ({type(exc).__name__}).")
        return Removal(email, Removed.REMOVED if removed else Removed.ABSENT)
