from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from csms.events import ConnectorStatus
from csms.translate import parse_timestamp, samples_from_v16, status_from_v16, stop_from_v16

T = "2026-01-15T12:00:00Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-15T12:00:00Z", datetime(2026, 1, 15, 12, tzinfo=UTC)),
        ("2026-01-15T12:00:00.123z", datetime(2026, 1, 15, 12, 0, 0, 123000, tzinfo=UTC)),
        ("2026-01-15T13:00:00+01:00", datetime(2026, 1, 15, 12, tzinfo=UTC)),
        # No offset: OCPP says UTC; some chargers drop the Z.
        ("2026-01-15T12:00:00", datetime(2026, 1, 15, 12, tzinfo=UTC)),
    ],
)
def test_timestamps_become_aware_utc(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


def test_sample_defaults_and_units() -> None:
    samples = samples_from_v16(
        [
            {
                "timestamp": T,
                "sampled_value": [
                    {"value": "1234"},
                    {
                        "value": "1.5",
                        "unit": "kWh",
                        "measurand": "Energy.Active.Import.Register",
                        "phase": "L1",
                        "context": "Transaction.Begin",
                    },
                    {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
                    {"value": "abc", "format": "SignedData"},
                    {"value": "12.0004", "unit": "kWh"},
                ],
            },
        ]
    )
    first, kwh, power, signed, fractional = samples
    assert (first.measurand, first.unit, first.context, first.location, first.energy_wh) == (
        "Energy.Active.Import.Register",
        "Wh",
        "Sample.Periodic",
        "Outlet",
        1234,
    )
    assert (kwh.energy_wh, kwh.phase, kwh.context) == (1500, "L1", "Transaction.Begin")
    assert power.energy_wh is None and power.value_numeric == Decimal("7200")
    assert signed.value_numeric is None and signed.energy_wh is None and signed.value == "abc"
    assert fractional.energy_wh == 12000


def test_unparseable_raw_value_is_kept_as_text() -> None:
    (sample,) = samples_from_v16([{"timestamp": T, "sampled_value": [{"value": "n/a"}]}])
    assert sample.value == "n/a" and sample.value_numeric is None and sample.energy_wh is None


def test_status_uses_receive_time_without_timestamp() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    status = status_from_v16({"connector_id": 0, "error_code": "NoError", "status": "Faulted"}, now)
    assert status.status is ConnectorStatus.FAULTED
    assert (status.evse_id, status.connector_id, status.at) == (0, 0, now)


def test_stop_carries_transaction_data() -> None:
    ended = stop_from_v16(
        {
            "transaction_id": 7,
            "meter_stop": 2000,
            "timestamp": T,
            "reason": "EVDisconnected",
            "transaction_data": [
                {"timestamp": T, "sampled_value": [{"value": "2000", "context": "Transaction.End"}]}
            ],
        }
    )
    assert ended.transaction_id == "7" and ended.id_token is None
    assert [s.context for s in ended.samples] == ["Transaction.End"]
