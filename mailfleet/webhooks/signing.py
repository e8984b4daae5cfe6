"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A secret is "whsec_" + base64 of random bytes; the HMAC key is those bytes. Each request carries
`webhook-id` (the same on every attempt, so receivers can drop repeats), `webhook-timestamp`
(Unix seconds of this attempt) and `webhook-signature`: space-separated "v1,<base64 HMAC-SHA256
of '{id}.{timestamp}.{body}'>", one per secret in force (two while a rotation is in its grace).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

PREFIX = "whsec_"
# The spec asks for 24 to 64 random bytes.
MIN_BYTES, MAX_BYTES = 24, 64


class InvalidSecret(ValueError):
    pass


def generate_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(MIN_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a "whsec_..." secret; InvalidSecret if it is not one."""
    if not secret.startswith(PREFIX):
        raise InvalidSecret(f"must start with {PREFIX!r}")
    encoded = secret[len(PREFIX) :]
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecret(f"must be {PREFIX!r} followed by base64") from exc
    if not MIN_BYTES <= len(key) <= MAX_BYTES:
        raise InvalidSecret(f"must encode {MIN_BYTES} to {MAX_BYTES} bytes; got {len(key)}")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(
    secrets_in_force: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(secret, message_id, timestamp, body) for secret in secrets_in_force
        ),
    }
