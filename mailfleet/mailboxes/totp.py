"""RFC 6238 authenticator codes for any secret an authenticator app accepts."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct

TOTP_DIGITS = 6


class UnusableSecret(ValueError):
    """The stored authenticator secret is not base32 an authenticator app would take."""


def decode_secret(secret: str) -> bytes:
    """The key bytes of a base32 secret as authenticator apps read it.

    Apps take any length of at least one byte, in either case, with or without `=` padding and
    with spaces or dashes between groups; pyotp refuses secrets under 128 bits, so the decoding
    (and RFC 4226 below) is done here.
    """
    cleaned = "".join(secret.split()).replace("-", "").rstrip("=").upper()
    try:
        key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError) as exc:
        raise UnusableSecret("not base32") from exc
    if not key:
        raise UnusableSecret("empty")
    return key


def hotp(key: bytes, counter: int, digits: int = TOTP_DIGITS) -> str:
    """RFC 4226 HOTP with HMAC-SHA-1 and dynamic truncation."""
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)
