"""Event types are declared once (`events.types.EventType`): every type the code records is
there, recording another is refused, and every status transition is a public webhook event."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest

from mailfleet.db import Database
from mailfleet.events import service as events
from mailfleet.events.types import EventType, UnknownEventType
from mailfleet.models import WebhookEventType
from mailfleet.webhooks.outbox import PUBLIC_EVENTS

ROOT = Path(__file__).resolve().parents[2] / "mailfleet"
RECORDERS = {"record", "record_many", "NewEvent"}


def _strings(node: ast.AST) -> list[str]:
    """The string literals an expression can evaluate to (`"a" if x else "b"` gives both)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    return []


def _recorded_types() -> set[str]:
    found: set[str] = set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else None
            if isinstance(node.func, ast.Name):
                name = node.func.id
            if name not in RECORDERS:
                continue
            for keyword in node.keywords:
                if keyword.arg == "type":
                    found.update(_strings(keyword.value))
    return found


def test_every_event_type_the_code_records_is_declared() -> None:
    recorded = _recorded_types()
    assert recorded  # the scan finds the literal types still written as strings
    assert sorted(recorded - {t.value for t in EventType}) == []


def test_recording_an_undeclared_type_is_refused(db: Database) -> None:
    with pytest.raises(UnknownEventType), db.transaction() as session:
        events.record(
            session,
            workspace_id=None,
            type="domain.made_up",
            subject_type="domain",
            subject_id=uuid.uuid4(),
            actor="test",
        )


def test_every_status_transition_reaches_the_webhooks() -> None:
    transitions = {t for t in EventType if t.value.endswith(".status_changed")}
    assert transitions == {
        EventType.DOMAIN_STATUS_CHANGED,
        EventType.MAILBOX_STATUS_CHANGED,
        EventType.ORDER_STATUS_CHANGED,
        EventType.SUBSCRIPTION_STATUS_CHANGED,
        EventType.DOMAIN_PURCHASE_STATUS_CHANGED,
        EventType.QUICK_SETUP_STATUS_CHANGED,
        EventType.DOMAIN_SWAP_STATUS_CHANGED,
    }
    for kind in transitions:
        assert PUBLIC_EVENTS[kind.value] == WebhookEventType(kind.value)
    assert set(PUBLIC_EVENTS) <= {t.value for t in EventType}
