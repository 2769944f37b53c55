"""OCPP 2.0.1 transactions: one TransactionEvent, one database transaction.

The charger owns the transaction id and numbers its events with ``seqNo``; a re-sent event
(same transaction and seqNo) changes nothing and gets the same kind of answer. A
transaction we first hear of through an Updated event is opened from it (its Started was
lost); one we first hear of through an Ended event is kept as an orphaned session. Events
replayed from the charger's offline queue (``offline``) mark the session.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from csms import authorization
from csms.clock import Clock
from csms.commit import Committer
from csms.events import AuthorizationStatus, IdTokenInfo, TransactionEventReceived
from csms.invoicing import enqueue_billing
from csms.logs import get_logger
from csms.plugcharge.hooks import PlugHooks
from csms.store import id_tokens
from csms.store import reservations as reservation_store
from csms.store import sessions as session_store
from csms.store import transaction_events as store

__all__ = ["TransactionEventService"]

log = get_logger(__name__)

NO_AUTHORIZATION = "NoAuthorization"


class TransactionEventService:
    def __init__(self, clock: Clock, commit: Committer, *, plug: PlugHooks | None = None) -> None:
        self._clock = clock
        self._commit = commit
        self._plug = plug

    async def handle(
        self, charge_point_id: str, protocol: str, event: TransactionEventReceived
    ) -> IdTokenInfo | None:
        """Apply one event; return the id token's status when the event carries a token."""

        async def work(conn: asyncpg.Connection) -> IdTokenInfo | None:
            token_row = None
            info: IdTokenInfo | None = None
            if event.id_token is not None:
                if event.id_token_type == NO_AUTHORIZATION:
                    # Free charging or a start button: accepted, never aborted by us.
                    info = IdTokenInfo(AuthorizationStatus.ACCEPTED)
                else:
                    token_row = await id_tokens.lookup(conn, event.id_token)
                    info = authorization.decide(token_row, self._clock())
            session = await store.lock_session(conn, charge_point_id, event.transaction_id)
            if session is None:
                status = "orphaned" if event.event_type == "Ended" else "active"
                session = await store.insert_session(
                    conn,
                    charge_point_id=charge_point_id,
                    protocol=protocol,
                    event=event,
                    status=status,
                )
                if event.event_type != "Started":
                    log.warning(
                        "transaction_first_seen_late",
                        transaction_id=event.transaction_id,
                        event_type=event.event_type,
                        seq_no=event.seq_no,
                    )
            if not await store.insert_event(
                conn, charge_point_id=charge_point_id, session_id=session["id"], event=event
            ):
                log.info(
                    "transaction_event_replayed",
                    transaction_id=event.transaction_id,
                    seq_no=event.seq_no,
                )
                return info
            await session_store.insert_samples(
                conn,
                charge_point_id=charge_point_id,
                session_id=session["id"],
                evse_id=event.evse_id or session["evse_id"] or 0,
                connector_id=event.connector_id or session["connector_id"] or 0,
                transaction_id=event.transaction_id,
                samples=event.samples,
            )
            changes = self._changes(session, event, info, token_row)
            if "reservation_id" in changes:
                await reservation_store.set_status(
                    conn,
                    charge_point_id,
                    changes["reservation_id"],
                    "used",
                    session_id=session["id"],
                )
            if event.event_type == "Ended" and session["closed_by_operator_at"] is not None:
                # Closed by the operator before this Ended arrived: billed once already;
                # keep the billed values, record the charger's beside them.
                for key in ("ended_at", "stop_reason", "status"):
                    changes.pop(key, None)
                bounds = await store.register_bounds(conn, session["id"])
                await session_store.record_charger_stop(
                    conn,
                    session["id"],
                    ended_at=event.occurred_at,
                    meter_stop_wh=bounds["last_wh"],
                    reason=event.stopped_reason or "Local",
                    differs=bounds["last_wh"] != session["meter_stop_wh"],
                )
                log.info("late_stop_reconciled", transaction_id=event.transaction_id)
            elif (event.samples and session["meter_start_wh"] is None) or (
                event.event_type == "Ended"
            ):
                # The start register is needed once (the first readings); the end recomputes
                # both bounds, so periodic Updated events skip this query.
                bounds = await store.register_bounds(conn, session["id"])
                if bounds["first_wh"] is not None:
                    changes["meter_start_wh"] = bounds["first_wh"]
                if event.event_type == "Ended" and bounds["last_wh"] is not None:
                    changes["meter_stop_wh"] = bounds["last_wh"]
                    if bounds["first_wh"] is not None:
                        energy = bounds["last_wh"] - bounds["first_wh"]
                        changes["energy_wh"] = energy if energy >= 0 else None
            await store.update_session(conn, session["id"], changes)
            if self._plug is not None and event.event_type != "Ended":
                await self._plug.transaction_plug(
                    conn,
                    charge_point_id,
                    evse_id=event.evse_id or session["evse_id"],
                    connector_id=event.connector_id or session["connector_id"],
                    trigger=event.trigger_reason,
                    at=event.occurred_at,
                    id_token=event.id_token,
                    id_token_type=event.id_token_type,
                    has_session_token=session["id_token"] is not None,
                    token_assigned="id_token" in changes,
                    session_id=session["id"],
                )
            if changes.get("status") == "completed":
                await enqueue_billing(conn, session["id"], at=self._clock())
            return info

        info = await self._commit.run(work)
        log.info(
            "transaction_event",
            transaction_id=event.transaction_id,
            event_type=event.event_type,
            seq_no=event.seq_no,
            trigger_reason=event.trigger_reason,
            offline=event.offline,
        )
        return info

    @staticmethod
    def _changes(
        session: dict[str, Any],
        event: TransactionEventReceived,
        info: IdTokenInfo | None,
        token_row: dict[str, Any] | None,
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        newest = session["last_seq_no"] is None or event.seq_no > session["last_seq_no"]
        if newest:
            changes["last_seq_no"] = event.seq_no
            if event.charging_state is not None:
                changes["charging_state"] = event.charging_state
        if event.offline and not session["offline_events"]:
            changes["offline_events"] = True
        if session["evse_id"] is None and event.evse_id is not None:
            changes["evse_id"] = event.evse_id
            changes["connector_id"] = event.connector_id
        if event.event_type == "Started" and session["started_at"] is None:
            changes["started_at"] = event.occurred_at
        if event.remote_start_id is not None and session["remote_start_id"] is None:
            changes["remote_start_id"] = event.remote_start_id
        if event.reservation_id is not None and session["reservation_id"] is None:
            changes["reservation_id"] = event.reservation_id
        replaceable = session["id_token"] is None or (
            session["id_token_status"] != AuthorizationStatus.ACCEPTED.value
            and info is not None
            and info.status is AuthorizationStatus.ACCEPTED
            and not PlugHooks.identifies_car(event.id_token, event.id_token_type)
        )
        if info is not None and event.id_token is not None and replaceable:
            # The first token that arrives (possibly in an Updated event) owns the session;
            # a token that was not accepted (a car's MAC) only until an accepted one arrives.
            changes["id_token"] = event.id_token
            changes["id_token_status"] = info.status.value
            changes["account_id"] = None if token_row is None else token_row["account_id"]
        if event.event_type == "Ended":
            if session["status"] == "active":
                changes["status"] = "completed"
            changes["ended_at"] = event.occurred_at
            changes["stop_reason"] = event.stopped_reason or "Local"
        return changes
