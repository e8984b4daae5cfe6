"""DKIM keys: generated, stored encrypted, published as TXT, and verified by dkimpy."""

from __future__ import annotations

import base64

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailfleet.dns import dkim
from mailfleet.dns.records import Record, rdata_text, txt_strings
from mailfleet.kit.crypto import SecretBox

MESSAGE = (
    b"From: Ada <ada@acme.test>\r\n"
    b"To: bob@example.org\r\n"
    b"Subject: Quarterly numbers\r\n"
    b"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <1@acme.test>\r\n"
    b"\r\n"
    b"Hello Bob,\r\nthe numbers are in.\r\n"
)


@pytest.fixture(scope="module")
def box() -> SecretBox:
    return SecretBox([Fernet.generate_key().decode()])


@pytest.fixture(scope="module")
def sealed(box: SecretBox) -> dkim.SealedDkimKey:
    return dkim.generate_sealed(box)


def served_dkim_txt(public_b64: str) -> bytes:
    """The TXT data a resolver gets for the published record: presentation -> wire -> joined.

    The same path PowerDNS takes with `rdata_text`: the ~410-byte value is split into quoted
    255-byte strings, and a verifier must join them back.
    """
    record = Record("mailfleet._domainkey.acme.test", "TXT", dkim.dkim_txt(public_b64))
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, rdata_text(record))
    wire = rdata.to_digestable(dns.name.root)
    parsed = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.TXT, wire, 0, len(wire))
    strings = parsed.strings  # type: ignore[attr-defined]
    assert len(strings) == 2
    assert all(len(chunk) <= 255 for chunk in strings)
    return b"".join(strings)


def test_a_generated_key_is_pkcs1_rsa_2048_with_its_spki_public_half() -> None:
    pair = dkim.generate_keypair()

    assert pair.private_pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    private = serialization.load_pem_private_key(pair.private_pem.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 2048
    public = serialization.load_der_public_key(base64.b64decode(pair.public_b64))
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.public_numbers() == private.public_key().public_numbers()
    assert dkim.public_key_of(pair.private_pem) == pair.public_b64


def test_each_key_is_new() -> None:
    assert dkim.generate_keypair(1024).public_b64 != dkim.generate_keypair(1024).public_b64


def test_the_record_text_is_split_into_255_byte_strings_and_joins_back() -> None:
    public = dkim.generate_keypair().public_b64
    text = dkim.dkim_txt(public)

    assert text == f"v=DKIM1; k=rsa; p={public}"
    assert len(text) > 255
    assert [len(chunk) for chunk in txt_strings(text)] == [255, len(text) - 255]
    assert served_dkim_txt(public) == text.encode()


def test_the_stored_key_is_encrypted_and_signs_mail_that_verifies(
    box: SecretBox, sealed: dkim.SealedDkimKey
) -> None:
    assert "PRIVATE KEY" not in sealed.private_key_enc
    asked: list[bytes] = []

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        asked.append(name)
        if name == b"mailfleet._domainkey.acme.test.":
            return served_dkim_txt(sealed.public_key)
        return None

    signed = dkim.sign_with_sealed(
        MESSAGE,
        selector="mailfleet",
        domain="acme.test",
        private_key_enc=sealed.private_key_enc,
        box=box,
    )

    assert signed.startswith(b"DKIM-Signature:")
    assert b"d=acme.test" in signed
    assert b"s=mailfleet" in signed
    assert dkim.verify_message(signed, lookup)
    assert asked == [b"mailfleet._domainkey.acme.test."]


def test_a_changed_body_or_another_published_key_fails_verification(
    box: SecretBox, sealed: dkim.SealedDkimKey
) -> None:
    signed = dkim.sign_with_sealed(
        MESSAGE,
        selector="mailfleet",
        domain="acme.test",
        private_key_enc=sealed.private_key_enc,
        box=box,
    )
    other = dkim.generate_keypair().public_b64

    def published(key: str) -> dkim.TxtLookup:
        return lambda name, timeout=5: served_dkim_txt(key)

    assert dkim.verify_message(signed, published(sealed.public_key))
    assert not dkim.verify_message(
        signed.replace(b"are in", b"are out"), published(sealed.public_key)
    )
    assert not dkim.verify_message(signed, published(other))
    assert not dkim.verify_message(signed, lambda name, timeout=5: None)


def test_the_sealed_key_needs_the_box_that_sealed_it(sealed: dkim.SealedDkimKey) -> None:
    stranger = SecretBox([Fernet.generate_key().decode()])
    with pytest.raises(InvalidToken):
        stranger.decrypt(sealed.private_key_enc)


def test_published_key_reads_p_and_ignores_other_records() -> None:
    assert dkim.published_key("v=DKIM1; k=rsa; p=AB CD\tEF") == "ABCDEF"
    assert dkim.published_key("k=rsa; p=XYZ") == "XYZ"
    # An empty p= is a revoked key: published, but matching nothing.
    assert dkim.published_key("v=DKIM1; p=") == ""
    assert dkim.published_key("v=DMARC1; p=none") is None
    assert dkim.published_key("v=spf1 mx -all") is None
    assert dkim.dkim_name("mailfleet", "acme.test.") == "mailfleet._domainkey.acme.test"
