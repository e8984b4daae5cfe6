"""Ordering mailboxes from a domain's page: a pasted list, one mailbox a line, through the same
order service as `POST /v1/mailbox-orders` (and the API's own request schema, so the console
accepts exactly what the API does).

A line is `username, First, Last`, or just `First Last` (the username is then `first.last`,
the quick way to order a generated list). A refused order writes nothing: the domain page comes
back with the rule's reason next to the line it names, and the list as typed.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, get_args

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.responses import Response

from mailfleet.auth.dependencies import RequestContext
from mailfleet.console.web import PREFIX, PostedForm, page, redirect
from mailfleet.dns import service as dns_service
from mailfleet.dns.schemas import RecordType
from mailfleet.domains import service as domain_service
from mailfleet.exceptions import MailfleetError, NotFound
from mailfleet.models import Domain, MailboxType, Role
from mailfleet.orders import schemas as order_schemas
from mailfleet.orders import service as order_service

router = APIRouter(include_in_schema=False)
# `mailboxes[3].username` -> line 4 (the service counts from 0, the form's lines from 1).
_ENTRY = re.compile(r"^mailboxes\[(\d+)\](?:\.(\w+))?")
_NOT_A_USERNAME = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class Problem:
    """One reason an order was refused: where (a line and field, or the whole form) and why."""

    where: str
    detail: str


def _uuid(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise NotFound("No such domain.", code="domain_not_found") from exc


def generated_username(first: str, last: str) -> str:
    return _NOT_A_USERNAME.sub("", f"{first}.{last}".lower())


def parse_lines(pasted: str) -> list[dict[str, str]]:
    """Each non-blank line as the API's mailbox entry (not yet checked)."""
    entries = []
    for line in pasted.splitlines():
        if not line.strip():
            continue
        if "," in line:
            parts = [p.strip() for p in line.split(",")]
            username, first, last = (parts + ["", "", ""])[:3]
        else:
            first, _, last = line.strip().partition(" ")
            last = last.strip()
            username = generated_username(first, last)
        entries.append({"username": username, "first_name": first, "last_name": last})
    return entries


def where(field: str | None) -> str:
    """A service's or schema's field name as the form's user reads it."""
    if not field:
        return "form"
    if field == "mailboxes":
        return "the list"
    found = _ENTRY.match(field)
    if found is None:
        return field
    line = f"line {int(found.group(1)) + 1}"
    return f"{line} ({found.group(2)})" if found.group(2) else line


def _schema_problems(exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"])
        # pydantic's loc is ("mailboxes", 3, "first_name"): the service's spelling is mailboxes[3].
        field = re.sub(r"^mailboxes\.(\d+)", r"mailboxes[\1]", field)
        problems.append(Problem(where(field), error["msg"]))
    return problems


def domain_page(ctx: RequestContext, domain: Domain, status: int = 200, **values: Any) -> Response:
    """The domain's page: its zone's records and last health check, and its order form (empty,
    or as typed with the reasons it failed)."""
    shown: dict[str, Any] = {
        "problems": [],
        "pasted": "",
        "chosen_type": None,
        # The record form's (console.records_page): its refusals, and the fields as typed.
        "record_problems": [],
        "record_typed": {},
        # The settings form's (console.domain_settings).
        "settings_problems": [],
        "settings_typed": None,
    }
    shown.update(values)
    records = dns_service.records_of(ctx.session, domain.id)
    return page(
        ctx,
        "domain.html",
        status,
        domain=domain,
        records=records,
        types=list(MailboxType),
        record_types=list(get_args(RecordType)),
        **shown,
    )


@router.post("/domains/{domain_id}/mailboxes")
def order_mailboxes(form: PostedForm, domain_id: str) -> Response:
    ctx = form.ctx
    workspace_id = ctx.workspace(Role.EDITOR)
    domain = domain_service.get_domain(
        ctx.session, workspace_id=workspace_id, domain_id=_uuid(domain_id)
    )
    pasted = form.fields.get("mailboxes", "")
    kind = form.field("mailbox_type") or (domain.mailbox_type.value if domain.mailbox_type else "")
    try:
        body = order_schemas.OrderCreate.model_validate(
            {"domain": str(domain.id), "type": kind, "mailboxes": parse_lines(pasted)}
        )
        order_service.create_order(
            ctx.session,
            ctx.settings,
            ctx.profile,
            workspace_id=workspace_id,
            domain_ref=body.domain,
            mailbox_type=body.type,
            mailboxes=[
                order_service.NewMailbox(m.first_name, m.last_name, m.username)
                for m in body.mailboxes
            ],
            user_id=ctx.user_id,
            actor=ctx.actor,
        )
    except (MailfleetError, ValidationError) as exc:
        # Nothing of the refused order stays; the form comes back as typed, with the reasons.
        ctx.session.rollback()
        if isinstance(exc, ValidationError):
            problems, status = _schema_problems(exc), 422
        else:
            problems, status = [Problem(where(exc.field), exc.detail)], exc.status
        return domain_page(
            ctx, domain, status, problems=problems, pasted=pasted, chosen_type=kind or None
        )
    return redirect(f"{PREFIX}/mailboxes?q=%40{domain.name}")
