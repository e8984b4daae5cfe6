"""One-time password-reset links: made by the CLI (`mailfleet console reset-link EMAIL`), used
once within an hour on the console's reset page.

The link carries a 256-bit token; only its SHA-256 is stored. Using it sets the new password
(argon2), marks the link used, revokes the user's other unused links and signs out every
session of the user, so whoever held the old password is out too. Nothing here commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailfleet.console.service import MAX_TOKEN_LENGTH, normalise_email
from mailfleet.exceptions import NotFound, Unprocessable
from mailfleet.kit import clock
from mailfleet.kit.crypto import new_token, sha256_hex
from mailfleet.models import ConsoleSession, PasswordReset, User

LINK_LIFETIME = timedelta(hours=1)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True)
class ResetLink:
    token: str
    user_id: uuid.UUID
    email: str

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/console/reset/{self.token}"


def create_link(session: Session, email: str) -> ResetLink:
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"No user with email {email}.", code="user_not_found")
    token = new_token(32)
    session.add(
        PasswordReset(
            user_id=user.id, token_hash=sha256_hex(token), expires_at=clock.now() + LINK_LIFETIME
        )
    )
    session.flush()
    return ResetLink(token, user.id, user.email)


def find_link(session: Session, token: str) -> PasswordReset | None:
    """The link's row while it can still be used (unused, not expired)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return session.scalar(
        select(PasswordReset).where(
            PasswordReset.token_hash == sha256_hex(token),
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > clock.now(),
        )
    )


def check_new_password(password: str, repeated: str) -> None:
    if password != repeated:
        raise Unprocessable("The two passwords differ.", code="validation_error", field="password")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise Unprocessable(
            f"A password has at least {MIN_PASSWORD_LENGTH} characters.",
            code="validation_error",
            field="password",
        )


def use_link(session: Session, token: str, password_hash: str) -> uuid.UUID:
    """Sets the link's user's password (hashed by the caller before its write transaction:
    argon2 is slow on purpose); the link and every session of the user end."""
    link = find_link(session, token)
    if link is None:
        raise NotFound("This reset link is unknown, used or expired.", code="not_found")
    now = clock.now()
    session.execute(update(User).where(User.id == link.user_id).values(password_hash=password_hash))
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == link.user_id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == link.user_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return link.user_id
