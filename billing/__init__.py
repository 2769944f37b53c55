"""Pure pricing and checking: tariffs, session energy, SoC cross-check, invoices.

No I/O, no clock, no randomness: everything a bill depends on is passed in. Imports
neither ``csms`` nor ``smartcar_bridge``.

Modules, one concept each:

- ``tariff``: the OCPI 2.2.1 tariff model and ``parse_tariff``
- ``restrictions``: when a tariff element is active
- ``model``: the session to price (meter readings, SoC polls, connector status)
- ``energy``: session energy from meter readings, with named corrections
- ``series``: energy, power, current and status over the session
- ``periods``: the session split into charging periods, each dimension priced
- ``invoice``: lines, step rounding, min/max price, VAT, the rounded total
- ``crosscheck``: metered energy against the car's SoC
- ``money``: Decimal amounts, minor units, ROUND_HALF_UP once
- ``bill``: ``price_session``, the one function the bill and the preview call
- ``hold``: the card hold sized from the car's SoC gap
- ``payments``: the payment provider interface, idempotency keys, what a verdict does to
  the payment (imported as ``billing.payments``; adapters live in ``csms.payments``)
- ``errors``: the BillingError tree
"""

from billing.bill import PricedSession, price_session
from billing.crosscheck import Crosscheck, CrosscheckConfig, Verdict
from billing.energy import EnergyPoint, SessionEnergy, session_energy
from billing.errors import BillingError, SessionError, TariffError, TariffNotApplicable
from billing.hold import HoldPolicy, hold_amount
from billing.invoice import Invoice, InvoiceLine, VatAmount
from billing.model import (
    ConnectorStatusChange,
    CurrentType,
    Flag,
    MeterReading,
    SessionInput,
    SocPoll,
)
from billing.money import (
    from_minor_units,
    minor_unit_exponent,
    round_amount,
    to_minor_units,
)
from billing.periods import ChargingPeriod, PricedDimension
from billing.tariff import (
    DayOfWeek,
    DimensionType,
    Price,
    PriceComponent,
    Restrictions,
    Tariff,
    TariffElement,
    parse_tariff,
)

__all__ = [
    "BillingError",
    "ChargingPeriod",
    "ConnectorStatusChange",
    "Crosscheck",
    "CrosscheckConfig",
    "CurrentType",
    "DayOfWeek",
    "DimensionType",
    "EnergyPoint",
    "Flag",
    "HoldPolicy",
    "Invoice",
    "InvoiceLine",
    "MeterReading",
    "Price",
    "PriceComponent",
    "PricedDimension",
    "PricedSession",
    "Restrictions",
    "SessionEnergy",
    "SessionError",
    "SessionInput",
    "SocPoll",
    "Tariff",
    "TariffElement",
    "TariffError",
    "TariffNotApplicable",
    "VatAmount",
    "Verdict",
    "from_minor_units",
    "hold_amount",
    "minor_unit_exponent",
    "parse_tariff",
    "price_session",
    "round_amount",
    "session_energy",
    "to_minor_units",
]
