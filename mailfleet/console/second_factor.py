"""The console's optional second factor: a TOTP authenticator app (RFC 6238, 30 s steps).

A user turns it on from the security page: a new secret is stored encrypted and shown once
(with its otpauth:// URI), and it is in use only after a code from the app confirms it. With it
on, signing in makes a session whose `second_factor_done` is false: it opens no page (the
recipe's resolver refuses it) until the sign-in's second step checks a code, within ten
minutes. Codes of the step before and after are accepted, for clocks a little apart.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

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
    digits = code.replace(" ", "").strip()
    return (
        len(digits) == 6 and digits.isdigit() and pyotp.TOTP(secret).verify(digits, valid_window=1)
    )


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
    if secret is None or not code_ok(secret, code):
        return False
    session.get_one(User, user_id).totp_enabled_at = clock.now()
    session.flush()
    return True


def _current_code_ok(session: Session, secrets: SecretBox, user_id: uuid.UUID, code: str) -> bool:
    user = session.get_one(User, user_id)
    if user.totp_enabled_at is None or user.totp_secret_enc is None:
        return False
    return code_ok(secrets.decrypt(user.totp_secret_enc), code)


def disable(session: Session, secrets: SecretBox, user_id: uuid.UUID, code: str) -> bool:
    """Turns the second factor off; it takes a current code, so a left-open browser cannot."""
    if not _current_code_ok(session, secrets, user_id, code):
        return False
    user = session.get_one(User, user_id)
    user.totp_secret_enc = None
    user.totp_enabled_at = None
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
