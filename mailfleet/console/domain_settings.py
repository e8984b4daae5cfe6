"""A domain's mail and web settings from its page: DMARC policy and report address, web
forwarding and the catch-all, through the same schema and service as `PATCH /v1/domains/{id}`.

The form shows every field, so a blank one means "none" (null in the API: clears it). A change
that moves managed records (DMARC) commits first and reaches the zone's provider after, with no
lock held; a refusal puts the settings back and the page says why, the form as typed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from mailfleet.console.ordering import Problem, domain_page
from mailfleet.console.records_page import domain_id_of
from mailfleet.console.web import PREFIX, PostedForm, redirect
from mailfleet.dns import delivery
from mailfleet.domains import schemas as domain_schemas
from mailfleet.domains import service as domain_service
from mailfleet.exceptions import MailfleetError, NotFound
from mailfleet.models import Role

router = APIRouter(include_in_schema=False)
FIELDS = ("dmarc_policy", "dmarc_rua", "forwarding_url", "forwarding_code", "catch_all_target")


def _changes(fields: dict[str, str]) -> dict[str, Any]:
    """The form as the API's PATCH body: every field sent, a blank one as null."""
    typed = {name: fields.get(name, "").strip() for name in FIELDS}
    changes: dict[str, Any] = {name: value or None for name, value in typed.items()}
    if changes["dmarc_policy"] is None:
        del changes["dmarc_policy"]  # not clearable: left as it is
    if changes["forwarding_url"] is None:
        changes["forwarding_code"] = None  # no forwarding, no redirect code
    elif str(changes["forwarding_code"]).isdigit():
        changes["forwarding_code"] = int(changes["forwarding_code"])  # the API takes a number
    return changes


@router.post("/domains/{domain_id}/settings")
def update_settings(form: PostedForm, request: Request, domain_id: str) -> Response:
    ctx = form.ctx
    typed = {name: form.fields.get(name, "") for name in FIELDS}
    problems: list[Problem]
    try:
        workspace_id = ctx.workspace(Role.EDITOR)
        body = domain_schemas.DomainUpdate.model_validate(_changes(form.fields))
        _, change = domain_service.update_settings(
            ctx.session,
            ctx.settings,
            ctx.secrets,
            workspace_id=workspace_id,
            domain_id=domain_id_of(domain_id),
            changes=body.model_dump(exclude_unset=True),
            actor=ctx.actor,
        )
        if change is not None:
            # Commit first: the provider call must not hold the write lock (dns.delivery).
            ctx.session.commit()
            delivery.deliver(request.app.state.runtime, change)
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(p) for p in error["loc"]) or "form", error["msg"])
            for error in exc.errors()
        ]
        status = 422
    except MailfleetError as exc:
        if isinstance(exc, NotFound):
            raise
        problems, status = [Problem(exc.field or "form", exc.detail)], exc.status
    else:
        return redirect(f"{PREFIX}/domains/{domain_id}#settings")
    ctx.session.rollback()
    domain = domain_service.get_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=domain_id_of(domain_id)
    )
    return domain_page(ctx, domain, status, settings_problems=problems, settings_typed=typed)
