"""Session service: authorization, transaction start, meter values and stop.

Each inbound event runs in one database transaction and is idempotent: chargers retry
transaction messages until they are acknowledged and replay them after being offline, so
a replay must return the first answer and change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import asyncpg

from csms import authorization
from csms.clock import Clock
from csms.commit import Committer, single_statement
from csms.errors import Conflict, NotFound
from csms.events import (
    AuthorizationStatus,
    IdTokenInfo,
    MeterSample,
    TransactionEnded,
    TransactionStarted,
)
from csms.invoicing import enqueue_billing
from csms.logs import get_logger
from csms.plugcharge.hooks import PlugHooks
from csms.store import Row, id_tokens
from csms.store import reservations as reservation_store
from csms.store import sessions as store
from csms.store import transaction_events as transaction_event_store

__all__ = ["SessionService", "StartOutcome", "close_by_operator"]

log = get_logger(__name__)


class StartOutcome:
    __slots__ = ("created", "id_token_info", "session_id", "transaction_id")

    def __init__(
        self, session_id: int, transaction_id: str, id_token_info: IdTokenInfo, created: bool
    ) -> None:
        self.session_id = session_id
        self.transaction_id = transaction_id
        self.id_token_info = id_token_info
        self.created = created


def _start_key(started: TransactionStarted) -> str:
    # A charger re-sending a StartTransaction keeps connector, tag, timestamp and meterStart
    # (ABB Terra re-sends with the original timestamp: mobilityhouse/ocpp#186).
    return "|".join(
        (
            str(started.connector_id),
            started.id_token,
            started.started_at.isoformat(),
            str(started.meter_start_wh),
        )
    )


def _stop_key(ended: TransactionEnded) -> str:
    return "|".join((ended.transaction_id, ended.ended_at.isoformat(), str(ended.meter_stop_wh)))


class SessionService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        commit: Committer,
        *,
        plug: PlugHooks | None = None,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._commit = commit
        self._plug = plug

    async def authorize(
        self,
        id_token: str,
        *,
        charge_point_id: str | None = None,
        id_token_type: str | None = None,
    ) -> IdTokenInfo:
        """The token's status. A car-identifying token (Autocharge ``VID:``/MacAddress,
        eMAID) is also noted, before the answer, on the charger's open plug event."""
        async with self._pool.acquire() as conn:
            token = await id_tokens.lookup(conn, id_token)
        plug = self._plug
        if (
            plug is not None
            and charge_point_id is not None
            and plug.identifies_car(id_token, id_token_type)
        ):

            async def work(conn: asyncpg.Connection) -> None:
                await plug.tag_seen(conn, charge_point_id, id_token, id_token_type)

            await self._commit.run(work)
        return authorization.decide(token, self._clock())

    async def start(
        self, charge_point_id: str, protocol: str, started: TransactionStarted
    ) -> StartOutcome:
        """Record a transaction start. Unknown or blocked tokens are recorded too (the
        charger already started; the answer tells it the token's status)."""

        async def work(conn: asyncpg.Connection) -> tuple[IdTokenInfo, Row, bool]:
            token = await id_tokens.lookup(conn, started.id_token)
            info = authorization.decide(token, self._clock())
            row, created = await store.insert_started(
                conn,
                charge_point_id=charge_point_id,
                protocol=protocol,
                started=started,
                start_key=_start_key(started),
                id_token_status=info.status.value,
                account_id=None if token is None else token["account_id"],
            )
            if created and started.reservation_id is not None:
                await reservation_store.set_status(
                    conn, charge_point_id, started.reservation_id, "used", session_id=row["id"]
                )
            if created and self._plug is not None:
                await self._plug.session_authorized(
                    conn,
                    charge_point_id,
                    session_id=row["id"],
                    evse_id=started.evse_id,
                    id_token=started.id_token,
                    at=started.started_at,
                )
            return info, row, created

        info, row, created = await self._commit.run(work)
        if not created:
            # The first answer stands, even if the token changed since.
            info = IdTokenInfo(
                AuthorizationStatus(row["id_token_status"]), info.expiry, info.parent_id_token
            )
            log.info("transaction_start_replayed", transaction_id=row["transaction_id"])
        else:
            log.info(
                "transaction_started",
                transaction_id=row["transaction_id"],
                connector_id=started.connector_id,
                id_token_status=info.status.value,
            )
        return StartOutcome(row["id"], row["transaction_id"], info, created)

    async def meter_values(
        self,
        charge_point_id: str,
        *,
        evse_id: int,
        connector_id: int,
        transaction_id: str | None,
        samples: Sequence[MeterSample],
    ) -> None:
        """Store samples (duplicates ignored). Samples for a transaction we do not know are
        kept with the transaction id as reported. The hottest message of all: many chargers'
        MeterValues are written together (see ``_write_meter_values``)."""
        item = _MeterValues(charge_point_id, evse_id, connector_id, transaction_id, samples)
        await self._commit.run_batched(_write_meter_values, item)

    async def stop(
        self, charge_point_id: str, protocol: str, ended: TransactionEnded
    ) -> IdTokenInfo | None:
        """Close a transaction. A replayed stop changes nothing; a stop for a transaction we
        do not know is recorded as an orphan and answered normally."""
        now = self._clock()

        async def work(conn: asyncpg.Connection) -> IdTokenInfo | None:
            info = None
            if ended.id_token is not None:
                info = authorization.decide(await id_tokens.lookup(conn, ended.id_token), now)
            session = await store.lock_by_transaction(conn, charge_point_id, ended.transaction_id)
            if session is None:
                session_id = await store.insert_orphan_stop(
                    conn,
                    charge_point_id=charge_point_id,
                    protocol=protocol,
                    ended=ended,
                    stop_key=_stop_key(ended),
                )
                log.warning(
                    "orphan_stop_recorded",
                    transaction_id=ended.transaction_id,
                    session_id=session_id,
                )
                evse_id = connector_id = 0
            else:
                session_id = session["id"]
                evse_id = session["evse_id"] or 0
                connector_id = session["connector_id"] or 0
                if session["status"] == "active":
                    energy = ended.meter_stop_wh - session["meter_start_wh"]
                    await store.complete(
                        conn, session_id, ended, energy if energy >= 0 else None, _stop_key(ended)
                    )
                    await enqueue_billing(conn, session_id, at=now)
                    log.info(
                        "transaction_stopped",
                        transaction_id=ended.transaction_id,
                        session_id=session_id,
                        energy_wh=energy,
                        reason=ended.reason,
                    )
                elif session["closed_by_operator_at"] is not None:
                    # Closed by the operator before this stop arrived: billed once already.
                    await store.record_charger_stop(
                        conn,
                        session_id,
                        ended_at=ended.ended_at,
                        meter_stop_wh=ended.meter_stop_wh,
                        reason=ended.reason,
                        differs=ended.meter_stop_wh != session["meter_stop_wh"],
                    )
                    log.info(
                        "late_stop_reconciled",
                        transaction_id=ended.transaction_id,
                        session_id=session_id,
                    )
                else:
                    log.info("transaction_stop_replayed", transaction_id=ended.transaction_id)
            await store.insert_samples(
                conn,
                charge_point_id=charge_point_id,
                session_id=session_id,
                evse_id=evse_id,
                connector_id=connector_id,
                transaction_id=ended.transaction_id,
                samples=ended.samples,
            )
            return info

        return await self._commit.run(work)


class _MeterValues(NamedTuple):
    charge_point_id: str
    evse_id: int
    connector_id: int
    transaction_id: str | None
    samples: Sequence[MeterSample]


@single_statement
async def _write_meter_values(conn: asyncpg.Connection, items: list[_MeterValues]) -> list[None]:
    """One statement for any number of messages: samples inserted, each linked to its
    session; transactions we do not know are reported (their samples kept unlinked)."""
    rows = [
        store.SampleRow(
            item.charge_point_id, None, item.evse_id, item.connector_id, item.transaction_id, sample
        )
        for item in items
        for sample in item.samples
    ]
    for charge_point_id, transaction_id in await store.insert_transaction_samples(conn, rows):
        log.warning(
            "meter_values_unknown_transaction",
            charge_point_id=charge_point_id,
            transaction_id=transaction_id,
        )
    return [None] * len(items)


async def close_by_operator(
    pool: asyncpg.Pool, clock: Clock, session_id: int, reason: str | None
) -> Row:
    """Close an active session whose stop never arrived, as the operator.

    The session ends at its last energy register sample (or now, without one) with that
    register as meter_stop_wh, stop reason ClosedByOperator, and is billed as a normal
    end is. A stop the charger sends later is reconciled (see :meth:`SessionService.stop`
    and :mod:`csms.transaction_events`): its values are recorded beside the session's,
    ``charger_stop_differs`` flags a different final register, and nothing is billed again
    (a difference is for the operator to settle with a credit note or re-bill).

    Raises:
        NotFound: no such session.
        Conflict: the session is not active.
    """
    now = clock()
    async with pool.acquire() as conn, conn.transaction():
        session = await store.lock(conn, session_id)
        if session is None:
            raise NotFound(f"session {session_id} not found")
        if session["status"] != "active":
            raise Conflict(f"session {session_id} is {session['status']}")
        last = await store.last_register(conn, session_id)
        meter_start = await transaction_event_store.start_register(conn, session)
        meter_stop = None if last is None else last["energy_wh"]
        energy = None
        if meter_start is not None and meter_stop is not None and meter_stop >= meter_start:
            energy = meter_stop - meter_start
        await store.close_by_operator(
            conn,
            session_id,
            ended_at=now if last is None else last["sampled_at"],
            meter_start_wh=meter_start,
            meter_stop_wh=meter_stop,
            energy_wh=energy,
            reason=reason,
            now=now,
        )
        await enqueue_billing(conn, session_id, at=now)
        closed = await store.get(conn, session_id)
    log.info("session_closed_by_operator", session_id=session_id, energy_wh=energy)
    assert closed is not None
    return closed
