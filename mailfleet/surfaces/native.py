"""The native API under /v1: Bearer keys, problem+json errors, the deployment's profile."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter

from mailfleet.api import COMMON_ERRORS, ROUTERS
from mailfleet.auth.dependencies import BEARER
from mailfleet.exception_handlers import PROBLEM_CONTENT_TYPE, render_problem
from mailfleet.surfaces.recipe import Surface, describe_codes

PREFIX = "/v1"
# Documented payloads that are big: a batch of up to 10,000 domain names, an order of up to
# 10,000 mailboxes, a profile picture of up to 4 MB.
BULK_ROUTES = (
    ("POST", "/domains"),
    ("POST", "/mailbox-orders"),
    ("PUT", "/mailboxes/{mailbox_id}/picture"),
)
# Signed by the payment provider, with no API key (billing.payments.endpoints).
PUBLIC_ROUTES = (("POST", "/payments/stripe/webhook"),)


def document_problem(response: dict[str, Any], status: int, codes: Sequence[str]) -> None:
    """A status answered as problem details whose `code` is one of `codes`."""
    describe_codes(response, status, codes)
    content = response.setdefault("content", {})
    content[PROBLEM_CONTENT_TYPE] = {
        "schema": {
            "allOf": [
                {"$ref": "#/components/schemas/Problem"},
                {"type": "object", "properties": {"code": {"type": "string", "enum": list(codes)}}},
            ]
        }
    }


def native_surface(extra_routers: Sequence[APIRouter] = ()) -> Surface:
    """The native surface; `extra_routers` add routes under /v1 (tests add failing ones)."""
    return Surface(
        name="native",
        prefix=PREFIX,
        routers=(*ROUTERS, *extra_routers),
        credentials=BEARER,
        render_error=render_problem,
        error_responses=dict(COMMON_ERRORS),
        title="Mailfleet",
        description="Control plane for cold-email infrastructure: domains, DNS, mailboxes.",
        bulk_routes=BULK_ROUTES,
        public_routes=PUBLIC_ROUTES,
        document_error=document_problem,
    )
