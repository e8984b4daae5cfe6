"""DKIM keys for domains whose mail Mailfleet signs itself (SMTP types).

The private key is stored encrypted (SecretBox) as PEM; the public half is published as a TXT
record at `<selector>._domainkey.<domain>`. Google and Microsoft sign with their own keys, so
these helpers are only used for the SMTP types.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailfleet.kit.crypto import SecretBox

# 2048 bits: the size Gmail and Outlook expect; 1024 is considered weak, 4096 does not fit a
# single TXT string and some receivers time out on it.
KEY_BITS = 2048
# Headers whose change would let a forwarder rewrite the message's meaning.
SIGNED_HEADERS: tuple[str, ...] = (
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
)

# A dkimpy DNS hook: the TXT text of a name (bytes) or None when there is none.
TxtLookup = Callable[..., bytes | str | None]


@dataclass(frozen=True)
class DkimKeyPair:
    # PKCS#1 ("BEGIN RSA PRIVATE KEY"): the form dkim.sign reads.
    private_pem: str
    # SubjectPublicKeyInfo DER, base64: the `p=` of the DKIM record.
    public_b64: str


@dataclass(frozen=True)
class SealedDkimKey:
    """What a Domain row stores: the encrypted private PEM and the public key."""

    private_key_enc: str
    public_key: str


def generate_keypair(bits: int = KEY_BITS) -> DkimKeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.TraditionalOpenSSL,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    return DkimKeyPair(private_pem=pem, public_b64=_public_b64(key.public_key()))


def generate_sealed(box: SecretBox, bits: int = KEY_BITS) -> SealedDkimKey:
    pair = generate_keypair(bits)
    return SealedDkimKey(private_key_enc=box.encrypt(pair.private_pem), public_key=pair.public_b64)


def public_key_of(private_pem: str) -> str:
    """The base64 `p=` value belonging to a private key (to repair a lost public half)."""
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("DKIM keys are RSA")
    return _public_b64(key.public_key())


def _public_b64(public: rsa.RSAPublicKey) -> str:
    der = public.public_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return base64.b64encode(der).decode("ascii")


def dkim_txt(public_b64: str) -> str:
    """The DKIM record text; split into 255-byte strings only on the wire."""
    return f"v=DKIM1; k=rsa; p={public_b64}"


def dkim_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain.rstrip('.')}"


def parse_tags(text: str) -> dict[str, str]:
    """A DKIM tag list (`v=DKIM1; k=rsa; p=...`) as a dict; whitespace inside values dropped.

    RFC 6376 3.2 allows folding whitespace anywhere in a value, and base64 keys published by hand
    often carry spaces, so they are removed before comparing keys.
    """
    tags: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = "".join(value.split())
    return tags


def published_key(text: str) -> str | None:
    """The `p=` of a DKIM record, or None if the text is not one (an empty p= is a revoked key)."""
    tags = parse_tags(text)
    if "p" not in tags or tags.get("v", "DKIM1") != "DKIM1":
        return None
    return tags["p"]


def sign_message(
    message: bytes,
    *,
    selector: str,
    domain: str,
    private_pem: str,
    headers: Sequence[str] = SIGNED_HEADERS,
) -> bytes:
    """The message with a `DKIM-Signature:` header prepended (relaxed/relaxed, rsa-sha256)."""
    signature = dkim.sign(
        message,
        selector.encode("ascii"),
        domain.encode("ascii"),
        private_pem.encode("ascii"),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=[header.lower().encode("ascii") for header in headers],
    )
    return bytes(signature) + message


def sign_with_sealed(
    message: bytes, *, selector: str, domain: str, private_key_enc: str, box: SecretBox
) -> bytes:
    return sign_message(
        message, selector=selector, domain=domain, private_pem=box.decrypt(private_key_enc)
    )


def verify_message(message: bytes, lookup: TxtLookup, *, timeout: float = 5.0) -> bool:
    """Verify the topmost DKIM signature, asking `lookup` for the selector's TXT record."""
    return bool(dkim.verify(message, dnsfunc=lookup, timeout=timeout))
