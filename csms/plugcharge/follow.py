"""A running plug-and-charge session: make sure the car charges (``pnc_car_check``: POST
/charge START when it is not charging), and watch it (``pnc_watch``, every
``watch_interval``, no Smartcar call unless one is due): the mid-session guard, the
driver's target SoC, the spending cap. Stopping sends the car STOP and the charger stop.

SoC is followed sparingly: between readings it is estimated from the metered energy, and
the car is read only when the estimate says the target is reached. Every read and command
is checked against the session's call budget first; over budget, the check is skipped and
the session still completes and is billed from the meter.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from csms import command_models as m
from csms.clock import Clock
from csms.commands import CommandService
from csms.errors import CsmsError
from csms.invoicing import Invoicing
from csms.logs import get_logger
from csms.plugcharge import hooks
from csms.plugcharge.policy import (
    BATTERY_CALLS,
    COMMAND_CALLS,
    SNAPSHOT_CALLS,
    PncConfig,
    energy_to_target_wh,
    estimated_soc,
    guard_due,
)
from csms.plugcharge.reads import CarReader, session_ref
from csms.store import plug_attempts as store
from csms.store import sessions as session_store
from csms.store import transaction_events as tx_store
from csms.store import vehicles

__all__ = ["Follower"]

log = get_logger(__name__)

CHARGING = "CHARGING"
NOT_CHARGING = "NOT_CHARGING"
# A reading this close below the target counts as there (SoC steps, rounding).
_TARGET_SLACK = Decimal("0.5")


class Follower:
    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        reader: CarReader,
        commands: CommandService,
        invoicing: Invoicing,
        config: PncConfig,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._reader = reader
        self._commands = commands
        self._invoicing = invoicing
        self._config = config

    async def _context(
        self, attempt_id: int
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
        async with self._pool.acquire() as conn:
            attempt = await store.get(conn, attempt_id)
            if attempt is None or attempt["status"] != "charging" or attempt["session_id"] is None:
                return None
            session = await session_store.get(conn, attempt["session_id"])
            car = await vehicles.get(conn, attempt["vehicle_id"]) if attempt["vehicle_id"] else None
        if session is None or session["status"] != "active" or car is None:
            return None
        return attempt, session, car

    async def _affordable(self, attempt_id: int, calls: int) -> bool:
        spent = await self._reader.spent(session_ref(attempt_id))
        return spent + calls <= self._config.session_call_budget

    async def _note(self, attempt_id: int, fields: dict[str, Any], **note: Any) -> None:
        async with self._pool.acquire() as conn:
            await store.update(conn, attempt_id, fields, note={"at": self._clock(), **note})

    # --- pnc_car_check ------------------------------------------------------------------

    async def car_check(self, payload: dict[str, Any]) -> None:
        attempt_id = int(payload["attempt_id"])
        tries = int(payload.get("try", 1))
        context = await self._context(attempt_id)
        if context is None:
            return
        attempt, _, car = context
        if not await self._affordable(attempt_id, SNAPSHOT_CALLS + COMMAND_CALLS):
            await self._note(attempt_id, {}, event="car_check_skipped", why="call budget")
            return
        reading = await self._reader.read(attempt, car, "start", ref=session_ref(attempt_id))
        if not reading.answered:
            if tries < 2:  # asleep or unreachable: once more, a little later
                async with self._pool.acquire() as conn:
                    await hooks.enqueue(
                        conn,
                        hooks.CAR_CHECK,
                        attempt_id,
                        at=self._clock() + self._config.car_check_after,
                        key=":2",
                        **{"try": 2},
                    )
            return
        if reading.charge_state == CHARGING or not reading.is_plugged_in:
            return  # charging on its own; an unplugged car is the guard's business
        done, what = await self._reader.command(attempt, car, "START")
        await self._note(attempt_id, {"car_started": done}, event="car_start", result=what)
        log.info("car_start_sent", attempt_id=attempt_id, result=what)

    # --- pnc_watch ----------------------------------------------------------------------

    async def watch(self, payload: dict[str, Any]) -> None:
        attempt_id = int(payload["attempt_id"])
        turn = int(payload.get("turn", 0))
        context = await self._context(attempt_id)
        if context is None:
            return
        attempt, session, car = context
        now = self._clock()
        metered = await self._metered_wh(session)
        stop = None
        if attempt["stop_requested_at"] is None:
            stop = await self._cap(attempt, session)
            if stop is None and attempt["guard"] == "pending":
                stop = await self._guard(attempt, session, car, metered, now)
            if stop is None:
                stop = await self._target(attempt, car, metered, payload)
        if stop is not None:
            await self.stop(attempt, session, car, *stop)
        async with self._pool.acquire() as conn:
            await hooks.enqueue(
                conn,
                hooks.WATCH,
                attempt_id,
                at=now + self._config.watch_interval,
                key=f":{turn + 1}",
                turn=turn + 1,
                **{k: v for k, v in payload.items() if k == "next_target_wh"},
            )

    async def _metered_wh(self, session: dict[str, Any]) -> int:
        async with self._pool.acquire() as conn:
            last = await session_store.last_register(conn, session["id"])
            start = await tx_store.start_register(conn, session)
        if last is None or start is None:
            return 0
        return max(0, int(last["energy_wh"]) - int(start))

    async def _cap(
        self, attempt: dict[str, Any], session: dict[str, Any]
    ) -> tuple[str, str] | None:
        cap = attempt["spending_cap_minor"]
        if cap is None:
            return None
        try:
            estimate = await self._invoicing.estimate(session["id"])
        except CsmsError:
            return None
        cost = estimate.get("total_minor_units")
        if cost is not None and int(cost) >= cap:
            return "spending_cap", f"the running cost {cost} reached the cap {cap}"
        return None

    async def _guard(
        self,
        attempt: dict[str, Any],
        session: dict[str, Any],
        car: dict[str, Any],
        metered: int,
        now: datetime,
    ) -> tuple[str, str] | None:
        """Ref 3.4: after 10 min or 1 kWh, the matched car must be plugged in and charging
        while the meter rises; if it is not, it is not the car on this connector."""
        started = session["started_at"] or attempt["plugged_at"]
        if not guard_due(started, now, metered, self._config):
            return None
        if not await self._affordable(attempt["id"], SNAPSHOT_CALLS):
            await self._note(
                attempt["id"], {"guard": "skipped"}, event="guard_skipped", why="call budget"
            )
            return None
        reading = await self._reader.read(attempt, car, "guard", ref=session_ref(attempt["id"]))
        if not reading.answered:
            return None  # the next watch tries again while the budget lasts
        async with self._pool.acquire() as conn:
            delivering = await store.delivering(conn, session)
        # FULLY_CHARGED (the car's own limit) is a car that charged: not a mismatch.
        idle = not reading.is_plugged_in or reading.charge_state == NOT_CHARGING
        if metered > 0 and delivering and idle:
            why = (
                f"the matched car reported plugged_in={reading.is_plugged_in} "
                f"state={reading.charge_state} while the meter rose {metered} Wh"
            )
            await self._note(
                attempt["id"],
                {"guard": "tripped", "mismatch_reason": why},
                event="guard_tripped",
                why=why,
            )
            return "vehicle_mismatch", why
        await self._note(
            attempt["id"], {"guard": "passed"}, event="guard_passed", soc=reading.soc_percent
        )
        return None

    async def _target(
        self, attempt: dict[str, Any], car: dict[str, Any], metered: int, payload: dict[str, Any]
    ) -> tuple[str, str] | None:
        target = attempt["target_soc_percent"]
        capacity = car["battery_capacity_kwh"]
        if target is None or capacity is None:
            return None
        capacity = Decimal(capacity)
        async with self._pool.acquire() as conn:
            socs = [
                r
                for r in await store.readings(conn, attempt["id"])
                if r["soc_percent"] is not None and r["purpose"] != "match"
            ]
        if not socs:
            return None
        due_wh = payload.get("next_target_wh")
        if due_wh is None:
            base = Decimal(socs[0]["soc_percent"])
            if estimated_soc(base, metered, capacity, self._config.efficiency) < target:
                return None
        elif metered < int(due_wh):
            return None
        # Keep enough for the STOP and the final reading; without it, trust the estimate.
        reserve = COMMAND_CALLS + SNAPSHOT_CALLS
        if not await self._affordable(attempt["id"], BATTERY_CALLS + reserve):
            return "target_soc", f"the estimate reached {target}% (no call budget left to read)"
        reading = await self._reader.read(
            attempt, car, "target", ref=session_ref(attempt["id"]), battery_only=True
        )
        if reading.soc_percent is None:
            return None
        if reading.soc_percent + _TARGET_SLACK >= target:
            return "target_soc", f"the car reports {reading.soc_percent}% (target {target}%)"
        payload["next_target_wh"] = metered + energy_to_target_wh(
            reading.soc_percent, target, capacity, self._config.efficiency
        )
        return None

    async def stop(
        self,
        attempt: dict[str, Any],
        session: dict[str, Any],
        car: dict[str, Any],
        reason: str,
        why: str,
    ) -> None:
        """Car STOP (when the budget allows) and the charger stop; the session ends when
        the charger reports the transaction ended."""
        car_result = "skipped (call budget)"
        if await self._affordable(attempt["id"], COMMAND_CALLS):
            _, car_result = await self._reader.command(attempt, car, "STOP")
        charger_result = "sent"
        try:
            reply = await self._commands.execute(
                session["charge_point_id"], "remote-stop", m.RemoteStop(session_id=session["id"])
            )
            charger_result = str(reply.get("status"))
        except CsmsError as exc:
            charger_result = f"not delivered: {exc}"
        await self._note(
            attempt["id"],
            {"stop_reason": reason, "stop_requested_at": self._clock()},
            event="stop",
            reason=reason,
            why=why,
            car=car_result,
            charger=charger_result,
        )
        log.info(
            "plug_and_charge_stop",
            attempt_id=attempt["id"],
            reason=reason,
            car=car_result,
            charger=charger_result,
        )
