"""Profile-photo checks the Google and Graph fakes share, and stand-in images for tests.

Both services look at the bytes, not only at the declared type. The fakes recognise a format by
its signature (magic number) alone: bytes that start like a PNG are a PNG here. That is enough to
catch a provider sending one type under another's name, which is the mistake that matters.
"""

from __future__ import annotations

# Google's users.photos.update and Graph's photo/$value both stop at 4 MB of image.
PHOTO_MAX_BYTES = 4 * 1024 * 1024
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "JPEG": (b"\xff\xd8\xff",),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "GIF": (b"GIF87a", b"GIF89a"),
    "BMP": (b"BM",),
    "TIFF": (b"II*\x00", b"MM\x00*"),
}


def image_format(data: bytes) -> str | None:
    """The format's name (JPEG, PNG, GIF, BMP or TIFF) by the leading bytes, else None."""
    for name, signatures in SIGNATURES.items():
        if data.startswith(signatures):
            return name
    return None


def sample_image(kind: str = "PNG", size: int = 256) -> bytes:
    """`size` bytes that read as an image of `kind` (its signature, then a byte pattern).

    The pattern runs through every byte value, so its standard base64 has '+' and '/' in it:
    what tells web-safe encoding apart.
    """
    head = SIGNATURES[kind][0]
    rest = max(size - len(head), 0)
    return head + (bytes(range(256)) * (rest // 256 + 1))[:rest]
