"""A billing test bench on a real database: the session service ends sessions, the worker
runs the billing and payment jobs, the payment provider is the simulated one (steerable)
or any other handed in. Only the clock and the provider are fakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from billing.payments import PaymentProvider
from csms.billing_inputs import VehicleEvidence
from csms.commit import DirectCommit
from csms.corrections import Corrections
from csms.events import MeterSample, TransactionEnded, TransactionStarted
from csms.invoicing import BillingPolicy, Invoicing
from csms.payments import SimulatedProvider
from csms.sessions import SessionService
from csms.settlement import SettlementService
from csms.store import Row, accounts, charge_points, id_tokens, tariffs
from csms.worker import Worker
from tests.conftest import FakeClock

# T1 of billing-domain.md section 7: ENERGY 0.25 (vat 10, step 1).
T1: dict[str, Any] = {
    "country_code": "DE",
    "party_id": "CPO",
    "id": "T1",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10, "step_size": 1}]}
    ],
}
# T2: FLAT 0.50 (vat 20) + ENERGY 0.25 (vat 10).
T2: dict[str, Any] = {
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 20}]},
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10}]},
    ],
}
# V01's day: Tuesday 2024-06-04, 10:00-11:49 UTC.
V01_START = datetime(2024, 6, 4, 10, 0, tzinfo=UTC)


def register(at: datetime, wh: int, context: str = "Sample.Periodic") -> MeterSample:
    return MeterSample(
        sampled_at=at,
        measurand="Energy.Active.Import.Register",
        phase="",
        location="Outlet",
        context=context,
        format="Raw",
        unit="Wh",
        value=str(wh),
        value_numeric=Decimal(wh),
        energy_wh=wh,
    )


@dataclass
class Bench:
    pool: asyncpg.Pool
    clock: FakeClock
    provider: PaymentProvider
    policy: BillingPolicy
    invoicing: Invoicing
    settlement: SettlementService
    corrections: Corrections
    sessions: SessionService
    worker: Worker
    tokens: dict[str, int] = field(default_factory=dict)
    cars: dict[int, VehicleEvidence] = field(default_factory=dict)
    """What the car reported, per session id (none: the cross-check is INCONCLUSIVE)."""

    @property
    def simulated(self) -> SimulatedProvider:
        assert isinstance(self.provider, SimulatedProvider)
        return self.provider

    async def charger(self, charge_point_id: str = "CP-1", time_zone: str = "UTC") -> None:
        async with self.pool.acquire() as conn:
            await charge_points.insert(
                conn,
                charge_point_id=charge_point_id,
                password_hash="x",
                protocol="ocpp1.6",
                latitude=None,
                longitude=None,
                time_zone=time_zone,
            )

    async def account(
        self,
        tag: str = "TAG-1",
        *,
        customer: str | None = "cus_1",
        method: str | None = "pm_card_visa",
    ) -> int:
        async with self.pool.acquire() as conn:
            row = await accounts.insert(conn, name="Driver", email=None, status="active")
            await accounts.update(
                conn, row["id"], {"payment_customer_id": customer, "payment_method_id": method}
            )
            await id_tokens.insert(
                conn,
                {
                    "id_token": tag,
                    "type": "ISO14443",
                    "status": "Accepted",
                    "account_id": row["id"],
                },
            )
        self.tokens[tag] = row["id"]
        account_id: int = row["id"]
        return account_id

    async def tariff(
        self,
        document: dict[str, Any],
        *,
        default: bool = True,
        charge_point_id: str | None = None,
    ) -> int:
        from billing import parse_tariff

        parsed = parse_tariff(document)
        async with self.pool.acquire() as conn:
            row = await tariffs.insert(
                conn,
                {
                    "document": document,
                    "currency": parsed.currency,
                    "ocpi_id": parsed.id,
                    "valid_from": parsed.start_date_time,
                    "valid_to": parsed.end_date_time,
                    "is_default": default,
                },
            )
            if charge_point_id is not None:
                await tariffs.assign(conn, charge_point_id, row["id"])
        tariff_id: int = row["id"]
        return tariff_id

    async def start(
        self, tag: str = "TAG-1", *, at: datetime = V01_START, meter_start: int = 1_000_000
    ) -> str:
        outcome = await self.sessions.start(
            "CP-1",
            "ocpp1.6",
            TransactionStarted(
                evse_id=1,
                connector_id=1,
                id_token=tag,
                meter_start_wh=meter_start,
                started_at=at,
            ),
        )
        return outcome.transaction_id

    async def sample(self, transaction_id: str, at: datetime, wh: int) -> None:
        await self.sessions.meter_values(
            "CP-1",
            evse_id=1,
            connector_id=1,
            transaction_id=transaction_id,
            samples=[register(at, wh)],
        )

    async def stop(self, transaction_id: str, *, at: datetime, meter_stop: int) -> None:
        await self.sessions.stop(
            "CP-1",
            "ocpp1.6",
            TransactionEnded(
                transaction_id=transaction_id,
                meter_stop_wh=meter_stop,
                ended_at=at,
                reason="Local",
                id_token=None,
            ),
        )

    async def session(
        self,
        tag: str = "TAG-1",
        *,
        energy_wh: int = 20_000,
        start: datetime = V01_START,
        minutes: int = 109,
        meter_start: int = 1_000_000,
    ) -> int:
        """A completed 1.6 session (V01's shape by default: 20 kWh in 109 minutes)."""
        tx = await self.start(tag, at=start, meter_start=meter_start)
        half = start + timedelta(minutes=minutes // 2)
        await self.sample(tx, half, meter_start + energy_wh // 2)
        await self.stop(
            tx, at=start + timedelta(minutes=minutes), meter_stop=meter_start + energy_wh
        )
        return await self.session_id(tx)

    async def session_id(self, transaction_id: str) -> int:
        value: int = await self.pool.fetchval(
            "SELECT id FROM sessions WHERE transaction_id = $1", transaction_id
        )
        return value

    async def drain(self, limit: int = 50) -> int:
        """Run due jobs until none is due; return how many ran."""
        ran = 0
        while ran < limit and await self.worker.run_once():
            ran += 1
        return ran

    async def invoice(self, session_id: int) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            "SELECT * FROM invoices WHERE session_id = $1 AND kind = 'invoice'", session_id
        )
        assert row is not None
        return row

    async def payment(self, session_id: int) -> asyncpg.Record:
        row = await self.pool.fetchrow("SELECT * FROM payments WHERE session_id = $1", session_id)
        assert row is not None
        return row

    async def attempts(self, session_id: int) -> list[tuple[str, str | None, str]]:
        rows = await self.pool.fetch(
            """SELECT a.operation, a.idempotency_key, a.outcome FROM payment_attempts a
               JOIN payments p ON p.id = a.payment_id WHERE p.session_id = $1 ORDER BY a.id""",
            session_id,
        )
        return [(r["operation"], r["idempotency_key"], r["outcome"]) for r in rows]

    async def jobs(self) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                "SELECT kind, dedupe_key, status, attempts, run_at FROM jobs ORDER BY id"
            )
        )


def make_bench(
    pool: asyncpg.Pool,
    clock: FakeClock,
    provider: PaymentProvider | None = None,
    **policy: Any,
) -> Bench:
    provider = provider or SimulatedProvider()
    billing_policy = BillingPolicy(provider=provider.name, **policy)
    cars: dict[int, VehicleEvidence] = {}

    async def evidence(conn: asyncpg.Connection, session: Row) -> VehicleEvidence:
        return cars.get(session["id"], VehicleEvidence())

    invoicing = Invoicing(pool, clock, billing_policy, evidence=evidence)
    settlement = SettlementService(pool, clock, provider, billing_policy)
    worker = Worker(
        pool,
        clock,
        {**invoicing.handlers(), **settlement.handlers()},
        base_backoff_s=10,
    )
    return Bench(
        pool=pool,
        clock=clock,
        provider=provider,
        policy=billing_policy,
        invoicing=invoicing,
        settlement=settlement,
        corrections=Corrections(pool, clock, billing_policy),
        sessions=SessionService(pool, clock, DirectCommit(pool)),
        worker=worker,
        cars=cars,
    )
