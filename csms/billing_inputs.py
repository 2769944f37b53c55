"""What a stored session is billed from: its samples, the charger's time zone, the
connector's states and the car's evidence, as the billing core's ``SessionInput``.

The same samples that were answered to the charger are priced: stored ``MeterSample``
rows go through ``csms.pricing.reading_from_sample``, as the preview's documents go
through its parser, and both end in ``billing.price_session``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

import billing
from csms.events import MeterSample
from csms.pricing import reading_from_sample
from csms.store import Row, session_inputs
from csms.store import sessions as session_store

__all__ = ["EvidenceSource", "VehicleEvidence", "no_evidence", "session_input"]


@dataclass(frozen=True, slots=True)
class VehicleEvidence:
    """What the car reported during a session: SoC polls and its battery capacity."""

    soc_polls: tuple[billing.SocPoll, ...] = ()
    battery_capacity_kwh: Decimal | None = None
    capacity_source: str | None = None
    mismatch: str | None = None  # the mid-session guard found the car not charging


# Where a session's SoC evidence comes from: plug-and-charge sessions have the SoC polls
# of their matched car (csms.plugcharge.evidence); others have none (INCONCLUSIVE).
EvidenceSource = Callable[[asyncpg.Connection, Row], Awaitable[VehicleEvidence]]


async def no_evidence(conn: asyncpg.Connection, session: Row) -> VehicleEvidence:
    return VehicleEvidence()


def _sample(row: Row) -> MeterSample:
    return MeterSample(
        sampled_at=row["sampled_at"],
        measurand=row["measurand"],
        phase=row["phase"],
        location=row["location"],
        context=row["context"],
        format=row["format"],
        unit=row["unit"],
        value=row["value"],
        value_numeric=row["value_numeric"],
        energy_wh=row["energy_wh"],
    )


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def session_input(
    conn: asyncpg.Connection,
    session: Row,
    *,
    end: datetime,
    evidence: EvidenceSource = no_evidence,
) -> billing.SessionInput:
    """What the billing core needs to price a stored session up to ``end``.

    The charger's time zone; every stored sample (defaults already applied when it was
    received); meterStart/meterStop for 1.6 (2.0.1 has none: its register samples are
    the start and stop values); connector statuses (1.6) or charging states (2.0.1).
    The current type is not known per charger yet, so sessions are checked as AC. The
    car's SoC polls and capacity come from ``evidence``.
    """
    samples = await session_store.samples(conn, session["id"])
    start = session["started_at"] or (samples[0]["sampled_at"] if samples else end)
    end = max(end, start)
    v16 = session["protocol"] == "ocpp1.6"
    if v16:
        statuses = await session_inputs.connector_statuses(
            conn,
            charge_point_id=session["charge_point_id"],
            evse_id=session["evse_id"] or 0,
            start=start,
            end=end,
        )
    else:
        statuses = await session_inputs.charging_states(conn, session["id"])
    car = await evidence(conn, session)
    return billing.SessionInput(
        start,
        end,
        _zone(await session_inputs.time_zone(conn, session["charge_point_id"])),
        billing.CurrentType.AC,
        readings=tuple(reading_from_sample(_sample(row)) for row in samples),
        meter_start_wh=session["meter_start_wh"] if v16 else None,
        meter_stop_wh=session["meter_stop_wh"] if v16 else None,
        connector_status=tuple(
            billing.ConnectorStatusChange(s["at"], s["status"]) for s in statuses
        ),
        soc_polls=car.soc_polls,
        battery_capacity_kwh=car.battery_capacity_kwh,
        capacity_source=car.capacity_source,
        vehicle_mismatch=car.mismatch,
    )
