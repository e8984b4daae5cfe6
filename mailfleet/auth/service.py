"""API keys: issued once, stored as a SHA-256 hash with a visible prefix.

Keys carry 256 bits of randomness, so a fast hash is as strong as a slow one here and keeps
authentication cheap on every request; user passwords use argon2 instead.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailfleet.auth.cache import AUTH_NEUTRAL
from mailfleet.kit import clock
from mailfleet.kit.crypto import new_token, sha256_hex
from mailfleet.models import ApiKey, User

KEY_PREFIX = "mf_"
# How often last_used_at is written for one key: a write per request would serialise reads.
LAST_USED_RESOLUTION_SECONDS = 60.0


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    email: str
    is_operator: bool
    api_key_id: uuid.UUID
    pinned_workspace_id: uuid.UUID | None

    @property
    def actor(self) -> str:
        """How audit events name this caller."""
        return f"user:{self.user_id}"


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str


def issue_key(
    session: Session, *, user: User, name: str, workspace_id: uuid.UUID | None = None
) -> IssuedKey:
    visible = new_token(6)[:8]
    token = f"{KEY_PREFIX}{visible}_{new_token(32)}"
    key = ApiKey(
        user_id=user.id,
        workspace_id=workspace_id,
        name=name,
        prefix=f"{KEY_PREFIX}{visible}",
        key_hash=sha256_hex(token),
    )
    session.add(key)
    session.flush()
    return IssuedKey(key=key, token=token)


def authenticate(session: Session, token: str) -> Principal | None:
    if not token.startswith(KEY_PREFIX) or len(token) > 200:
        return None
    row = session.execute(
        select(ApiKey.id, ApiKey.workspace_id, User.id, User.email, User.is_operator)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.key_hash == sha256_hex(token), ApiKey.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    key_id, pinned, user_id, email, is_operator = row
    return Principal(user_id, email, is_operator, key_id, pinned)


class LastUsedRecorder:
    """Writes last_used_at at most once per resolution window per key, per process."""

    def __init__(self) -> None:
        self._written: dict[uuid.UUID, float] = {}
        self._lock = threading.Lock()

    def due(self, key_id: uuid.UUID) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._written.get(key_id, -1e9) < LAST_USED_RESOLUTION_SECONDS:
                return False
            self._written[key_id] = now
            return True

    @staticmethod
    def record(session: Session, key_id: uuid.UUID) -> None:
        # A usage stamp changes nobody's access: it must not empty the auth cache.
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id)
            .values(last_used_at=clock.now())
            .execution_options(**{AUTH_NEUTRAL: True})
        )
