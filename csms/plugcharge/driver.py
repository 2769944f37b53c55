"""Starting a matched car's session: the account checks, the SoC reading the hold is sized
from, the card hold, and the charger's start with the account's id token
(``pnc_start``); giving up on attempts that never started (``pnc_expire``) and releasing
their hold (``pnc_release``).

Only an active account with a payment method whose hold succeeds is started (issue 7.1):
anything else ends the attempt as ``declined`` with the reason, and nothing is sent to the
charger, which then waits for ordinary authorisation.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

import asyncpg

import billing
from billing.payments import (
    HoldRequest,
    PaymentDeclined,
    PaymentMethod,
    PaymentProvider,
    PaymentRejected,
)
from csms import command_models as m
from csms.clock import Clock
from csms.commands import CommandService
from csms.errors import CsmsError
from csms.logs import get_logger
from csms.payment_attempts import recorded_call
from csms.plugcharge import hooks
from csms.plugcharge.policy import SNAPSHOT_CALLS, PncConfig, TariffRates, hold_minor, tariff_rates
from csms.plugcharge.reads import CarReader, session_ref
from csms.store import accounts, tariffs, vehicles
from csms.store import payments as payment_store
from csms.store import plug_attempts as store

__all__ = ["Starter"]

log = get_logger(__name__)


class _Declined(Exception):
    pass


class _Gone(Exception):
    """The attempt stopped waiting for its start (unplugged, superseded, expired)."""


def _refusal(account: dict[str, Any] | None, car: dict[str, Any] | None) -> str | None:
    """Why the account may not charge (issue 7.1), or None."""
    if account is None or account["status"] != "active":
        return f"the account is {'gone' if account is None else account['status']}"
    if not account["payment_method_id"]:
        return "the account has no payment method on file"
    if car is None:
        return "the matched car is no longer linked"
    return None


class Starter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        reader: CarReader,
        commands: CommandService,
        provider: PaymentProvider,
        config: PncConfig,
        *,
        currency: str,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._reader = reader
        self._commands = commands
        self._provider = provider
        self._config = config
        self._currency = currency

    # --- pnc_start ----------------------------------------------------------------------

    async def start(self, payload: dict[str, Any]) -> None:
        attempt_id = int(payload["attempt_id"])
        async with self._pool.acquire() as conn:
            attempt = await store.get(conn, attempt_id)
            if attempt is None or attempt["status"] != "starting":
                return
            account = await accounts.get(conn, attempt["account_id"])
            car = await vehicles.get(conn, attempt["vehicle_id"])
            tariff = await tariffs.applicable(conn, attempt["charge_point_id"], self._clock())
        refusal = _refusal(account, car)
        if refusal is not None:
            await self._end(attempt_id, "declined", refusal, release=False)
            return
        assert account is not None
        assert car is not None
        try:
            token = await self._prepare(attempt, account, car, tariff)
        except _Declined as exc:
            await self._end(attempt_id, "declined", str(exc), release=False)
            return
        except _Gone:
            return
        await self._remote_start(attempt, token)

    async def _prepare(
        self,
        attempt: dict[str, Any],
        account: dict[str, Any],
        car: dict[str, Any],
        tariff: dict[str, Any] | None,
    ) -> str:
        """SoC at the start, the hold, and the account's token: all before the charger is
        asked to start (a fast charger's StartTransaction must find the attempt ready)."""
        soc = None
        if await self._reader.spent(session_ref(attempt["id"])) + SNAPSHOT_CALLS <= (
            self._config.session_call_budget
        ):
            reading = await self._reader.read(attempt, car, "start", ref=session_ref(attempt["id"]))
            soc = reading.soc_percent
        rates = (
            tariff_rates(billing.parse_tariff(tariff["document"]))
            if tariff is not None
            else TariffRates(self._currency, Decimal(0), Decimal(0), Decimal(0), None)
        )
        capacity = car["battery_capacity_kwh"]
        amount = hold_minor(
            rates,
            soc_now_percent=soc,
            target_percent=account["target_soc_percent"],
            capacity_kwh=None if capacity is None else Decimal(capacity),
            spending_cap_minor=account["spending_cap_minor"],
            exponent=billing.minor_unit_exponent(rates.currency),
        )
        held = await self._hold(attempt, account, rates.currency, amount)
        async with self._pool.acquire() as conn, conn.transaction():
            current = await store.get(conn, attempt["id"], lock=True)
            if current is None or current["status"] != "starting":
                # Unplugged or started otherwise while the card was held: let it go (an
                # earlier release found no hold yet, hence its own key).
                await hooks.enqueue(
                    conn, hooks.RELEASE, attempt["id"], at=self._clock(), key=":after-hold"
                )
                raise _Gone
            token = await accounts.ensure_start_token(
                conn, account["id"], "PNC" + secrets.token_hex(8).upper()
            )
            await store.update(
                conn,
                attempt["id"],
                {
                    "start_id_token": token,
                    "hold_minor": held,
                    "currency": rates.currency,
                    "target_soc_percent": account["target_soc_percent"],
                    "spending_cap_minor": account["spending_cap_minor"],
                },
                note={"at": self._clock(), "event": "hold_placed", "amount_minor": held},
            )
        return token

    async def _hold(
        self, attempt: dict[str, Any], account: dict[str, Any], currency: str, amount: int
    ) -> int:
        async with self._pool.acquire() as conn:
            payment = await payment_store.ensure_for_attempt(
                conn,
                attempt_id=attempt["id"],
                account_id=account["id"],
                provider=self._provider.name,
                currency=currency,
            )
        if payment["status"] == "held":
            held: int = payment["held_minor"]
            return held
        key = f"pi:create:pnc:{attempt['id']}:{payment['intent']}"
        request = HoldRequest(
            amount_minor=amount,
            currency=currency,
            method=PaymentMethod(account["payment_customer_id"], account["payment_method_id"]),
            idempotency_key=key,
            description=f"Plug-and-charge at {attempt['charge_point_id']}",
            metadata={
                "plug_attempt": str(attempt["id"]),
                "vin": attempt["vin"] or "",
                "charge_point_id": attempt["charge_point_id"],
                "evse_id": str(attempt["evse_id"]),
            },
        )
        try:
            state = await recorded_call(
                self._pool,
                self._clock,
                payment,
                "hold",
                lambda: self._provider.place_hold(request),
                key=key,
                amount_minor=amount,
            )
        except (PaymentDeclined, PaymentRejected) as exc:
            async with self._pool.acquire() as conn:
                await payment_store.update(
                    conn,
                    payment["id"],
                    {
                        "status": "failed",
                        "declines": payment["declines"] + 1,
                        "last_error": exc.message,
                    },
                )
            raise _Declined(
                f"the card hold was declined ({exc.code or 'declined'}): {exc.message}"
            ) from exc
        async with self._pool.acquire() as conn:
            await payment_store.update(
                conn,
                payment["id"],
                {
                    "provider_ref": state.provider_ref,
                    "status": "held",
                    "held_minor": state.capturable_minor or amount,
                    "last_error": None,
                },
            )
        return state.capturable_minor or amount

    async def _remote_start(self, attempt: dict[str, Any], token: str) -> None:
        body = m.RemoteStart(connector_id=attempt["evse_id"], id_token=token)
        try:
            reply = await self._commands.execute(attempt["charge_point_id"], "remote-start", body)
        except CsmsError as exc:
            await self._end(
                attempt["id"], "failed", f"remote start not delivered: {exc}", release=True
            )
            return
        if reply.get("status") != "Accepted":
            await self._end(
                attempt["id"], "failed", f"the charger answered {reply.get('status')}", release=True
            )
            return
        async with self._pool.acquire() as conn:
            await store.update(
                conn,
                attempt["id"],
                {},
                note={"at": self._clock(), "event": "remote_start_accepted"},
            )
        log.info("plug_and_charge_start_sent", attempt_id=attempt["id"])

    async def _end(self, attempt_id: int, status: str, reason: str, *, release: bool) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            current = await store.get(conn, attempt_id, lock=True)
            if release:  # whatever became of the attempt meanwhile, no session uses this hold
                await hooks.enqueue(
                    conn, hooks.RELEASE, attempt_id, at=self._clock(), key=":not-started"
                )
            if current is None or current["status"] != "starting":
                return
            await store.update(
                conn,
                attempt_id,
                {"status": status, "reason": reason},
                note={"at": self._clock(), "event": status, "reason": reason},
            )
        log.warning(
            "plug_and_charge_not_started", attempt_id=attempt_id, status=status, reason=reason
        )

    # --- pnc_expire and pnc_release -----------------------------------------------------

    async def expire(self, payload: dict[str, Any]) -> None:
        attempt_id = int(payload["attempt_id"])
        async with self._pool.acquire() as conn, conn.transaction():
            attempt = await store.get(conn, attempt_id, lock=True)
            if attempt is None or attempt["status"] not in store.OPEN:
                return
            reason = "no session started in time"
            await store.update(
                conn,
                attempt_id,
                {"status": "abandoned", "reason": reason},
                note={"at": self._clock(), "event": "expired"},
            )
            await hooks.enqueue(conn, hooks.RELEASE, attempt_id, at=self._clock())

    async def release(self, payload: dict[str, Any]) -> None:
        """Cancel the hold of an attempt that did not lead to a session."""
        attempt_id = int(payload["attempt_id"])
        async with self._pool.acquire() as conn:
            attempt = await store.get(conn, attempt_id)
            payment = await payment_store.of_attempt(conn, attempt_id)
        if attempt is None or attempt["status"] in ("starting", "charging", "ended", "done"):
            return  # still waiting for its session, or has one: the bill settles the hold
        if payment is None or payment["status"] != "held" or payment["session_id"] is not None:
            return
        key = f"pi:cancel:pnc:{attempt_id}:{payment['intent']}"
        await recorded_call(
            self._pool,
            self._clock,
            payment,
            "cancel",
            lambda: self._provider.cancel(payment["provider_ref"], idempotency_key=key),
            key=key,
        )
        async with self._pool.acquire() as conn:
            await payment_store.update(conn, payment["id"], {"status": "canceled", "held_minor": 0})
        log.info("plug_and_charge_hold_released", attempt_id=attempt_id)
