"""The services' results in InboxedUp's shapes (pure functions: payloads for `schemas`).

They read the attributes of what the services return and name nothing of the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from mailfleet.compat.inboxedup import ids, statuses
from mailfleet.config import MailboxType


def account(overview: Mapping[str, Any]) -> dict[str, Any]:
    user = overview["user"]
    summary = overview["summary"]
    usage = overview["allocations"]
    empty = {"allocated": 0, "used": 0, "remaining": 0}
    return {
        "customer": {
            "id": str(user.id),
            "email": user.email,
            "name": user.name or "",
            "created_at": user.created_at,
        },
        "allocations": [{"type": kind, **usage.get(kind, empty)} for kind in MailboxType],
        "summary": {
            "total_domains": summary["domains"],
            "active_domains": summary["active_domains"],
            "pending_mailbox_requests": summary["pending_orders"],
            "active_api_keys": summary["active_api_keys"],
        },
    }


def subscription(row: Any) -> dict[str, Any]:
    return {
        "id": row.public_id,
        "lookup_key": row.lookup_key,
        "types": list(row.mailbox_types),
        "slots": row.slots,
        "status": str(row.status),
        "period": str(row.period),
        "price_cents": row.price_cents,
        "currency": row.currency,
        "current_period_start": row.current_period_start,
        "current_period_end": row.current_period_end,
        "cancel_at_period_end": row.cancel_at_period_end,
        "notes": row.notes,
        "created_at": row.created_at,
    }


def domain(row: Any) -> dict[str, Any]:
    return {
        "id": ids.encode(ids.DOMAIN, row.id),
        "domain": row.name,
        "status": str(row.status),
        "type": row.mailbox_type,
        "ns1": row.nameserver_1,
        "ns2": row.nameserver_2,
        "batch_id": ids.encode(ids.BATCH, row.batch_id) if row.batch_id else None,
        "created_at": row.created_at,
        "activated_at": row.activated_at,
    }


def submitted(result: Any, total: int) -> dict[str, Any]:
    """Per-name results in the order the names were sent: accepted ones with their id and
    nameserver pair, refused ones with the code and the reason."""
    items: list[tuple[int, dict[str, Any]]] = []
    accepted = iter(result.accepted)
    refused = {r.index: r for r in result.rejected}
    for index in range(total):
        rejection = refused.get(index)
        if rejection is not None:
            error = {
                "code": rejection.code,
                "message": rejection.detail,
                "field": f"domains[{index}]",
            }
            items.append((index, {"domain": rejection.name, "success": False, "error": error}))
            continue
        row = next(accepted)
        items.append(
            (
                index,
                {
                    "domain": row["name"],
                    "success": True,
                    "id": ids.encode(ids.DOMAIN, row["id"]),
                    "status": str(row.get("status", "QUEUED")),
                    "ns1": row["nameserver_1"],
                    "ns2": row["nameserver_2"],
                },
            )
        )
    return {
        "batch_id": ids.encode(ids.BATCH, result.batch.id),
        "total": total,
        "accepted": len(result.accepted),
        "rejected": len(result.rejected),
        "results": [item for _, item in items],
    }


def batch(report: Any) -> dict[str, Any]:
    counts = {str(status): count for status, count in report.counts.items()}
    return {
        "batch_id": ids.encode(ids.BATCH, report.batch.id),
        "status": statuses.batch_status(counts),
        "total": len(report.domains),
        **{name: counts.get(status, 0) for status, name in statuses.COUNTERS.items()},
        "groups": [
            {
                "ns1": ns1,
                "ns2": ns2,
                "domains": [
                    {
                        "id": ids.encode(ids.DOMAIN, d.id),
                        "domain": d.name,
                        "status": str(d.status),
                        "created_at": d.created_at,
                    }
                    for d in members
                ],
            }
            for (ns1, ns2), members in report.groups
        ],
    }


def verification(row: Any, result: Mapping[str, Any]) -> dict[str, Any]:
    diagnosis = result.get("diagnosis") or {}
    return {
        "id": ids.encode(ids.DOMAIN, row.id),
        "domain": row.name,
        "status": str(result["status"]),
        "delegated": bool(result["delegated"]),
        "ns1": row.nameserver_1,
        "ns2": row.nameserver_2,
        "message": str(diagnosis.get("reason", "")),
    }


def _mailbox(mailbox: Any, domain_name: str) -> dict[str, Any]:
    return {
        "first_name": mailbox.first_name,
        "last_name": mailbox.last_name,
        "mailbox_username": mailbox.username,
        "domain_name": domain_name,
    }


def created(view: Any, message: str) -> dict[str, Any]:
    """`POST /mailboxes`' answer, lower-case type and status as in the document's example."""
    return {
        "success": True,
        "request_id": ids.encode(ids.REQUEST, view.order.id),
        "type": statuses.type_word(view.order.mailbox_type),
        "domain": view.domain,
        "status": statuses.status_word(view.order.status),
        "message": message,
        "mailboxes": [_mailbox(m, view.domain) for m in view.mailboxes],
    }


def _login(credentials: Any) -> dict[str, Any]:
    return {
        "email": credentials.address,
        "password": credentials.password,
        "smtp_host": credentials.smtp_host,
        "smtp_port": credentials.smtp_port,
        "imap_host": credentials.imap_host,
        "imap_port": credentials.imap_port,
        "totp_secret": credentials.totp_secret,
    }


def mailbox_request(
    view: Any, domain_row: Any, logins: Mapping[uuid.UUID, Any] | None = None
) -> dict[str, Any]:
    order = view.order
    mailboxes = []
    for mailbox in view.mailboxes:
        item = {**_mailbox(mailbox, view.domain), "status": str(mailbox.status)}
        if logins is not None and mailbox.id in logins:
            item["credentials"] = _login(logins[mailbox.id])
        mailboxes.append(item)
    return {
        "id": ids.encode(ids.REQUEST, order.id),
        "type": order.mailbox_type,
        "domain": view.domain,
        "domain_id": ids.encode(ids.DOMAIN, order.domain_id),
        "domain_status": str(domain_row.status),
        "ns1": domain_row.nameserver_1,
        "ns2": domain_row.nameserver_2,
        "status": str(order.status),
        "admin_notes": order.operator_notes,
        "created_at": order.created_at,
        "mailboxes": mailboxes,
    }
