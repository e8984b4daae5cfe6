"""A payment's status changes only along its table; final statuses stay final."""

from __future__ import annotations

import pytest

from mailfleet.billing.payments import transitions
from mailfleet.billing.payments.transitions import FINAL, MOVES, PaymentStatusConflict
from mailfleet.billing.wallet import service as wallet_service
from mailfleet.db import Database
from mailfleet.models import Payment, PaymentPurpose, PaymentStatus
from tests.factories import make_tenant


def test_every_status_has_its_moves_and_finals_have_none() -> None:
    assert set(MOVES) == set(PaymentStatus)
    for status in FINAL:
        assert MOVES[status] == frozenset()
    assert PaymentStatus.OPEN not in {target for moves in MOVES.values() for target in moves}


def test_an_illegal_move_is_a_409_and_changes_nothing(db: Database) -> None:
    tenant = make_tenant(db)
    with db.transaction() as session:
        purse = wallet_service.wallet_for(session, tenant.workspace_id)
        payment = Payment(
            workspace_id=tenant.workspace_id,
            wallet_id=purse.id,
            provider="stripe",
            purpose=PaymentPurpose.TOPUP,
            amount_cents=1000,
            currency="USD",
            created_by="test",
        )
        session.add(payment)
        session.flush()
        transitions.move(session, payment, PaymentStatus.FAILED, actor="test")
        with pytest.raises(PaymentStatusConflict) as refused:
            transitions.move(session, payment, PaymentStatus.SUCCEEDED, actor="test")
        assert refused.value.status == 409
        assert refused.value.code == "payment_status_conflict"
        assert payment.status == PaymentStatus.FAILED
        assert payment.completed_at is not None
