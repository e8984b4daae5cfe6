"""Profile pictures: checked at the edge, kept in the data directory, sent to the provider.

Only the image formats every provider accepts (PNG, JPEG) and at most 4 MB (Google's and
Microsoft's limit). The type is read from the bytes, not trusted from the request header.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from mailfleet.config import Settings
from mailfleet.exceptions import NotFound, Unprocessable

MAX_BYTES = 4 * 1024 * 1024
SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def content_type_of(image: bytes) -> str:
    if not image:
        raise Unprocessable(
            "Send the picture as the request body.", code="picture_missing", field="body"
        )
    if len(image) > MAX_BYTES:
        raise Unprocessable(
            f"A picture is at most 4 MB; this one is {len(image)} bytes.",
            code="picture_too_large",
            field="body",
        )
    for signature, content_type in SIGNATURES.items():
        if image.startswith(signature):
            return content_type
    raise Unprocessable("Send a PNG or JPEG picture.", code="picture_type", field="body")


def _path(settings: Settings, mailbox_id: uuid.UUID) -> Path:
    return settings.data_dir / "pictures" / str(mailbox_id)


def store(settings: Settings, mailbox_id: uuid.UUID, image: bytes) -> None:
    """Write atomically: a reader sees the old picture or the new one, never half of one."""
    folder = _path(settings, mailbox_id).parent
    folder.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(image)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, _path(settings, mailbox_id))
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def load(settings: Settings, mailbox_id: uuid.UUID) -> tuple[bytes, str]:
    path = _path(settings, mailbox_id)
    if not path.is_file():
        raise NotFound("This mailbox has no profile picture.", code="picture_not_found")
    image = path.read_bytes()
    return image, content_type_of(image)
