"""InboxedUp's prefixed ids (`dom_`, `req_`, `batch_`), reversible to the native UUIDs.

`dom_` followed by the UUID's 32 hex digits names the same object as the UUID does through the
native API, so the two surfaces can be mixed on the same objects. Both forms are accepted on
input; a wrong prefix, or anything else, names nothing (a 404, like an unknown id).
"""

from __future__ import annotations

import uuid

DOMAIN = "dom_"
REQUEST = "req_"
BATCH = "batch_"


def encode(prefix: str, value: uuid.UUID) -> str:
    return f"{prefix}{value.hex}"


def decode(prefix: str, text: str) -> uuid.UUID | None:
    """The UUID `text` names under `prefix` (or as a plain UUID); None when it names none."""
    raw = text[len(prefix) :] if text.startswith(prefix) else text
    if raw is not text and len(raw) != 32:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None
