"""What only the console needs: signed-in sessions (sign in, resolve, sign out) and the
sign-in throttle.

A session is a row of `console_sessions` holding the SHA-256 of the cookie's token and the CSRF
token every form of the session carries. Signing in always makes a new row and token, so a
token planted in a browser before sign-in is never the signed-in one (session fixation);
signing out revokes the row, so a copied cookie stops working at once (sessions are looked up
on every request, never cached). Nothing here commits: the request does.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailfleet.auth.ratelimit import RateLimits, windowed_limiter
from mailfleet.auth.service import Principal
from mailfleet.config import Settings
from mailfleet.kit import clock
from mailfleet.kit.crypto import new_token, sha256_hex
from mailfleet.kit.passwords import hash_password, verify_password
from mailfleet.models import ConsoleSession, User

# How long a sign-in lasts, whatever the activity: a stolen cookie is worth a working day at most.
SESSION_LIFETIME = timedelta(hours=12)
# Sign-in attempts allowed per window, per email and per client address.
LOGIN_WINDOW_SECONDS = 15 * 60
LOGIN_ATTEMPTS_PER_EMAIL = 10
LOGIN_ATTEMPTS_PER_ADDRESS = 50
# Tokens longer than this are not ours; refused before hashing.
MAX_TOKEN_LENGTH = 128


@functools.cache
def _dummy_hash() -> str:
    # Verifying against it when the email is unknown keeps that answer as slow as a wrong password.
    return hash_password(new_token(16))


@dataclass(frozen=True)
class SignedIn:
    """A new session: the cookie's token (shown once, stored hashed) and its row."""

    token: str
    row: ConsoleSession


@dataclass(frozen=True)
class LoginLimits:
    """Attempts counted per email and per address, in the deployment's shared state."""

    per_email: RateLimits
    per_address: RateLimits

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        window = LOGIN_WINDOW_SECONDS
        return cls(
            per_email=windowed_limiter(settings, [(window, LOGIN_ATTEMPTS_PER_EMAIL)]),
            per_address=windowed_limiter(settings, [(window, LOGIN_ATTEMPTS_PER_ADDRESS)]),
        )

    def count(self, email: str, address: str) -> None:
        """Counts one attempt; raises RateLimited (with Retry-After) past either limit."""
        self.per_address.hit(f"console-login-ip:{address}")
        self.per_email.hit(f"console-login-email:{sha256_hex(email)}")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password(session: Session, email: str, password: str) -> User | None:
    """The user whose password this is, or None (unknown email, no password, wrong one)."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.password_hash:
        verify_password(_dummy_hash(), password)
        return None
    return user if verify_password(user.password_hash, password) else None


def sign_in(
    session: Session, user_id: uuid.UUID, *, replacing: str | None = None, pending: bool = False
) -> SignedIn:
    """A new session for the user; the browser's previous one (`replacing`) is revoked. A
    `pending` one waits for the second factor (console.second_factor) before it opens pages."""
    if replacing:
        sign_out(session, replacing)
    token = new_token(32)
    now = clock.now()
    row = ConsoleSession(
        user_id=user_id,
        token_hash=sha256_hex(token),
        csrf_token=new_token(32),
        last_seen_at=now,
        expires_at=now + SESSION_LIFETIME,
        second_factor_done=not pending,
    )
    session.add(row)
    session.flush()
    return SignedIn(token, row)


def _live(token: str) -> object:
    now = clock.now()
    return (
        (ConsoleSession.token_hash == sha256_hex(token))
        & ConsoleSession.revoked_at.is_(None)
        & (ConsoleSession.expires_at > now)
        & ConsoleSession.second_factor_done.is_(True)
    )


def find_session(session: Session, token: str) -> ConsoleSession | None:
    """The live session of a cookie's token: known, not revoked, not expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return session.scalar(select(ConsoleSession).where(_live(token)))  # type: ignore[arg-type]


def resolve(session: Session, token: str) -> Principal | None:
    """The surface recipe's resolver: who holds this cookie (None: sign in again).

    The Principal's api_key_id is the session's id: what the console's rate limit counts by.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = session.execute(
        select(ConsoleSession.id, User.id, User.email, User.is_operator)
        .join(User, User.id == ConsoleSession.user_id)
        .where(_live(token))  # type: ignore[arg-type]
    ).first()
    if row is None:
        return None
    session_id, user_id, email, is_operator = row
    return Principal(user_id, email, is_operator, session_id, None)


def csrf_token_of(session: Session, session_id: uuid.UUID) -> str:
    return session.get_one(ConsoleSession, session_id).csrf_token


def sign_out(session: Session, token: str) -> None:
    """Revokes the token's session (nothing to do for an unknown one)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.token_hash == sha256_hex(token), ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )
