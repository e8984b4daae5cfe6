"""The console's optional second factor: a TOTP authenticator app (RFC 6238, 30 s steps).

A user turns it on from the security page: a new secret is stored encrypted and shown once
(with its otpauth:// URI), and it is in use only after a code from the app confirms it. With it
on, signing in makes a session whose `second_factor_done` is false: it opens no page (the
recipe's resolver refuses it) until the sign-in's second step checks a code, within ten
minutes. Codes of the step before and after are accepted, for clocks a little apart, and
each code works once: a step at or before the last one accepted is refused, so a code seen
over a shoulder or replayed within its 90 s does not open a second session.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.console.service import MAX_TOKEN_LENGTH
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox, sha256_hex
from mailfleet.models import ConsoleSession, User

ISSUER = "Mailfleet"
# How long the second step may wait after the password was right.
PENDING_LIFETIME = timedelta(minutes=10)


def code_ok(secret: str, code: str) -> bool:
    return matched_step(secret, code) is not None


def matched_step(secret: str, code: str) -> int | None:
    """The 30 s step (of the current one and its neighbours) whose code this is, or None."""
    digits = code.replace(" ", "").strip()
    if len(digits) != 6 or not digits.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(datetime.now(UTC))
    for step in (now - 1, now, now + 1):
        if hmac.compare_digest(totp.generate_otp(step), digits):
            return step
    return None


def setup_uri(email: str, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def begin_setup(session: Session, secrets: SecretBox, user_id: uuid.UUID) -> str:
    """A new secret waiting for its first code (replacing an unconfirmed one)."""
    user = session.get_one(User, user_id)
    secret = pyotp.random_base32()
    user.totp_secret_enc = secrets.encrypt(secret)
    user.totp_enabled_at = None
    session.flush()
    return secret


def pending_secret(session: Session, secrets: SecretBox, user_id: uuid.UUID) -> str | None:
    """The secret being set up (shown until confirmed), or None."""
    user = session.get_one(User, user_id)
    if user.totp_enabled_at is not None or user.totp_secret_enc is None:
        return None
    return secrets.decrypt(user.totp_secret_enc)


def enabled(session: Session, user_id: uuid.UUID) -> bool:
    return session.get_one(User, user_id).totp_enabled_at is not None


def confirm_setup(session: Session, secrets: SecretBox, user_id: uuid.UUID, code: str) -> bool:
    secret = pending_secret(session, secrets, user_id)
    step = matched_step(secret, code) if secret is not None else None
    if step is None:
        return False
    user = session.get_one(User, user_id)
    user.totp_enabled_at = clock.now()
    user.totp_last_step = step  # the confirming code does not also sign in
    session.flush()
    return True


def _current_code_ok(session: Session, secrets: SecretBox, user_id: uuid.UUID, code: str) -> bool:
    """The user's code, not used before: its step is then the last one used."""
    user = session.get_one(User, user_id, with_for_update=True)
    if user.totp_enabled_at is None or user.totp_secret_enc is None:
        return False
    step = matched_step(secrets.decrypt(user.totp_secret_enc), code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def disable(session: Session, secrets: SecretBox, user_id: uuid.UUID, code: str) -> bool:
    """Turns the second factor off; it takes a current code, so a left-open browser cannot."""
    if not _current_code_ok(session, secrets, user_id, code):
        return False
    user = session.get_one(User, user_id)
    user.totp_secret_enc = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.flush()
    return True


def find_pending(session: Session, token: str) -> ConsoleSession | None:
    """The session of a cookie whose password was right and whose code is still due."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = clock.now()
    return session.scalar(
        select(ConsoleSession).where(
            ConsoleSession.token_hash == sha256_hex(token),
            ConsoleSession.revoked_at.is_(None),
            ConsoleSession.second_factor_done.is_(False),
            ConsoleSession.created_at > now - PENDING_LIFETIME,
            ConsoleSession.expires_at > now,
        )
    )


def complete(session: Session, secrets: SecretBox, row: ConsoleSession, code: str) -> bool:
    if not _current_code_ok(session, secrets, row.user_id, code):
        return False
    row.second_factor_done = True
    session.flush()
    return True
