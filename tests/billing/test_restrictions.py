"""Tariff restrictions and the charging periods they open."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing import Flag, Restrictions, price_session
from billing.restrictions import Moment, matches
from billing.tariff import DayOfWeek
from tests.billing.conftest import (
    B,
    E,
    P,
    at,
    component,
    current,
    element,
    session,
    tariff,
)


def moment(
    local: datetime = datetime(2024, 6, 4, 12, 0),  # noqa: DTZ001 - a local wall time
    *,
    elapsed: str = "0",
    kwh: str = "0",
    kw: str = "0",
    amps: str | None = None,
) -> Moment:
    return Moment(
        local=local,
        elapsed_s=Decimal(elapsed),
        energy_wh=Decimal(kwh) * 1000,
        power_kw=Decimal(kw),
        current_a=None if amps is None else Decimal(amps),
    )


def wall(hour: int, minute: int = 0, day: int = 4) -> datetime:
    return datetime(2024, 6, day, hour, minute)  # noqa: DTZ001 - a local wall time


MATCHES = {
    "no restrictions": (Restrictions(), moment(), True),
    "inside 09:00-18:00": (
        Restrictions(start_time=time(9), end_time=time(18)),
        moment(wall(9)),
        True,
    ),
    "end time is exclusive": (
        Restrictions(start_time=time(9), end_time=time(18)),
        moment(wall(18)),
        False,
    ),
    "22:00-06:00 wraps: 23:00": (
        Restrictions(start_time=time(22), end_time=time(6)),
        moment(wall(23)),
        True,
    ),
    "22:00-06:00 wraps: 05:59": (
        Restrictions(start_time=time(22), end_time=time(6)),
        moment(wall(5, 59)),
        True,
    ),
    "22:00-06:00 wraps: 12:00": (
        Restrictions(start_time=time(22), end_time=time(6)),
        moment(wall(12)),
        False,
    ),
    "end 00:00 is end of day": (
        Restrictions(start_time=time(17), end_time=time(0)),
        moment(wall(23, 59)),
        True,
    ),
    "end 00:00 excludes morning": (
        Restrictions(start_time=time(17), end_time=time(0)),
        moment(wall(1)),
        False,
    ),
    "day of week (Tuesday)": (
        Restrictions(day_of_week=frozenset({DayOfWeek.TUESDAY})),
        moment(),
        True,
    ),
    "day of week (not Monday)": (
        Restrictions(day_of_week=frozenset({DayOfWeek.MONDAY})),
        moment(),
        False,
    ),
    "start_date inclusive": (Restrictions(start_date=wall(0).date()), moment(), True),
    "end_date exclusive": (Restrictions(end_date=wall(0).date()), moment(), False),
    "min_kwh inclusive": (Restrictions(min_kwh=Decimal(10)), moment(kwh="10"), True),
    "max_kwh exclusive": (Restrictions(max_kwh=Decimal(10)), moment(kwh="10"), False),
    "min_power inclusive": (Restrictions(min_power=Decimal(22)), moment(kw="22"), True),
    "max_power exclusive": (Restrictions(max_power=Decimal(22)), moment(kw="22"), False),
    "min_current inclusive": (Restrictions(min_current=Decimal(32)), moment(amps="32"), True),
    "max_current exclusive": (Restrictions(max_current=Decimal(32)), moment(amps="32"), False),
    "unknown current never matches": (Restrictions(max_current=Decimal(32)), moment(), False),
    "min_duration inclusive": (Restrictions(min_duration=1800), moment(elapsed="1800"), True),
    "max_duration exclusive": (Restrictions(max_duration=1800), moment(elapsed="1800"), False),
}


@pytest.mark.parametrize(("restrictions", "when", "expected"), MATCHES.values(), ids=MATCHES.keys())
def test_matches(restrictions: Restrictions, when: Moment, expected: bool) -> None:
    assert matches(restrictions, when) is expected


NIGHT = tariff(
    element(component("ENERGY", "0.10", "0"), start_time="22:00", end_time="06:00"),
    element(component("ENERGY", "0.30", "0")),
)


def test_time_of_day_uses_the_chargers_zone() -> None:
    """19:00-21:00 UTC is 21:00-23:00 in Berlin (night from 22:00), 15:00-17:00 in New York."""
    readings = (B("0", at(19)), P("1000", at(20)), E("2000", at(21)))
    berlin = price_session(NIGHT, session(at(19), at(21), *readings))
    assert berlin.invoice.excl_vat == Decimal("0.40")
    assert [p.start for p in berlin.periods] == [at(19), at(20)]
    new_york = price_session(
        NIGHT, session(at(19), at(21), *readings, zone=ZoneInfo("America/New_York"))
    )
    assert new_york.invoice.excl_vat == Decimal("0.60")


def test_time_of_day_across_midnight() -> None:
    """23:00-01:00 Berlin stays in the 22:00-06:00 window; 17:00-00:00 ends at midnight."""
    readings = (B("0", at(21)), E("2000", at(23)))  # 23:00-01:00 local
    assert price_session(NIGHT, session(at(21), at(23), *readings)).invoice.excl_vat == Decimal(
        "0.20"
    )
    evening = tariff(
        element(component("ENERGY", "0.50", "0"), start_time="17:00", end_time="00:00"),
        element(component("ENERGY", "0.20", "0")),
    )
    priced = price_session(evening, session(at(21), at(23), *readings))
    assert priced.invoice.excl_vat == Decimal("0.50") + Decimal("0.20")
    assert [p.start for p in priced.periods] == [at(21), at(22)]


def test_split_exactly_at_a_dst_change() -> None:
    """Night 00:00-06:00 local on 2024-03-31 (CET -> CEST) lasts five real hours."""
    start = datetime(2024, 3, 30, 23, tzinfo=UTC)  # 00:00 CET
    end = datetime(2024, 3, 31, 5, tzinfo=UTC)  # 07:00 CEST
    cheap_night = tariff(
        element(component("ENERGY", "0.10", "0"), start_time="00:00", end_time="06:00"),
        element(component("ENERGY", "0.30", "0")),
    )
    priced = price_session(cheap_night, session(start, end, B("0", start), E("6000", end)))
    assert priced.invoice.excl_vat == 5 * Decimal("0.10") + Decimal("0.30")


def test_day_of_week_changes_at_local_midnight() -> None:
    """Sunday 23:30 to Monday 00:30 in Berlin: the weekend rate stops at local midnight."""
    weekend = tariff(
        element(component("ENERGY", "0.20", "0"), day_of_week=["SATURDAY", "SUNDAY"]),
        element(component("ENERGY", "0.40", "0")),
    )
    start, end = at(21, 30, day=9), at(22, 30, day=9)  # Sunday 23:30 local
    priced = price_session(weekend, session(start, end, B("0", start), E("2000", end)))
    assert priced.invoice.excl_vat == Decimal("0.20") + Decimal("0.40")
    assert priced.periods[1].start == at(22, day=9)


def test_min_and_max_kwh_split_at_the_interpolated_crossing() -> None:
    tiered = tariff(
        element(component("ENERGY", "0.20", "0"), max_kwh="10"),
        element(component("ENERGY", "0.40", "0"), min_kwh="10"),
    )
    priced = price_session(
        tiered, session(at(10), at(11, 30), B("0", at(10)), E("15000", at(11, 30)))
    )
    assert priced.invoice.excl_vat == 10 * Decimal("0.20") + 5 * Decimal("0.40")
    assert [p.energy_wh for p in priced.periods] == [10000, 5000]
    assert priced.periods[1].start == at(11)


def test_min_power() -> None:
    fast = tariff(
        element(component("ENERGY", "0.60", "0"), min_power="50"),
        element(component("ENERGY", "0.40", "0")),
    )
    readings = (B("0", at(10)), P("30000", at(10, 30)), E("35000", at(11)))  # 60 kW then 10 kW
    priced = price_session(fast, session(at(10), at(11), *readings, current_type="DC"))
    assert priced.invoice.excl_vat == 30 * Decimal("0.60") + 5 * Decimal("0.40")


def test_min_duration_prices_parking_after_the_first_hour() -> None:
    later = tariff(
        element(component("ENERGY", "0.30", "0")),
        element(component("PARKING_TIME", "2.00", "0"), min_duration=3600),
    )
    readings = (B("0", at(10)), P("5000", at(10, 30)), E("5000", at(11, 30)))
    priced = price_session(later, session(at(10), at(11, 30), *readings))
    assert priced.parking_time_s == 3600
    assert priced.invoice.excl_vat == Decimal("1.50") + Decimal("1.00")


def test_current_restrictions_without_current_samples_are_flagged() -> None:
    by_current = tariff(element(component("TIME", "1.00", "0"), max_current="32"))
    priced = price_session(by_current, session(at(10), at(11), B("0", at(10)), E("7000", at(11))))
    assert Flag.CURRENT_UNKNOWN in priced.flags
    assert priced.invoice.excl_vat == 0


def test_current_is_summed_over_phases() -> None:
    by_current = tariff(
        element(component("TIME", "1.00", "0"), max_current="32"),
        element(component("TIME", "2.00", "0"), min_current="32"),
    )
    readings = (
        B("0", at(10)),
        *(current("11", at(10), phase) for phase in ("L1", "L2", "L3")),
        E("22000", at(11)),
    )
    priced = price_session(by_current, session(at(10), at(11), *readings))
    assert priced.invoice.excl_vat == Decimal("2.00")


def test_connector_status_decides_charging_versus_parking() -> None:
    """The meter saw energy 10:00-11:00, but the car suspended at 10:30."""
    timed = tariff(
        element(component("TIME", "2.00", "0")),
        element(component("PARKING_TIME", "4.00", "0")),
    )
    readings = (B("0", at(10)), E("5000", at(11)))
    by_meter = price_session(timed, session(at(10), at(11), *readings))
    assert (by_meter.charging_time_s, by_meter.parking_time_s) == (3600, 0)
    by_status = price_session(
        timed,
        session(
            at(10),
            at(11),
            *readings,
            status=((at(9, 59), "Charging"), (at(10, 30), "SuspendedEV")),
        ),
    )
    assert (by_status.charging_time_s, by_status.parking_time_s) == (1800, 1800)
    assert by_status.invoice.excl_vat == Decimal("1.00") + Decimal("2.00")


def test_the_meter_decides_where_no_status_is_known() -> None:
    readings = (B("0", at(10)), P("5000", at(10, 40)), E("5000", at(11)))
    priced = price_session(
        tariff(element(component("ENERGY", "0.3", "0"))), session(at(10), at(11), *readings)
    )
    assert (priced.charging_time_s, priced.parking_time_s) == (2400, 1200)
    assert [p.charging for p in priced.periods] == [True, False]


def test_dates_restrict_to_local_days() -> None:
    promo = tariff(
        element(component("ENERGY", "0.10", "0"), start_date="2024-06-04", end_date="2024-06-05"),
        element(component("ENERGY", "0.30", "0")),
    )
    readings = (B("0", at(21)), E("2000", at(23)))  # 23:00-01:00 local: the promo ends at midnight
    priced = price_session(promo, session(at(21), at(23), *readings))
    assert priced.invoice.excl_vat == Decimal("0.10") + Decimal("0.30")


def test_first_matching_element_wins_and_unmatched_dimensions_are_free() -> None:
    ordered = tariff(
        element(component("ENERGY", "0.10", "0"), start_time="00:00", end_time="06:00"),
        element(component("ENERGY", "0.20", "0")),
        element(component("ENERGY", "0.99", "0")),
    )
    priced = price_session(ordered, session(at(10), at(11), B("0", at(10)), E("1000", at(11))))
    assert priced.invoice.excl_vat == Decimal("0.20")
    nothing = tariff(
        element(component("ENERGY", "0.10", "0"), start_time="00:00", end_time="06:00")
    )
    free = price_session(nothing, session(at(10), at(11), B("0", at(10)), E("1000", at(11))))
    assert free.invoice.excl_vat == 0
    assert free.total == 0


def test_a_wall_time_that_happens_twice_splits_twice() -> None:
    """2024-10-27 in Berlin: 02:30 happens in CEST and again in CET."""
    early = tariff(
        element(component("ENERGY", "0.10", "0"), start_time="02:30", end_time="06:00"),
        element(component("ENERGY", "0.30", "0")),
    )
    start = datetime(2024, 10, 27, 0, tzinfo=UTC)  # 02:00 CEST
    end = datetime(2024, 10, 27, 2, tzinfo=UTC)  # 03:00 CET
    priced = price_session(early, session(start, end, B("0", start), E("4000", end)))
    # 02:30-03:00 CEST and 02:30-03:00 CET are cheap; 02:00-02:30 (both times) is not.
    assert priced.invoice.excl_vat == 2 * Decimal("0.10") + 2 * Decimal("0.30")


def test_a_status_that_says_nothing_leaves_it_to_the_meter() -> None:
    """OCPP 2.0.1's connector status is just Occupied while charging."""
    readings = (B("0", at(10)), P("5000", at(10, 40)), E("5000", at(11)))
    priced = price_session(
        tariff(element(component("ENERGY", "0.3", "0"))),
        session(at(10), at(11), *readings, status=((at(10), "Occupied"),)),
    )
    assert (priced.charging_time_s, priced.parking_time_s) == (2400, 1200)
