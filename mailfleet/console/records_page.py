"""Editing a domain's own DNS records from its page: add one, delete one, through the same
record rules as `POST/DELETE /v1/domains/{id}/dns/records` (and the API's request schema, so
the console accepts exactly what the API does).

Managed records (MX, SPF, DKIM, DMARC, the zone's own) are not editable here either. As in the
API, the change commits first and reaches the zone's provider after, with no lock held; a
provider's refusal puts it back and the page says why. A refused record writes nothing: the
page comes back with the form as typed and the reason next to the field it names.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from mailfleet.auth.dependencies import RequestContext
from mailfleet.console.ordering import Problem, domain_page
from mailfleet.console.web import PREFIX, PostedForm, redirect
from mailfleet.dns import delivery
from mailfleet.dns import schemas as dns_schemas
from mailfleet.dns import service as dns_service
from mailfleet.dns.records import Record
from mailfleet.domains import service as domain_service
from mailfleet.exceptions import MailfleetError, NotFound
from mailfleet.models import Domain, Role

router = APIRouter(include_in_schema=False)
FIELDS = ("name", "type", "content", "ttl", "priority")


def _id(raw: str, code: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        what = "domain" if code == "domain_not_found" else "record"
        raise NotFound(f"No such {what}.", code=code) from exc


def domain_id_of(raw: str) -> uuid.UUID:
    """A domain id from a console path: a malformed one is simply not found."""
    return _id(raw, "domain_not_found")


def _locked_domain(ctx: RequestContext, raw_id: str) -> Domain:
    workspace_id = ctx.workspace(Role.EDITOR)
    return domain_service.get_domain_for_update(ctx.session, workspace_id, domain_id_of(raw_id))


def _typed(fields: dict[str, str]) -> dict[str, Any]:
    """The form's fields as the API's body: blanks left out, so the schema's defaults apply."""
    body: dict[str, Any] = {name: fields.get(name, "").strip() for name in FIELDS}
    return {name: value for name, value in body.items() if value != ""}


def _refused(
    ctx: RequestContext, raw_id: str, problems: list[Problem], status: int, typed: dict[str, str]
) -> Response:
    # Nothing of the refused change stays: the page comes back as typed, with the reasons.
    ctx.session.rollback()
    domain = domain_service.get_domain(
        ctx.session, workspace_id=ctx.workspace(), domain_id=domain_id_of(raw_id)
    )
    return domain_page(ctx, domain, status, record_problems=problems, record_typed=typed)


def _sent(ctx: RequestContext, request: Request, change: delivery.Change) -> None:
    # Commit first: the provider call must not hold the write lock (see dns.delivery).
    ctx.session.commit()
    delivery.deliver(request.app.state.runtime, change)


@router.post("/domains/{domain_id}/records")
def add_record(form: PostedForm, request: Request, domain_id: str) -> Response:
    ctx = form.ctx
    typed = {name: form.fields.get(name, "") for name in FIELDS}
    try:
        body = dns_schemas.DnsRecordIn.model_validate(_typed(form.fields))
        domain = _locked_domain(ctx, domain_id)
        record = Record(body.name, body.type, body.content, body.ttl, body.priority)
        _, change = dns_service.add_record(ctx.session, domain, record)
        _sent(ctx, request, change)
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(p) for p in error["loc"]) or "form", error["msg"])
            for error in exc.errors()
        ]
        return _refused(ctx, domain_id, problems, 422, typed)
    except MailfleetError as exc:
        if isinstance(exc, NotFound):
            raise
        problems = [Problem(exc.field or "form", exc.detail)]
        return _refused(ctx, domain_id, problems, exc.status, typed)
    return redirect(f"{PREFIX}/domains/{domain_id}#records")


@router.post("/domains/{domain_id}/records/{record_id}/delete")
def delete_record(form: PostedForm, request: Request, domain_id: str, record_id: str) -> Response:
    ctx = form.ctx
    try:
        domain = _locked_domain(ctx, domain_id)
        row = dns_service.get_record(ctx.session, domain, _id(record_id, "dns_record_not_found"))
        change = dns_service.delete_record(ctx.session, domain, row)
        _sent(ctx, request, change)
    except MailfleetError as exc:
        if isinstance(exc, NotFound):
            raise
        return _refused(ctx, domain_id, [Problem("record", exc.detail)], exc.status, {})
    return redirect(f"{PREFIX}/domains/{domain_id}#records")
