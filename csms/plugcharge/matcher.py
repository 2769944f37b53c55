"""The ``pnc_match`` job: gather what is known about linked cars around a plug event, poll
the near ones within the attempt's call budget, and record the decision of the pure
:func:`csms.matching.decide` with its evidence.

Rounds (ref 4.2.3): at once and again ``repoll_after`` later, at most ``max_rounds``. A
learned tag decides without polling. Before the last round a Smartcar-based match waits
while another linked car near the charger still says "not plugged": car telematics lag,
and that car may be the one on this connector (two cars at neighbouring chargers).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import asyncpg

from csms.clock import Clock
from csms.logs import get_logger
from csms.matching import (
    KnownPosition,
    LearnedTag,
    MatchDecision,
    Method,
    Outcome,
    PlugEvent,
    Reason,
    VehicleObservation,
    autocharge_tag,
    decide,
    emaid_key,
    plan_polls,
)
from csms.plugcharge import hooks
from csms.plugcharge.policy import LOCATION_CALLS, SNAPSHOT_CALLS, PncConfig
from csms.plugcharge.reads import CarReader, Reading, match_ref
from csms.store import autocharge_tags as tag_store
from csms.store import charge_points
from csms.store import plug_attempts as store

__all__ = ["Matcher"]

log = get_logger(__name__)

POLL_CALLS = SNAPSHOT_CALLS + LOCATION_CALLS
_OTHERS_SPAN = timedelta(minutes=10)
_TAG_METHODS = (Method.AUTOCHARGE_TAG.value, Method.EMAID.value)


def _observation(car: dict[str, Any], reading: dict[str, Any] | Reading) -> VehicleObservation:
    values = reading if isinstance(reading, dict) else vars(reading)

    def get(name: str) -> Any:
        return values.get(name)

    return VehicleObservation(
        vehicle_id=str(car["id"]),
        vin=car["vin"] or "",
        account_id=str(car["account_id"]),
        observed_at=get("fetched_at"),
        data_age=get("data_age"),
        is_plugged_in=get("is_plugged_in"),
        charge_state=get("charge_state"),
        latitude=get("latitude"),
        longitude=get("longitude"),
        location_data_age=get("location_age"),
    )


def _pushed(car: dict[str, Any], plug: PlugEvent, config: PncConfig) -> VehicleObservation | None:
    """A car whose state a webhook delivered around the plug event: no call needed."""
    source = car["state_source"] or ""
    at = car["state_at"]
    if not source.startswith("webhook") or at is None or car["plugged_in"] is None:
        return None
    if not plug.at - config.match.window_before <= at <= plug.at + config.match.window_after:
        return None
    return VehicleObservation(
        vehicle_id=str(car["id"]),
        vin=car["vin"] or "",
        account_id=str(car["account_id"]),
        observed_at=at,
        data_age=at,
        is_plugged_in=car["plugged_in"],
        charge_state=car["charging_state"],
        latitude=car["latitude"],
        longitude=car["longitude"],
        location_data_age=car["location_at"],
    )


def _evidence_json(decision: MatchDecision) -> list[dict[str, Any]]:
    rows = [
        {k: (v.value if isinstance(v, Reason) else v) for k, v in asdict(e).items()}
        for e in decision.evidence
    ]
    loaded: list[dict[str, Any]] = json.loads(json.dumps(rows, default=str))
    return loaded


class Matcher:
    def __init__(
        self, pool: asyncpg.Pool, clock: Clock, reader: CarReader, config: PncConfig
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._reader = reader
        self._config = config

    async def run(self, payload: dict[str, Any]) -> None:
        attempt_id = int(payload["attempt_id"])
        async with self._pool.acquire() as conn:
            attempt = await store.get(conn, attempt_id)
            if attempt is None or attempt["status"] != "matching":
                return
            charger = await charge_points.get(conn, attempt["charge_point_id"])
            cars = await store.linked_vehicles(conn)
            busy = await store.busy_vehicles(conn, exclude=attempt_id)
            learned = await self._learned(conn, attempt)
            others = await self._other_plugs(conn, attempt)
            earlier = [r for r in await store.readings(conn, attempt_id) if r["purpose"] == "match"]
        assert charger is not None
        plug = PlugEvent(
            attempt["charge_point_id"],
            attempt["evse_id"],
            attempt["plugged_at"],
            charger["latitude"],
            charger["longitude"],
            attempt["id_token"],
            attempt["id_token_type"],
        )
        by_id = {car["id"]: car for car in cars}
        bound = [
            VehicleObservation(
                str(c["id"]),
                c["vin"] or "",
                str(c["account_id"]),
                self._clock(),
                None,
                None,
                bound_elsewhere=True,
            )
            for c in cars
            if c["id"] in busy
        ]
        quick = decide(plug, bound, learned, self._config.match)
        if quick.matched:  # a learned tag: no polling at all
            await self._conclude(attempt, quick, final=True)
            return
        if payload.get("tag_only"):
            return  # the tag did not decide; the polling rounds go on as planned
        observations = [
            _observation(by_id[r["vehicle_id"]], r) for r in earlier if r["vehicle_id"] in by_id
        ]
        pushed = {
            c["id"]: o
            for c in cars
            if c["id"] not in busy and (o := _pushed(c, plug, self._config))
        }
        observations += pushed.values()
        if payload.get("pushed_only"):
            await self._pushed_decision(attempt, plug, observations + bound, learned, others)
            return
        unpolled = await self._poll(attempt, plug, cars, busy | set(pushed), observations)
        decision = decide(
            plug,
            observations + bound,
            learned,
            self._config.match,
            other_plugs=others,
            unpolled=unpolled,
        )
        round_no = attempt["rounds"] + 1
        final = round_no >= self._config.max_rounds
        await self._conclude(attempt, decision, final=final, round_no=round_no)

    async def _pushed_decision(
        self,
        attempt: dict[str, Any],
        plug: PlugEvent,
        observations: list[VehicleObservation],
        learned: list[LearnedTag],
        others: list[PlugEvent],
    ) -> None:
        """A webhook delivery: decide from pushed states alone, only when that is enough
        (cars not heard of are not rivals here; the polling rounds still come if not)."""
        decision = decide(plug, observations, learned, self._config.match, other_plugs=others)
        if decision.matched and not self._near_unplugged(decision):
            await self._conclude(attempt, decision, final=True)

    async def _learned(self, conn: asyncpg.Connection, attempt: dict[str, Any]) -> list[LearnedTag]:
        key = autocharge_tag(attempt["id_token"], attempt["id_token_type"]) or emaid_key(
            attempt["id_token"], attempt["id_token_type"]
        )
        if key is None:
            return []
        return [
            LearnedTag(row["tag"], row["vin"], active=row["status"] == "active")
            for row in await tag_store.tags(conn, key)
        ]

    async def _other_plugs(
        self, conn: asyncpg.Connection, attempt: dict[str, Any]
    ) -> list[PlugEvent]:
        rows = await store.recent_plugs(
            conn,
            since=attempt["plugged_at"] - _OTHERS_SPAN,
            until=attempt["plugged_at"] + _OTHERS_SPAN,
            exclude=attempt["id"],
        )
        return [
            PlugEvent(
                r["charge_point_id"], r["evse_id"], r["plugged_at"], r["latitude"], r["longitude"]
            )
            for r in rows
            if r["method"] not in _TAG_METHODS
        ]

    async def _poll(
        self,
        attempt: dict[str, Any],
        plug: PlugEvent,
        cars: Sequence[dict[str, Any]],
        skip: set[int],
        observations: list[VehicleObservation],
    ) -> list[str]:
        """Poll the near cars (closest first) while the budget lasts; returns the near ones
        left unpolled (rivals: they could be the car)."""
        positions = [
            KnownPosition(str(c["id"]), c["latitude"], c["longitude"], c["location_at"])
            for c in cars
            if c["id"] not in skip
        ]
        plan = plan_polls(plug, positions, self._config.match)
        by_id = {str(c["id"]): c for c in cars}
        unpolled = list(plan.over_budget)
        ref = match_ref(attempt["id"])
        charger_at = (plug.latitude, plug.longitude) if plug.located else None
        for vehicle_id in plan.vehicle_ids:
            spent = await self._reader.spent(ref)
            if spent + POLL_CALLS > self._config.match.poll_budget_calls:
                unpolled.append(vehicle_id)
                continue
            car = by_id[vehicle_id]
            reading = await self._reader.read(
                attempt,
                car,
                "match",
                ref=ref,
                location=True,
                charger_at=charger_at,  # type: ignore[arg-type]
            )
            observations.append(_observation(car, reading))
        return unpolled

    def _near_unplugged(self, decision: MatchDecision) -> bool:
        return any(
            e.reason is Reason.NOT_PLUGGED
            and e.distance_m is not None
            and e.distance_m <= self._config.match.weak_distance_m
            for e in decision.evidence
        )

    async def _conclude(
        self,
        attempt: dict[str, Any],
        decision: MatchDecision,
        *,
        final: bool,
        round_no: int | None = None,
    ) -> None:
        now = self._clock()
        attempt_id = attempt["id"]
        fields: dict[str, Any] = {"evidence": _evidence_json(decision)}
        if round_no is not None:
            fields["rounds"] = round_no
        note: dict[str, Any] = {"at": now, "event": "decision", "outcome": decision.outcome.value}
        waiting = not final and (
            decision.outcome in (Outcome.NEEDS_MORE_EVIDENCE, Outcome.NO_CANDIDATE)
            or (decision.matched and self._near_unplugged(decision))
        )
        async with self._pool.acquire() as conn, conn.transaction():
            current = await store.get(conn, attempt_id, lock=True)
            if current is None or current["status"] != "matching":
                return
            fields["outcome"] = decision.outcome.value
            fields["reason"] = decision.why
            if waiting:
                note["event"] = "waiting_for_evidence"
                at = attempt["plugged_at"] + self._config.repoll_after * (round_no or 1)
                await hooks.enqueue(
                    conn, hooks.MATCH, attempt_id, at=max(at, now), key=f":{(round_no or 1) + 1}"
                )
            elif decision.matched:
                assert decision.method is not None
                car = await store.vehicle_by_vin(conn, decision.vin) if decision.vin else None
                if car is None:
                    fields.update(status="no_match", reason="the matched VIN is no longer linked")
                else:
                    fields.update(
                        status="starting",
                        method=decision.method.value,
                        vehicle_id=car["id"],
                        vin=car["vin"],
                        account_id=car["account_id"],
                    )
                    note["vin"] = car["vin"]
                    await hooks.enqueue(conn, hooks.START, attempt_id, at=now)
            else:
                fields["status"] = "no_match"
            await store.update(conn, attempt_id, fields, note=note)
        log.info(
            "plug_match_decided",
            attempt_id=attempt_id,
            outcome=decision.outcome.value,
            why=decision.why,
            waiting=waiting,
            vin=decision.vin,
        )
