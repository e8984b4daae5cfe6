"""What every app client shares: one httpx client per account, and errors in the app's words."""

from __future__ import annotations

from typing import Any

import httpx

from mailfleet.exports.apps.protocol import AppError

USER_AGENT = "Mailfleet-Exports/1"
# How much of an app's error answer a result keeps.
MESSAGE_LIMIT = 500


def client(
    base_url: str, *, timeout: float, headers: dict[str, str] | None = None, **kwargs: Any
) -> httpx.Client:
    return httpx.Client(
        base_url=base_url.rstrip("/") + "/",
        timeout=timeout,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        **kwargs,
    )


def send(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The call; transport failures become retryable AppErrors (the credentials never show)."""
    try:
        return http.request(method, path.lstrip("/"), **kwargs)
    except httpx.TimeoutException as exc:
        raise AppError(
            f"The app did not answer in time ({type(exc).__name__}).", retryable=True
        ) from exc
    except httpx.TransportError as exc:
        raise AppError(f"Could not reach the app ({type(exc).__name__}).", retryable=True) from exc


def message_of(response: httpx.Response) -> str:
    """The app's own message: `message` or `error` of a JSON body, else the body's text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:MESSAGE_LIMIT]
            if isinstance(value, list) and value:
                return "; ".join(str(v) for v in value)[:MESSAGE_LIMIT]
    text = response.text.strip()
    return (text or f"HTTP {response.status_code}")[:MESSAGE_LIMIT]


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the job's own backoff step serves


def error(response: httpx.Response) -> AppError:
    status = response.status_code
    retryable = status == 429 or status >= 500
    return AppError(
        f"{status}: {message_of(response)}",
        status=status,
        retryable=retryable,
        retry_after=retry_after(response) if retryable else None,
    )


def json_of(response: httpx.Response) -> Any:
    if response.is_error:
        raise error(response)
    try:
        return response.json()
    except ValueError as exc:
        raise AppError(f"The app answered {response.status_code} with no JSON.") from exc
