"""What plug-and-charge does inside the transaction of an OCPP message: open a match
attempt on a plug event, note an Autocharge tag or eMAID the charger sent, bind the
session the charger started for a matched car, and take over a bound session's end.

Only writes and job enqueues: the Smartcar calls, the hold and the start run in the worker
(:mod:`csms.plugcharge.service`), never inside a charger's handler.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from csms.events import StatusChanged
from csms.logs import get_logger
from csms.matching import autocharge_tag, emaid_key
from csms.store import jobs
from csms.store import payments as payment_store
from csms.store import plug_attempts as store

__all__ = [
    "CAR_CHECK",
    "END",
    "EXPIRE",
    "MATCH",
    "RELEASE",
    "START",
    "WATCH",
    "PlugHooks",
    "enqueue",
    "session_ended",
]

log = get_logger(__name__)

MATCH = "pnc_match"
START = "pnc_start"
CAR_CHECK = "pnc_car_check"
WATCH = "pnc_watch"
END = "pnc_end"
RELEASE = "pnc_release"
EXPIRE = "pnc_expire"

# 1.6 Preparing (cable in, not authorised) and 2.0.1 Occupied; 1.6 chargers that report
# Occupied (some do, off-spec) count too.
PLUG_STATUSES = frozenset({"Preparing", "Occupied"})
UNPLUG_STATUSES = frozenset({"Available"})
NO_AUTHORIZATION = "NoAuthorization"
PLUG_TRIGGERS = frozenset({"CablePluggedIn", "EVDetected"})


async def enqueue(
    conn: asyncpg.Connection,
    kind: str,
    attempt_id: int,
    *,
    at: datetime,
    key: str = "",
    **extra: Any,
) -> bool:
    """A plug-and-charge job for the worker; ``key`` makes a repeat a no-op."""
    return await jobs.enqueue(
        conn,
        kind,
        {"attempt_id": attempt_id, **extra},
        dedupe_key=f"{kind}:{attempt_id}{key}",
        run_at=at,
        max_attempts=5,
    )


class PlugHooks:
    """Called by the charger, session and transaction services inside their transaction.

    Args:
        start_timeout: how long a matched attempt waits for the charger's transaction.
        car_check_after: when, after the start, to check that the car charges.
        first_poll_after: how long the first poll waits for a charger's Autocharge tag
            and, with Smartcar webhooks, the cars' own plug-in deliveries (both decide
            without a call).
        push_window: how long after a plug event a delivered plug-in still counts.
    """

    def __init__(
        self,
        *,
        start_timeout: timedelta,
        car_check_after: timedelta,
        first_poll_after: timedelta = timedelta(0),
        push_window: timedelta = timedelta(minutes=5),
    ) -> None:
        self._start_timeout = start_timeout
        self._car_check_after = car_check_after
        self._first_poll_after = first_poll_after
        self._push_window = push_window

    @staticmethod
    def identifies_car(id_token: str | None, id_token_type: str | None) -> bool:
        """An Autocharge tag (``VID:`` + MAC, or a MacAddress token) or an eMAID."""
        return bool(autocharge_tag(id_token, id_token_type) or emaid_key(id_token, id_token_type))

    async def _open(
        self,
        conn: asyncpg.Connection,
        charge_point_id: str,
        evse_id: int,
        connector_id: int,
        at: datetime,
        trigger: str,
        id_token: str | None = None,
        id_token_type: str | None = None,
    ) -> None:
        if await store.has_active_session(conn, charge_point_id, evse_id):
            return  # already charging (RFID first, then the cable): nothing to match
        if await store.open_for_connector(conn, charge_point_id, evse_id) is None and not (
            await store.unplugged_since_last_attempt(conn, charge_point_id, evse_id)
        ):
            return  # the same cable still in (a repeated status after a stop): no new match
        attempt, created = await store.open_attempt(
            conn,
            charge_point_id=charge_point_id,
            evse_id=evse_id,
            connector_id=connector_id,
            plugged_at=at,
            trigger=trigger,
            id_token=id_token,
            id_token_type=id_token_type,
        )
        if created:
            await enqueue(conn, MATCH, attempt["id"], at=at + self._first_poll_after, key=":1")
            await enqueue(conn, EXPIRE, attempt["id"], at=at + self._start_timeout)
            log.info(
                "plug_event",
                charge_point_id=charge_point_id,
                evse_id=evse_id,
                attempt_id=attempt["id"],
                trigger=trigger,
            )

    async def status(
        self, conn: asyncpg.Connection, charge_point_id: str, status: StatusChanged
    ) -> None:
        if status.evse_id <= 0:
            return
        if status.raw_status in PLUG_STATUSES:
            await self._open(
                conn,
                charge_point_id,
                status.evse_id,
                status.connector_id,
                status.at,
                f"StatusNotification:{status.raw_status}",
            )
        elif status.raw_status in UNPLUG_STATUSES:
            attempt = await store.open_for_connector(
                conn, charge_point_id, status.evse_id, lock=True
            )
            if attempt is not None:
                await store.update(
                    conn,
                    attempt["id"],
                    {"status": "abandoned", "reason": "unplugged before the session started"},
                    note={"at": status.at, "event": "unplugged"},
                )
                await enqueue(conn, RELEASE, attempt["id"], at=status.at)

    async def transaction_plug(
        self,
        conn: asyncpg.Connection,
        charge_point_id: str,
        *,
        evse_id: int | None,
        connector_id: int | None,
        trigger: str,
        at: datetime,
        id_token: str | None,
        id_token_type: str | None,
        has_session_token: bool,
        token_assigned: bool,
        session_id: int,
    ) -> None:
        """A 2.0.1 TransactionEvent: CablePluggedIn/EVDetected without a token opens an
        attempt; a MacAddress or eMAID token is evidence for the connector's attempt; a
        token that just became the session's (not NoAuthorization) may be the one a
        matched attempt started with. Periodic events cost no query."""
        if evse_id is None:
            return
        if id_token is not None and self.identifies_car(id_token, id_token_type):
            await self.tag_seen(conn, charge_point_id, id_token, id_token_type, evse_id=evse_id)
        elif id_token is not None and token_assigned and id_token_type != NO_AUTHORIZATION:
            await self.session_authorized(
                conn,
                charge_point_id,
                session_id=session_id,
                evse_id=evse_id,
                id_token=id_token,
                at=at,
            )
        elif trigger in PLUG_TRIGGERS and not has_session_token:
            await self._open(conn, charge_point_id, evse_id, connector_id or 1, at, trigger)

    async def car_state_pushed(
        self, conn: asyncpg.Connection, vehicle_id: int, plugged_in: bool | None, at: datetime
    ) -> None:
        """A webhook said a linked car is plugged in: decide the open attempts around that
        moment from what was pushed, without polling (polling stays the fallback)."""
        if not plugged_in:
            return
        for attempt in await store.matching_between(
            conn, since=at - self._push_window, until=at + self._push_window
        ):
            await enqueue(
                conn,
                MATCH,
                attempt["id"],
                at=at,
                key=f":push:{vehicle_id}:{at.isoformat()}",
                pushed_only=True,
            )

    async def tag_seen(
        self,
        conn: asyncpg.Connection,
        charge_point_id: str,
        id_token: str,
        id_token_type: str | None,
        *,
        evse_id: int | None = None,
    ) -> bool:
        """Attach a car-identifying token to the attempt it belongs to. Authorize names no
        connector: then only a charger with exactly one open attempt still missing a tag
        gets it (two cars plugged at once must not trade tags)."""
        if not self.identifies_car(id_token, id_token_type):
            return False
        kind = id_token_type or ("MacAddress" if id_token.upper().startswith("VID:") else None)
        if evse_id is not None:
            attempt = await store.open_for_connector(conn, charge_point_id, evse_id, lock=True)
            attempts = [] if attempt is None else [attempt]
        else:
            attempts = await store.open_untagged(conn, charge_point_id)
        if len(attempts) != 1 or attempts[0]["id_token"] is not None:
            log.info("car_tag_unassigned", charge_point_id=charge_point_id, open=len(attempts))
            return False
        attempt = attempts[0]
        await store.update(
            conn,
            attempt["id"],
            {"id_token": id_token, "id_token_type": kind},
            note={"event": "tag_seen", "tag": id_token, "type": kind},
        )
        if attempt["status"] == "matching":
            await enqueue(
                conn, MATCH, attempt["id"], at=attempt["plugged_at"], key=":tag", tag_only=True
            )
        return True

    async def session_authorized(
        self,
        conn: asyncpg.Connection,
        charge_point_id: str,
        *,
        session_id: int,
        evse_id: int | None,
        id_token: str,
        at: datetime,
    ) -> None:
        """The charger started (or authorised) a transaction with ``id_token``: bind it to
        the attempt that asked for it, or retire the connector's attempt (RFID won)."""
        for attempt in await store.waiting_for_token(conn, charge_point_id, id_token):
            if evse_id is not None and attempt["evse_id"] != evse_id:
                continue
            await store.update(
                conn,
                attempt["id"],
                {"status": "charging", "session_id": session_id},
                note={"at": at, "event": "session_started", "session_id": session_id},
            )
            await payment_store.bind_to_session(conn, attempt["id"], session_id)
            await enqueue(conn, CAR_CHECK, attempt["id"], at=at + self._car_check_after)
            await enqueue(conn, WATCH, attempt["id"], at=at, key=":0")
            return
        if evse_id is None:
            return
        current = await store.open_for_connector(conn, charge_point_id, evse_id, lock=True)
        if current is not None:
            await store.update(
                conn,
                current["id"],
                {"status": "superseded", "reason": "authorised by the charger's own token"},
                note={"at": at, "event": "superseded", "session_id": session_id},
            )
            await enqueue(conn, RELEASE, current["id"], at=at)


async def session_ended(conn: asyncpg.Connection, session_id: int, at: datetime) -> bool:
    """A session ended: if plug-and-charge started it, read the car's final SoC before the
    bill (the end job enqueues the billing). True when it took over."""
    attempt = await store.of_session(conn, session_id, lock=True)
    if attempt is None or attempt["status"] != "charging":
        return False
    await store.update(
        conn, attempt["id"], {"status": "ended"}, note={"at": at, "event": "session_ended"}
    )
    await enqueue(conn, END, attempt["id"], at=at, key=":1")
    return True
