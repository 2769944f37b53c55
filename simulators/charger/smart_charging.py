"""Smart charging of the simulated charger, the same in both versions.

SetChargingProfile installs a profile on a connector (1.6) or EVSE (2.0.1), 0 being the
whole charger: Rejected for an unknown connector, a charge point max profile (2.0.1
ChargingStationMaxProfile) anywhere but 0 and a TxProfile on 0; otherwise it replaces a
profile of the same id, or of the same purpose and stack level there, and is Accepted.
ClearChargingProfile removes every profile matching all the criteria given (Accepted) or
finds none (Unknown). GetChargingProfiles (2.0.1) finds the profiles matching all the
criteria given: Accepted, then one ReportChargingProfiles per EVSE (chargingLimitSource
CSO, tbc on all but the last), or NoProfiles. GetCompositeSchedule combines, from the
request's start, the highest stack level charge point max profile with the highest stack
level TxProfile of the connector (else TxDefaultProfile of the connector, else of 0): at
each period start the lower of the two limits (A and W are converted at 230 V per phase,
3 phases unless a period says otherwise). Recurrency and validity times are ignored. A
RemoteStartTransaction / RequestStartTransaction carrying a TxProfile installs it on the
chosen connector / EVSE (it stays until cleared or replaced).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulators.charger.base import BaseCharger

MAX = "ChargePointMaxProfile"
VOLTS = 230.0


@dataclass(frozen=True)
class Period:
    start_period: int
    limit: float
    number_phases: int | None = None


@dataclass(frozen=True)
class InstalledProfile:
    id: int
    connector_id: int
    purpose: str
    stack_level: int
    kind: str
    unit: str
    periods: tuple[Period, ...]
    duration: int | None = None
    transaction_id: int | str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def neutral_purpose(purpose: str) -> str:
    return MAX if purpose == "ChargingStationMaxProfile" else purpose


def parse_profile(
    connector_id: int, profile: dict[str, Any], schedule: dict[str, Any], profile_id: int
) -> InstalledProfile:
    """A profile as the ocpp library hands it over (snake_case keys)."""
    return InstalledProfile(
        id=profile_id,
        connector_id=connector_id,
        purpose=neutral_purpose(str(profile["charging_profile_purpose"])),
        stack_level=int(profile["stack_level"]),
        kind=str(profile["charging_profile_kind"]),
        unit=str(schedule["charging_rate_unit"]),
        periods=tuple(
            Period(int(p["start_period"]), float(p["limit"]), p.get("number_phases"))
            for p in schedule["charging_schedule_period"]
        ),
        duration=schedule.get("duration"),
        transaction_id=profile.get("transaction_id"),
        raw=profile,
    )


def _convert(limit: float, phases: int | None, from_unit: str, to_unit: str) -> float:
    if from_unit == to_unit:
        return limit
    factor = VOLTS * (phases or 3)
    return limit * factor if to_unit == "W" else limit / factor


def _limit_at(profile: InstalledProfile, t: int, unit: str) -> tuple[float, int | None] | None:
    if profile.duration is not None and t >= profile.duration:
        return None
    current = None
    for period in profile.periods:
        if period.start_period <= t:
            current = period
    if current is None:
        return None
    limit = _convert(current.limit, current.number_phases, profile.unit, unit)
    return limit, current.number_phases


class SmartCharging(BaseCharger):
    """Installed charging profiles and the composite schedule."""

    def charging_profiles(self) -> list[InstalledProfile]:
        """Every installed profile (a copy)."""
        return list(self._profiles().values())

    def _profiles(self) -> dict[int, InstalledProfile]:
        store: dict[int, InstalledProfile] | None = getattr(self, "_installed_profiles", None)
        if store is None:
            store = {}
            self._installed_profiles = store
        return store

    def set_charging_profile(self, profile: InstalledProfile) -> str:
        cid = profile.connector_id
        if cid != 0 and cid not in self.connectors:
            return "Rejected"
        if profile.purpose == MAX and cid != 0:
            return "Rejected"
        if profile.purpose == "TxProfile" and cid == 0:
            return "Rejected"
        profiles = self._profiles()
        for other in list(profiles.values()):
            same_slot = (other.connector_id, other.purpose, other.stack_level) == (
                cid,
                profile.purpose,
                profile.stack_level,
            )
            if same_slot:
                del profiles[other.id]
        profiles[profile.id] = profile
        return "Accepted"

    def clear_charging_profile(
        self,
        profile_id: int | None,
        connector_id: int | None,
        purpose: str | None,
        stack_level: int | None,
    ) -> str:
        profiles = self._profiles()
        purpose = None if purpose is None else neutral_purpose(purpose)
        found = [
            p
            for p in profiles.values()
            if (profile_id is None or p.id == profile_id)
            and (connector_id is None or p.connector_id == connector_id)
            and (purpose is None or p.purpose == purpose)
            and (stack_level is None or p.stack_level == stack_level)
        ]
        for p in found:
            del profiles[p.id]
        return "Accepted" if found else "Unknown"

    def matching_profiles(
        self,
        connector_id: int | None,
        purpose: str | None = None,
        stack_level: int | None = None,
        profile_ids: list[int] | None = None,
        sources: list[str] | None = None,
    ) -> dict[int, list[InstalledProfile]]:
        """The installed profiles matching all the criteria given, by connector / EVSE
        (every profile was set by the CSO)."""
        if sources is not None and "CSO" not in sources:
            return {}
        purpose = None if purpose is None else neutral_purpose(purpose)
        found: dict[int, list[InstalledProfile]] = {}
        for p in sorted(self._profiles().values(), key=lambda p: (p.connector_id, p.id)):
            if (
                (connector_id is None or p.connector_id == connector_id)
                and (purpose is None or p.purpose == purpose)
                and (stack_level is None or p.stack_level == stack_level)
                and (profile_ids is None or p.id in profile_ids)
            ):
                found.setdefault(p.connector_id, []).append(p)
        return found

    def _top(self, connector_id: int, purpose: str) -> InstalledProfile | None:
        candidates = [
            p
            for p in self._profiles().values()
            if p.connector_id == connector_id and p.purpose == purpose
        ]
        return max(candidates, key=lambda p: p.stack_level, default=None)

    def composite_schedule(
        self, connector_id: int, duration: int, unit: str | None
    ) -> tuple[str, str, list[dict[str, Any]]]:
        """(status, unit, periods) of the composite schedule of a connector / EVSE."""
        if connector_id != 0 and connector_id not in self.connectors:
            return "Rejected", unit or "A", []
        chosen = [p for p in [self._top(0, MAX)] if p is not None]
        if connector_id != 0:
            tx = (
                self._top(connector_id, "TxProfile")
                or self._top(connector_id, "TxDefaultProfile")
                or self._top(0, "TxDefaultProfile")
            )
            if tx is not None:
                chosen.append(tx)
        if not chosen:
            return "Rejected", unit or "A", []
        unit = unit or chosen[0].unit
        starts = sorted(
            {q.start_period for p in chosen for q in p.periods if q.start_period < duration}
        )
        periods: list[dict[str, Any]] = []
        for start in starts:
            limits = [lim for p in chosen if (lim := _limit_at(p, start, unit)) is not None]
            if not limits:
                continue
            limit, phases = min(limits, key=lambda item: item[0])
            entry: dict[str, Any] = {"start_period": start, "limit": round(limit, 1)}
            if phases is not None:
                entry["number_phases"] = phases
            if periods and periods[-1]["limit"] == entry["limit"]:
                continue
            periods.append(entry)
        return ("Accepted" if periods else "Rejected"), unit, periods
