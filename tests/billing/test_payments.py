"""What each cross-check verdict does to the invoice and the money, and the idempotency
keys derived from our ids (billing-domain.md sections 3.5 and 5.7)."""

from __future__ import annotations

import pytest

from billing import Verdict
from billing.payments import (
    PaymentAction,
    Settlement,
    cancel_key,
    capture_key,
    hold_key,
    refund_key,
    settlement_for,
)


@pytest.mark.parametrize(
    ("verdict", "total", "expected"),
    [
        (Verdict.OK, 550, Settlement("issued", "pending", PaymentAction.CAPTURE)),
        (Verdict.INCONCLUSIVE, 550, Settlement("issued", "pending", PaymentAction.CAPTURE)),
        # The meter wins upward: bill it, and open a charger-health ticket.
        (Verdict.METER_LOW, 885, Settlement("issued", "pending", PaymentAction.CAPTURE, True)),
        (
            Verdict.METER_HIGH,
            550,
            Settlement("held_for_review", "awaiting_review", PaymentAction.REVIEW),
        ),
        (Verdict.VEHICLE_MISMATCH, 550, Settlement("void", "canceled", PaymentAction.CANCEL)),
        (Verdict.VEHICLE_MISMATCH, 0, Settlement("void", "canceled", PaymentAction.CANCEL)),
        # V05: no energy, nothing to pay: release the hold.
        (Verdict.INCONCLUSIVE, 0, Settlement("issued", "not_required", PaymentAction.CANCEL)),
        (Verdict.OK, 49, Settlement("issued", "waived", PaymentAction.CANCEL)),
        (Verdict.OK, 50, Settlement("issued", "pending", PaymentAction.CAPTURE)),
    ],
)
def test_settlement_per_verdict(verdict: Verdict, total: int, expected: Settlement) -> None:
    assert settlement_for(verdict, total, minimum_charge_minor=50) == expected


def test_keys_come_from_our_ids() -> None:
    assert hold_key(42) == "pi:create:42"
    assert hold_key(42, 2) == "pi:create:42:2"
    assert capture_key(42) == "pi:capture:42"
    assert capture_key(42, 1, retry=3) == "pi:capture:42:1:retry3"
    assert cancel_key(42) == "pi:cancel:42"
    assert refund_key(42, 1) == "refund:42:1"
