"""The end of a plug-and-charge session (``pnc_end``): the car's final SoC (retried a few
times if the car sleeps, within the budget), the learned tag confirmed when the car's SoC
shows it really charged, then the bill. And the SoC evidence the bill is checked against.

The bill is never lost to Smartcar: after the last try (or over budget) the session is
billed with what was read; without two SoC readings the cross-check says INCONCLUSIVE.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

import billing
from csms.billing_inputs import VehicleEvidence
from csms.clock import Clock
from csms.invoicing import enqueue_billing
from csms.logs import get_logger
from csms.matching import LearnedTag, Method, PlugEvent, autocharge_tag, learnable_tag
from csms.plugcharge import hooks
from csms.plugcharge.policy import SNAPSHOT_CALLS, PncConfig
from csms.plugcharge.reads import CarReader, session_ref
from csms.store import Row, vehicles
from csms.store import autocharge_tags as tag_store
from csms.store import plug_attempts as store

__all__ = ["Finisher", "plug_and_charge_evidence"]

log = get_logger(__name__)

SESSION_PURPOSES = ("start", "guard", "target", "end")
# The SoC gain (percentage points) that confirms the car on the connector charged.
_CONFIRM_PP = Decimal(1)


class Finisher:
    def __init__(
        self, pool: asyncpg.Pool, clock: Clock, reader: CarReader, config: PncConfig
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._reader = reader
        self._config = config

    async def end(self, payload: dict[str, Any]) -> None:
        attempt_id = int(payload["attempt_id"])
        tries = int(payload.get("try", 1))
        async with self._pool.acquire() as conn:
            attempt = await store.get(conn, attempt_id)
            if attempt is None or attempt["status"] != "ended":
                return
            car = await vehicles.get(conn, attempt["vehicle_id"]) if attempt["vehicle_id"] else None
        ref = session_ref(attempt_id)
        answered = False
        if car is not None and await self._reader.spent(ref) + SNAPSHOT_CALLS <= (
            self._config.session_call_budget
        ):
            reading = await self._reader.read(attempt, car, "end", ref=ref)
            answered = reading.soc_percent is not None
            if not answered and tries < self._config.end_tries:
                async with self._pool.acquire() as conn:
                    await hooks.enqueue(
                        conn,
                        hooks.END,
                        attempt_id,
                        at=self._clock() + self._config.end_retry,
                        key=f":{tries + 1}",
                        **{"try": tries + 1},
                    )
                return
        async with self._pool.acquire() as conn, conn.transaction():
            current = await store.get(conn, attempt_id, lock=True)
            if current is None or current["status"] != "ended":
                return
            await self._confirm_tag(conn, current)
            await store.update(
                conn,
                attempt_id,
                {"status": "done"},
                note={"at": self._clock(), "event": "billing", "final_soc_read": answered},
            )
            await enqueue_billing(conn, current["session_id"], at=self._clock(), after_pnc=True)
        log.info("plug_and_charge_finished", attempt_id=attempt_id, final_soc_read=answered)

    async def _confirm_tag(self, conn: asyncpg.Connection, attempt: Row) -> None:
        """Learn the tag the charger sent for the VIN Smartcar matched (ref 4.4), and count
        this session as a confirmation when the car's SoC shows it charged on this
        connector (and the guard did not trip). Done here, at the end, because a charger's
        Authorize may arrive after the match was decided."""
        if (
            attempt["method"] != Method.SMARTCAR_PLUG_STATE.value
            or attempt["vin"] is None
            or attempt["guard"] == "tripped"
        ):
            return
        tag = autocharge_tag(attempt["id_token"], attempt["id_token_type"])
        if tag is None:
            return
        socs = [
            r["soc_percent"]
            for r in await store.readings(conn, attempt["id"])
            if r["purpose"] in SESSION_PURPOSES and r["soc_percent"] is not None
        ]
        if len(socs) < 2 or socs[-1] - socs[0] < _CONFIRM_PP:
            return
        plug = PlugEvent(
            attempt["charge_point_id"],
            attempt["evse_id"],
            attempt["plugged_at"],
            id_token=attempt["id_token"],
            id_token_type=attempt["id_token_type"],
        )
        known = [LearnedTag(r["tag"], r["vin"]) for r in await tag_store.tags(conn, tag)]
        learn = learnable_tag(plug, attempt["vin"], known)
        if learn is None:
            return
        await tag_store.learn_tag(
            conn,
            tag=learn[0],
            vin=learn[1],
            vehicle_id=attempt["vehicle_id"],
            attempt_id=attempt["id"],
        )
        row = await tag_store.confirm_tag(
            conn, tag=learn[0], vin=learn[1], needed=self._config.tag_confirmations
        )
        if row is not None:
            await store.update(
                conn,
                attempt["id"],
                {},
                note={"event": "tag_confirmed", "tag": learn[0], "status": row["status"]},
            )


async def plug_and_charge_evidence(conn: asyncpg.Connection, session: Row) -> VehicleEvidence:
    """The matched car's SoC readings during the session, its capacity, and the guard's
    finding: what the bill's cross-check weighs (an EvidenceSource)."""
    attempt = await store.of_session(conn, session["id"])
    if attempt is None or attempt["vehicle_id"] is None:
        return VehicleEvidence()
    car = await vehicles.get(conn, attempt["vehicle_id"])
    polls = tuple(
        billing.SocPoll(
            r["fetched_at"],
            None if r["soc_percent"] is None else Decimal(r["soc_percent"]) / 100,
            data_age=r["data_age"],
            is_plugged_in=r["is_plugged_in"],
            state=r["charge_state"],
            distance_m=None if r["distance_m"] is None else Decimal(r["distance_m"]),
        )
        for r in await store.readings(conn, attempt["id"])
        if r["purpose"] in SESSION_PURPOSES
        and (r["soc_percent"] is not None or r["is_plugged_in"] is not None)
    )
    capacity = None if car is None else car["battery_capacity_kwh"]
    return VehicleEvidence(
        soc_polls=polls,
        battery_capacity_kwh=None if capacity is None else Decimal(capacity),
        capacity_source=None if car is None else car["capacity_source"],
        mismatch=attempt["mismatch_reason"],
    )
