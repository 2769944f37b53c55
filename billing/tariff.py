"""The OCPI 2.2.1 tariff model, and ``parse_tariff`` that validates a tariff document.

Prices are per unit and excl. VAT: ENERGY per kWh, TIME per hour while charging,
PARKING_TIME per hour while not charging, FLAT per session. ``vat`` is a percentage per
price component; ``None`` means "no VAT information" (not 0 %). ``step_size`` is in Wh
for ENERGY and seconds for TIME and PARKING_TIME.

Parsing is strict where a typo would change a price (price components, restrictions,
limits) and lenient elsewhere: OCPI fields the pricing does not use (``tariff_alt_text``,
``energy_mix``, ...) and unknown top-level fields are accepted and ignored. Identity fields
(``country_code``, ``party_id``, ``id``) are checked when present, so a bare tariff can be
previewed. Every error names the field by its path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar

from billing.errors import TariffError

__all__ = [
    "DayOfWeek",
    "DimensionType",
    "Price",
    "PriceComponent",
    "Restrictions",
    "Tariff",
    "TariffElement",
    "parse_tariff",
]


class DimensionType(StrEnum):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"

    @classmethod
    def of(cls, day: date) -> DayOfWeek:
        return list(cls)[day.weekday()]


class ReservationRestriction(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


@dataclass(frozen=True, slots=True)
class PriceComponent:
    type: DimensionType
    price: Decimal
    vat: Decimal | None
    step_size: int = 1


@dataclass(frozen=True, slots=True)
class Restrictions:
    """OCPI TariffRestrictions. Times and dates are local to the charger."""

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: frozenset[DayOfWeek] = field(default_factory=frozenset)
    reservation: ReservationRestriction | None = None


@dataclass(frozen=True, slots=True)
class TariffElement:
    price_components: tuple[PriceComponent, ...]
    restrictions: Restrictions | None = None

    def components(self, dimension: DimensionType) -> tuple[PriceComponent, ...]:
        return tuple(c for c in self.price_components if c.type is dimension)


@dataclass(frozen=True, slots=True)
class Price:
    """OCPI Price: excl. VAT, and incl. VAT when known."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Tariff:
    currency: str
    elements: tuple[TariffElement, ...]
    id: str | None = None
    country_code: str | None = None
    party_id: str | None = None
    type: TariffType | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None


# ---------------------------------------------------------------- parsing

_E = TypeVar("_E", bound=StrEnum)
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_COMPONENT_KEYS = frozenset({"type", "price", "vat", "step_size"})
_RESTRICTION_KEYS = frozenset(
    {
        "start_time",
        "end_time",
        "start_date",
        "end_date",
        "min_kwh",
        "max_kwh",
        "min_current",
        "max_current",
        "min_power",
        "max_power",
        "min_duration",
        "max_duration",
        "day_of_week",
        "reservation",
    }
)


def _mapping(value: object, path: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise TariffError("must be an object", path=path)
    return value


def _list(value: object, path: str, *, non_empty: bool = False) -> list[object]:
    if not isinstance(value, list | tuple):
        raise TariffError("must be a list", path=path)
    if non_empty and not value:
        raise TariffError("must not be empty", path=path)
    return list(value)


def _no_unknown_keys(doc: Mapping[str, object], known: frozenset[str], path: str) -> None:
    for key in doc:
        if key not in known:
            raise TariffError(
                f"unknown field (known: {', '.join(sorted(known))})", path=f"{path}.{key}"
            )


def _decimal(value: object, path: str, *, minimum: Decimal | None = Decimal(0)) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TariffError("must be a number", path=path)
    try:
        # str() of a float is its shortest repr, so 0.25 stays exactly 0.25.
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise TariffError("must be a number", path=path) from None
    if not number.is_finite():
        raise TariffError("must be a finite number", path=path)
    if minimum is not None and number < minimum:
        raise TariffError(f"must be at least {minimum}", path=path)
    return number


def _int(value: object, path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TariffError("must be an integer", path=path)
    if value < minimum:
        raise TariffError(f"must be at least {minimum}", path=path)
    return value


def _str(value: object, path: str, *, max_length: int | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise TariffError("must be a non-empty string", path=path)
    if max_length is not None and len(value) > max_length:
        raise TariffError(f"must be at most {max_length} characters", path=path)
    return value


def _enum(kind: type[_E], value: object, path: str) -> _E:
    names = [member.value for member in kind]
    if not isinstance(value, str) or value not in names:
        raise TariffError(f"must be one of {', '.join(names)}", path=path)
    return kind(value)


def _time(value: object, path: str) -> time:
    match = _HHMM.match(value) if isinstance(value, str) else None
    if match is None:
        raise TariffError('must be a local time "HH:MM"', path=path)
    return time(int(match.group(1)), int(match.group(2)))


def _date(value: object, path: str) -> date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise TariffError('must be a date "YYYY-MM-DD"', path=path)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise TariffError('must be a date "YYYY-MM-DD"', path=path) from None


def _datetime(value: object, path: str) -> datetime:
    if not isinstance(value, str):
        raise TariffError("must be an ISO 8601 date-time", path=path)
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TariffError("must be an ISO 8601 date-time", path=path) from None
    # OCPI date-times are UTC; one without an offset is taken as UTC.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _price(value: object, path: str) -> Price:
    doc = _mapping(value, path)
    _no_unknown_keys(doc, frozenset({"excl_vat", "incl_vat"}), path)
    if "excl_vat" not in doc:
        raise TariffError("is required", path=f"{path}.excl_vat")
    excl = _decimal(doc["excl_vat"], f"{path}.excl_vat")
    incl_raw = doc.get("incl_vat")
    incl = None if incl_raw is None else _decimal(incl_raw, f"{path}.incl_vat")
    return Price(excl, incl)


def _component(value: object, path: str) -> PriceComponent:
    doc = _mapping(value, path)
    _no_unknown_keys(doc, _COMPONENT_KEYS, path)
    for key in ("type", "price"):
        if key not in doc:
            raise TariffError("is required", path=f"{path}.{key}")
    vat_raw = doc.get("vat")
    step_raw = doc.get("step_size", 1)
    return PriceComponent(
        type=_enum(DimensionType, doc["type"], f"{path}.type"),
        price=_decimal(doc["price"], f"{path}.price"),
        vat=None if vat_raw is None else _decimal(vat_raw, f"{path}.vat"),
        step_size=_int(step_raw, f"{path}.step_size", minimum=1),
    )


def _ordered(low: Decimal | int | None, high: Decimal | int | None, path: str) -> None:
    if low is not None and high is not None and high <= low:
        raise TariffError("must be greater than the matching min_ value", path=path)


def _restrictions(value: object, path: str) -> Restrictions:
    doc = _mapping(value, path)
    _no_unknown_keys(doc, _RESTRICTION_KEYS, path)

    get = doc.get

    def number(key: str) -> Decimal | None:
        raw = get(key)
        return None if raw is None else _decimal(raw, f"{path}.{key}")

    def seconds(key: str) -> int | None:
        raw = get(key)
        return None if raw is None else _int(raw, f"{path}.{key}", minimum=0)

    days: list[DayOfWeek] = []
    if get("day_of_week") is not None:
        for i, item in enumerate(_list(get("day_of_week"), f"{path}.day_of_week")):
            day = _enum(DayOfWeek, item, f"{path}.day_of_week[{i}]")
            if day in days:
                raise TariffError("is listed twice", path=f"{path}.day_of_week[{i}]")
            days.append(day)
    start_time, end_time = get("start_time"), get("end_time")
    start_date, end_date = get("start_date"), get("end_date")
    reservation = get("reservation")
    result = Restrictions(
        start_time=None if start_time is None else _time(start_time, f"{path}.start_time"),
        end_time=None if end_time is None else _time(end_time, f"{path}.end_time"),
        start_date=None if start_date is None else _date(start_date, f"{path}.start_date"),
        end_date=None if end_date is None else _date(end_date, f"{path}.end_date"),
        min_kwh=number("min_kwh"),
        max_kwh=number("max_kwh"),
        min_current=number("min_current"),
        max_current=number("max_current"),
        min_power=number("min_power"),
        max_power=number("max_power"),
        min_duration=seconds("min_duration"),
        max_duration=seconds("max_duration"),
        day_of_week=frozenset(days),
        reservation=None
        if reservation is None
        else _enum(ReservationRestriction, reservation, f"{path}.reservation"),
    )
    _ordered(result.min_kwh, result.max_kwh, f"{path}.max_kwh")
    _ordered(result.min_current, result.max_current, f"{path}.max_current")
    _ordered(result.min_power, result.max_power, f"{path}.max_power")
    _ordered(result.min_duration, result.max_duration, f"{path}.max_duration")
    if result.start_date and result.end_date and result.end_date <= result.start_date:
        raise TariffError(
            "must be after start_date (end_date is exclusive)", path=f"{path}.end_date"
        )
    return result


def _element(value: object, path: str) -> TariffElement:
    doc = _mapping(value, path)
    _no_unknown_keys(doc, frozenset({"price_components", "restrictions"}), path)
    if "price_components" not in doc:
        raise TariffError("is required", path=f"{path}.price_components")
    items = _list(doc["price_components"], f"{path}.price_components", non_empty=True)
    components = tuple(
        _component(item, f"{path}.price_components[{i}]") for i, item in enumerate(items)
    )
    raw = doc.get("restrictions")
    restrictions = None if raw is None else _restrictions(raw, f"{path}.restrictions")
    if restrictions is not None and restrictions.reservation is not None:
        for i, component in enumerate(components):
            if component.type not in (DimensionType.FLAT, DimensionType.TIME):
                raise TariffError(
                    "a reservation element may only have FLAT and TIME components",
                    path=f"{path}.price_components[{i}].type",
                )
    return TariffElement(components, restrictions)


def parse_tariff(doc: object) -> Tariff:
    """Validate an OCPI 2.2.1 tariff document (numbers as JSON numbers or strings).

    Raises ``TariffError`` whose ``path`` names the offending field.
    """
    tariff = _mapping(doc, "tariff")
    for key in ("currency", "elements"):
        if key not in tariff:
            raise TariffError("is required", path=key)
    currency = _str(tariff["currency"], "currency")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise TariffError("must be an ISO 4217 code such as EUR", path="currency")
    items = _list(tariff["elements"], "elements", non_empty=True)
    elements = tuple(_element(item, f"elements[{i}]") for i, item in enumerate(items))

    def optional(key: str) -> object:
        return tariff.get(key)

    min_price = None if optional("min_price") is None else _price(tariff["min_price"], "min_price")
    max_price = None if optional("max_price") is None else _price(tariff["max_price"], "max_price")
    if min_price and max_price and max_price.excl_vat < min_price.excl_vat:
        raise TariffError("must not be below min_price", path="max_price.excl_vat")
    start = optional("start_date_time")
    end = optional("end_date_time")
    result = Tariff(
        currency=currency,
        elements=elements,
        id=None if optional("id") is None else _str(tariff["id"], "id", max_length=36),
        country_code=None
        if optional("country_code") is None
        else _str(tariff["country_code"], "country_code", max_length=2),
        party_id=None
        if optional("party_id") is None
        else _str(tariff["party_id"], "party_id", max_length=3),
        type=None if optional("type") is None else _enum(TariffType, tariff["type"], "type"),
        min_price=min_price,
        max_price=max_price,
        start_date_time=None if start is None else _datetime(start, "start_date_time"),
        end_date_time=None if end is None else _datetime(end, "end_date_time"),
    )
    if (
        result.start_date_time
        and result.end_date_time
        and result.end_date_time <= result.start_date_time
    ):
        raise TariffError("must be after start_date_time", path="end_date_time")
    return result
