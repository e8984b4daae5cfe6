"""Idempotency-Key records: claim a key, store the first response, replay it afterwards."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailfleet.kit import clock
from mailfleet.models import ApiKey, IdempotencyRecord


class Claim(enum.Enum):
    NEW = "new"
    REPLAY = "replay"
    IN_PROGRESS = "in_progress"
    MISMATCH = "mismatch"
    UNKNOWN_CREDENTIAL = "unknown_credential"


@dataclass(frozen=True)
class ClaimResult:
    outcome: Claim
    record: IdempotencyRecord | None = None


def claim(
    session: Session,
    *,
    scope: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    ttl: timedelta,
) -> ClaimResult:
    known = session.scalar(
        select(ApiKey.id).where(ApiKey.key_hash == scope, ApiKey.revoked_at.is_(None))
    )
    if known is None:
        # Let authentication answer; never store anything for a credential we don't know.
        return ClaimResult(Claim.UNKNOWN_CREDENTIAL)
    now = clock.now()
    existing = session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    ).first()
    if existing is not None and existing.expires_at <= now:
        session.delete(existing)
        session.flush()
        existing = None
    if existing is not None:
        if (existing.request_hash, existing.method, existing.path) != (request_hash, method, path):
            return ClaimResult(Claim.MISMATCH, existing)
        if existing.status_code is None:
            return ClaimResult(Claim.IN_PROGRESS, existing)
        return ClaimResult(Claim.REPLAY, existing)
    record = IdempotencyRecord(
        scope=scope,
        key=key,
        method=method,
        path=path,
        request_hash=request_hash,
        expires_at=now + ttl,
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        # Another request claimed the same key between our read and our insert.
        return ClaimResult(Claim.IN_PROGRESS)
    return ClaimResult(Claim.NEW, record)


def complete(
    session: Session,
    *,
    scope: str,
    key: str,
    status: int,
    body: bytes,
    headers: list[list[str]],
    encrypted: bool,
) -> None:
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .values(
            status_code=status,
            response_body=body,
            response_headers=headers,
            body_encrypted=encrypted,
        )
    )


def release(session: Session, *, scope: str, key: str) -> None:
    """Forget a claim whose request failed on our side, so the client may retry it."""
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )


def purge_expired(session: Session) -> int:
    result = session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= clock.now())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
