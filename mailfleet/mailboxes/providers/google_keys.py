"""The Google provider's service account key, from settings (the JSON itself or a file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mailfleet.config import Settings
from mailfleet.mailboxes.providers.base import MailboxProviderError

Json = dict[str, Any]


def service_account_info(settings: Settings) -> Json:
    raw = settings.google_service_account_json.get_secret_value().strip()
    source = "MAILFLEET_GOOGLE_SERVICE_ACCOUNT_JSON"
    if not raw and settings.google_service_account_file:
        source = settings.google_service_account_file
        try:
            raw = Path(settings.google_service_account_file).read_text()
        except OSError as exc:
            raise MailboxProviderError(
                f"cannot read the Google service account key {source}: {exc.strerror or exc}",
                retryable=False,
            ) from exc
    if not raw:
        raise MailboxProviderError(
            "the google provider needs a service account key: set "
            "MAILFLEET_GOOGLE_SERVICE_ACCOUNT_JSON or MAILFLEET_GOOGLE_SERVICE_ACCOUNT_FILE",
            retryable=False,
        )
    try:
        info = json.loads(raw)
    except ValueError as exc:
        # The message never quotes the key: it is a secret.
        raise MailboxProviderError(
            f"the Google service account key in {source} is not JSON", retryable=False
        ) from exc
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise MailboxProviderError(
            f"the key in {source} is not a service account key", retryable=False
        )
    return info
