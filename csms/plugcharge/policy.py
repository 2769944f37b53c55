"""Plug-and-charge rules that need no I/O: the settings they come from, the hold size, the
SoC estimate between polls, when the mid-session guard is due, and the call budgets.

References: billing-domain.md 3.4 (guard), 4.2 (matching), 5.2 (hold), 5.3 (cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import billing
from csms.config import Settings
from csms.matching import MatchConfig

__all__ = [
    "BATTERY_CALLS",
    "COMMAND_CALLS",
    "LOCATION_CALLS",
    "SNAPSHOT_CALLS",
    "PncConfig",
    "TariffRates",
    "energy_to_target_wh",
    "estimated_soc",
    "guard_due",
    "hold_minor",
    "tariff_rates",
]

SNAPSHOT_CALLS = 2  # /battery + /charge (a v2 batch counts each path)
LOCATION_CALLS = 1
BATTERY_CALLS = 1
COMMAND_CALLS = 1
# The lowest meter-to-battery efficiency (AC below 7 kW, ref 3.4): the hold must cover the
# worst case, the SoC estimate the typical one.
ETA_MIN = Decimal("0.72")


def _webhooks(settings: Settings) -> bool:
    secret = settings.smartcar_webhook_secret
    return secret is not None and bool(secret.get_secret_value())


@dataclass(frozen=True)
class PncConfig:
    match: MatchConfig
    repoll_after: timedelta
    first_poll_after: timedelta
    max_rounds: int
    session_call_budget: int
    guard_after: timedelta
    guard_wh: int
    watch_interval: timedelta
    car_check_after: timedelta
    start_timeout: timedelta
    end_retry: timedelta
    end_tries: int
    tag_confirmations: int
    efficiency: Decimal

    @classmethod
    def from_settings(cls, settings: Settings) -> PncConfig:
        return cls(
            match=MatchConfig(
                poll_budget_calls=settings.pnc_poll_budget_calls,
                calls_per_vehicle=(SNAPSHOT_CALLS + LOCATION_CALLS) * settings.pnc_max_rounds,
                poll_unknown_positions=settings.pnc_poll_unknown_positions,
            ),
            repoll_after=timedelta(seconds=settings.pnc_repoll_after_s),
            first_poll_after=timedelta(
                seconds=max(
                    settings.pnc_first_poll_after_s,
                    settings.pnc_webhook_grace_s if _webhooks(settings) else 0,
                )
            ),
            max_rounds=settings.pnc_max_rounds,
            session_call_budget=settings.pnc_session_call_budget,
            guard_after=timedelta(seconds=settings.pnc_guard_after_s),
            guard_wh=settings.pnc_guard_wh,
            watch_interval=timedelta(seconds=settings.pnc_watch_interval_s),
            car_check_after=timedelta(seconds=settings.pnc_car_check_after_s),
            start_timeout=timedelta(seconds=settings.pnc_start_timeout_s),
            end_retry=timedelta(seconds=settings.pnc_end_retry_s),
            end_tries=settings.pnc_end_tries,
            tag_confirmations=settings.pnc_tag_confirmations,
            efficiency=Decimal(str(settings.pnc_charging_efficiency)),
        )


@dataclass(frozen=True)
class TariffRates:
    """What a tariff costs gross (VAT included) per kWh and per session, for the hold."""

    currency: str
    per_kwh: Decimal
    flat: Decimal
    per_hour: Decimal
    max_price: Decimal | None


def _gross(component: billing.PriceComponent) -> Decimal:
    return component.price * (1 + (component.vat or Decimal(0)) / 100)


def tariff_rates(tariff: billing.Tariff) -> TariffRates:
    """The most expensive energy, flat and time price of any element: a hold sized from
    them covers whichever element applies."""
    per_kwh = flat = per_hour = Decimal(0)
    for element in tariff.elements:
        for component in element.price_components:
            gross = _gross(component)
            if component.type is billing.DimensionType.ENERGY:
                per_kwh = max(per_kwh, gross)
            elif component.type is billing.DimensionType.FLAT:
                flat = max(flat, gross)
            elif component.type in (
                billing.DimensionType.TIME,
                billing.DimensionType.PARKING_TIME,
            ):
                per_hour = max(per_hour, gross)
    cap = None
    if tariff.max_price is not None:
        cap = tariff.max_price.incl_vat or tariff.max_price.excl_vat
    return TariffRates(tariff.currency, per_kwh, flat, per_hour, cap)


def hold_minor(
    rates: TariffRates,
    *,
    soc_now_percent: Decimal | None,
    target_percent: int,
    capacity_kwh: Decimal | None,
    spending_cap_minor: int | None,
    exponent: int,
) -> int:
    """The hold in minor units (ref 5.2): the energy to the target at the worst efficiency,
    plus flat fees and two hours of time-based fees, rounded up to 5 units and clamped to
    10..100 (and the tariff's max_price). Without SoC or capacity the ceiling is held. A
    spending cap lowers it to the cap plus 10%: the session stops at the cap."""
    policy = billing.HoldPolicy()
    if soc_now_percent is None or capacity_kwh is None:
        amount = policy.maximum if rates.max_price is None else min(policy.maximum, rates.max_price)
    else:
        amount = billing.hold_amount(
            soc_now=soc_now_percent / 100,
            target_soc=Decimal(target_percent) / 100,
            capacity_kwh=capacity_kwh,
            eta_min=ETA_MIN,
            gross_price_per_kwh=rates.per_kwh,
            flat_fees_gross=rates.flat,
            parking_cap_gross=rates.per_hour * 2,
            max_price_gross=rates.max_price,
            policy=policy,
        )
    minor = int((amount * 10**exponent).to_integral_value(rounding=ROUND_CEILING))
    if spending_cap_minor is not None:
        # The session stops at the cap, checked every watch interval: 10% covers what
        # flows until the stop lands.
        minor = min(minor, -(-spending_cap_minor * 11 // 10))
    return minor


def estimated_soc(
    soc_percent: Decimal, metered_wh: int, capacity_kwh: Decimal, efficiency: Decimal
) -> Decimal:
    """The car's SoC after ``metered_wh`` more left the charger (between polls)."""
    return soc_percent + Decimal(metered_wh) * efficiency / (capacity_kwh * 10)


def energy_to_target_wh(
    soc_percent: Decimal, target_percent: int, capacity_kwh: Decimal, efficiency: Decimal
) -> int:
    """Metered Wh until the estimate reaches the target (0 when it is there already)."""
    gap = max(Decimal(0), Decimal(target_percent) - soc_percent)
    return int((gap * capacity_kwh * 10 / efficiency).to_integral_value(rounding=ROUND_CEILING))


def guard_due(started_at: datetime, now: datetime, metered_wh: int, config: PncConfig) -> bool:
    """The mid-session guard (ref 3.4): after 10 min or 1 kWh, whichever comes first."""
    return metered_wh >= config.guard_wh or now - started_at >= config.guard_after
