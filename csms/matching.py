"""Plug-and-charge vehicle matching: which linked car (if any) is on this connector.

Pure: fed observations, returns a decision with its evidence. No I/O, no clock, no
randomness. Rules cite section 4 of the billing-domain reference notes ("ref 4.x") and
DESIGN.md section 5. A wrong match bills the wrong person, so every rule only ever
removes candidates or blocks a match; none of them adds a guess.

Outcomes: ``MATCHED`` (exactly one car, by an active learned Autocharge tag, a known
eMAID, or Smartcar plug state and location); ``NO_CANDIDATE`` (nothing fits: ordinary
authorisation, ref 4.2 step 6); ``AMBIGUOUS`` (several cars fit, or the evidence
conflicts: never guess, ref 4.3); ``NEEDS_MORE_EVIDENCE`` (a car that could be the one
was not read, or only fits weakly: poll again at about +90 s, ref 4.2 step 3).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
AUTOCHARGE_PREFIX = "VID:"
MAC_ADDRESS = "MacAddress"  # OCPP 2.0.1 IdTokenEnumType values (ref 4.1)
EMAID = "eMAID"
_HEX12 = re.compile(r"^[0-9A-F]{12}$")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (degrees)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def autocharge_tag(id_token: str | None, token_type: str | None = None) -> str | None:
    """The canonical Autocharge tag ``VID:`` + 12 uppercase hex digits, or None.

    OCPP 1.6 sends ``VID:92D50A693F80`` as idTag; OCPP 2.0.1 sends the MAC as an IdToken of
    type ``MacAddress`` (ref 4.1). Both spellings of one car map to the same tag, so a link
    learned over one protocol version works over the other.
    """
    if id_token is None:
        return None
    raw = id_token.strip().upper()
    if raw.startswith(AUTOCHARGE_PREFIX):
        raw = raw[len(AUTOCHARGE_PREFIX) :]
    elif token_type != MAC_ADDRESS:
        return None
    mac = re.sub(r"[:\-.]", "", raw)
    return AUTOCHARGE_PREFIX + mac if _HEX12.match(mac) else None


def emaid_key(id_token: str | None, token_type: str | None) -> str | None:
    """An ISO 15118 contract id (``eMAID`` token, ref 4.1), upper case without hyphens."""
    if id_token is None or token_type != EMAID:
        return None
    key = id_token.replace("-", "").strip().upper()
    return key or None


class Outcome(StrEnum):
    MATCHED = "matched"
    NO_CANDIDATE = "no_candidate"
    AMBIGUOUS = "ambiguous"
    NEEDS_MORE_EVIDENCE = "needs_more_evidence"


class Method(StrEnum):
    AUTOCHARGE_TAG = "autocharge_tag"
    EMAID = "emaid"
    SMARTCAR_PLUG_STATE = "smartcar_plug_state"


class Reason(StrEnum):
    """Why one vehicle (or the charger's token) was accepted, rejected or held back."""

    CANDIDATE = "candidate"  # plugged in within the window, within 300 m
    WEAK_NEAR = "weak_near"  # plugged in within the window, 300 m..1 km: a rival
    NOT_PLUGGED = "not_plugged"  # its latest reading says not plugged in
    OUTSIDE_WINDOW = "outside_window"  # plugged in, but recorded outside the window
    PLUGGED_BEFORE = "plugged_before"  # already plugged in before the window: elsewhere
    STALE_LOCATION = "stale_location"  # location older than max_data_age
    LOCATION_UNKNOWN = "location_unknown"  # no position (or the charger has none)
    TOO_FAR = "too_far"  # beyond the weak radius
    BOUND_ELSEWHERE = "bound_elsewhere"  # bound to another open session
    STATE_UNKNOWN = "state_unknown"  # asleep, unreachable or an error: a rival
    NOT_POLLED = "not_polled"  # near, but over the call budget: a rival
    OTHER_PLUG_EVENT = "other_plug_event"  # fits another connector's plug event too
    TAG_ACTIVE = "tag_active"  # the charger sent an active learned Autocharge tag
    TAG_PENDING = "tag_pending"  # ... a pending (unconfirmed) one
    TAG_CONFLICT = "tag_conflict"  # ... one that contradicts the other evidence
    TAG_UNKNOWN = "tag_unknown"  # ... one linked to no vehicle
    EMAID_KNOWN = "emaid_known"  # the charger sent a known eMAID contract
    EMAID_UNKNOWN = "emaid_unknown"  # ... an eMAID linked to no vehicle


@dataclass(frozen=True)
class PlugEvent:
    """Preparing/Occupied on a connector, or a CablePluggedIn TransactionEvent (ref 4.2.1)."""

    charge_point_id: str
    evse_id: int  # connector id in OCPP 1.6, EVSE id in 2.0.1
    at: datetime
    latitude: float | None = None  # the charger's registered location
    longitude: float | None = None
    id_token: str | None = None
    id_token_type: str | None = None  # OCPP 2.0.1 IdTokenEnumType; None in 1.6

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    def distance_m(self, latitude: float | None, longitude: float | None) -> float | None:
        if latitude is None or longitude is None or self.latitude is None:
            return None
        assert self.longitude is not None
        return haversine_m(self.latitude, self.longitude, latitude, longitude)


@dataclass(frozen=True)
class VehicleObservation:
    """One Smartcar read of a linked vehicle (``/batch`` of /charge and /location).

    ``data_age`` is Smartcar's ``SC-Data-Age`` of the charge reading: the time the car
    recorded it; ``observed_at`` is when we fetched it. ``is_plugged_in`` None means the
    read failed (asleep, unreachable, error).
    """

    vehicle_id: str
    vin: str
    account_id: str | None
    observed_at: datetime
    data_age: datetime | None
    is_plugged_in: bool | None
    charge_state: str | None = None  # CHARGING | FULLY_CHARGED | NOT_CHARGING
    latitude: float | None = None
    longitude: float | None = None
    location_data_age: datetime | None = None  # None: same as data_age
    bound_elsewhere: bool = False

    @property
    def recorded_at(self) -> datetime:
        return self.data_age or self.observed_at

    @property
    def location_recorded_at(self) -> datetime:
        return self.location_data_age or self.recorded_at

    def location_age(self, now: datetime) -> timedelta:
        return now - self.location_recorded_at

    def distance_m(self, plug: PlugEvent) -> float | None:
        return plug.distance_m(self.latitude, self.longitude)


@dataclass(frozen=True)
class LearnedTag:
    """An Autocharge tag (``VID:``...) or eMAID linked to a VIN (ref 4.4).

    Only ``active`` links (two confirmed sessions and the driver's consent) bind at once;
    a pending link is supporting evidence only.
    """

    tag: str
    vin: str
    active: bool = True


@dataclass(frozen=True)
class KnownPosition:
    """A linked vehicle's last known position, for choosing whom to poll."""

    vehicle_id: str
    latitude: float | None
    longitude: float | None
    recorded_at: datetime | None


@dataclass(frozen=True)
class MatchConfig:
    """Thresholds; defaults from ref 4.2 (and 5 of the Smartcar notes for the budget)."""

    window_before: timedelta = timedelta(minutes=3)  # ref 4.2.3: [t_p - 3 min,
    window_after: timedelta = timedelta(minutes=5)  # t_p + 5 min]
    max_distance_m: float = 300.0  # ref 4.2.2: within 300 m of the station
    weak_distance_m: float = 1_000.0  # ref 4.2.2: up to 1 km is a weak match (garages)
    max_data_age: timedelta = timedelta(minutes=30)  # ref 4.2.2: location data age <= 30 min
    # Smartcar calls one attempt may spend. Each poll is a /batch of 3 paths (/charge,
    # /location, /battery), each path counts (smartcar-api 5), and an attempt polls twice
    # (at once and at about +90 s, ref 4.2.3): 6 calls a vehicle. 30 is a quarter of the
    # default app bucket of 120 (smartcar-api 5), so 5 vehicles an attempt.
    poll_budget_calls: int = 30
    calls_per_vehicle: int = 6
    poll_unknown_positions: bool = False  # ref 4.2.2 polls only cars known to be near

    @property
    def max_vehicles(self) -> int:
        return max(0, self.poll_budget_calls // max(1, self.calls_per_vehicle))


@dataclass(frozen=True)
class Evidence:
    """One thing the decision considered: a vehicle, or the charger's token."""

    vehicle_id: str | None
    vin: str | None
    reason: Reason
    accepted: bool = False  # a candidate
    rival: bool = False  # could be the car on this connector: blocks a match
    distance_m: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class MatchDecision:
    outcome: Outcome
    evidence: tuple[Evidence, ...]
    method: Method | None = None
    vehicle_id: str | None = None
    vin: str | None = None
    account_id: str | None = None
    why: str = ""

    @property
    def matched(self) -> bool:
        return self.outcome is Outcome.MATCHED


@dataclass(frozen=True)
class PollPlan:
    vehicle_ids: tuple[str, ...]
    over_budget: tuple[str, ...]  # near, but the budget ran out: pass to decide(unpolled=)


def plan_polls(
    plug: PlugEvent, positions: Iterable[KnownPosition], config: MatchConfig | None = None
) -> PollPlan:
    """Whom to poll for ``plug``: closest first, capped by the per-attempt budget.

    Vehicles whose last position (no older than ``max_data_age`` at the plug event) is
    within the weak radius (ref 4.2.2; the weak ones are polled because they can make a
    match ambiguous). Unknown or stale positions only with ``poll_unknown_positions``,
    after the near ones. Without a charger location nobody is near, so nobody is polled.
    """
    config = config or MatchConfig()
    near: list[tuple[float, str]] = []
    unknown: list[str] = []
    for pos in positions:
        distance = plug.distance_m(pos.latitude, pos.longitude)
        fresh = pos.recorded_at is not None and plug.at - pos.recorded_at <= config.max_data_age
        if distance is not None and fresh:
            if distance <= config.weak_distance_m:
                near.append((distance, pos.vehicle_id))
        elif plug.located:
            unknown.append(pos.vehicle_id)
    ordered = [vid for _, vid in sorted(near)]
    if config.poll_unknown_positions:
        ordered += sorted(unknown)
    cap = config.max_vehicles
    skipped = tuple(vid for _, vid in sorted(near))[cap:]
    return PollPlan(tuple(ordered[:cap]), skipped)


def vehicles_to_poll(
    plug: PlugEvent, positions: Iterable[KnownPosition], config: MatchConfig | None = None
) -> list[str]:
    """The vehicle ids of :func:`plan_polls`."""
    return list(plan_polls(plug, positions, config).vehicle_ids)


def _in_window(plug: PlugEvent, moment: datetime, config: MatchConfig) -> bool:
    return plug.at - config.window_before <= moment <= plug.at + config.window_after


def _judge(
    plug: PlugEvent,
    readings: Sequence[VehicleObservation],
    others: Sequence[PlugEvent],
    config: MatchConfig,
) -> Evidence:
    """Apply every rule of ref 4.2 to one vehicle's readings (oldest first)."""
    last = readings[-1]

    def ev(reason: Reason, *, accepted: bool = False, rival: bool = False) -> Evidence:
        detail = f"plugged={last.is_plugged_in} state={last.charge_state}"
        return Evidence(
            last.vehicle_id, last.vin, reason, accepted, rival, last.distance_m(plug), detail
        )

    if any(r.bound_elsewhere for r in readings):
        return ev(Reason.BOUND_ELSEWHERE)  # ref 4.2.2: not bound to another open session
    located = [r for r in readings if r.distance_m(plug) is not None]
    fresh = [r for r in located if r.location_age(r.observed_at) <= config.max_data_age]
    where = fresh[-1] if fresh else None
    distance = where.distance_m(plug) if where is not None else None
    if distance is not None and distance > config.weak_distance_m:
        return ev(Reason.TOO_FAR)  # ref 4.2.4: beyond 1 km it adds nothing
    known = [r for r in readings if r.is_plugged_in is not None]
    if not known:  # polled because it was near: it cannot be ruled out
        return ev(Reason.STATE_UNKNOWN, rival=True)
    if not located:
        return ev(Reason.LOCATION_UNKNOWN)
    if where is None or distance is None:
        return ev(Reason.STALE_LOCATION)  # ref 4.2.2: data age <= 30 min
    weak = distance > config.max_distance_m
    if not known[-1].is_plugged_in:  # the latest reading wins: unplugged (again) now
        return ev(Reason.NOT_PLUGGED)
    before = plug.at - config.window_before
    if any(r.is_plugged_in and r.recorded_at < before for r in known) and not any(
        not r.is_plugged_in and r.recorded_at >= before for r in known
    ):
        return ev(Reason.PLUGGED_BEFORE)
    hits = [r for r in known if r.is_plugged_in and _in_window(plug, r.recorded_at, config)]
    if not hits:
        return ev(Reason.OUTSIDE_WINDOW)
    if weak:
        return ev(Reason.WEAK_NEAR, rival=True)  # 50 + 10 = 60 < 80 (ref 4.2.4)
    for other in others:
        near_other = other.distance_m(where.latitude, where.longitude)
        if (near_other is None or near_other <= config.weak_distance_m) and any(
            _in_window(other, r.recorded_at, config) for r in hits
        ):
            return ev(Reason.OTHER_PLUG_EVENT, rival=True)
    return ev(Reason.CANDIDATE, accepted=True)


def _by_tag(
    plug: PlugEvent, observations: Sequence[VehicleObservation], learned: Sequence[LearnedTag]
) -> tuple[Evidence | None, LearnedTag | None, Method | None]:
    tag = autocharge_tag(plug.id_token, plug.id_token_type)
    emaid = emaid_key(plug.id_token, plug.id_token_type)
    key = tag or emaid
    if key is None:
        return None, None, None
    method = Method.AUTOCHARGE_TAG if tag else Method.EMAID
    links = [t for t in learned if t.tag.upper() == key]
    link = links[0] if links else None
    if len({t.vin for t in links}) > 1:  # one tag, two cars: trust neither
        return Evidence(None, None, Reason.TAG_CONFLICT, rival=True, detail=key), link, method
    if link is None:
        reason = Reason.TAG_UNKNOWN if tag else Reason.EMAID_UNKNOWN
        return Evidence(None, None, reason, detail=key), None, method
    if not link.active:
        return Evidence(None, link.vin, Reason.TAG_PENDING, detail=key), link, method
    if any(o.vin == link.vin and o.bound_elsewhere for o in observations):
        return Evidence(None, link.vin, Reason.TAG_CONFLICT, rival=True, detail=key), link, method
    reason = Reason.TAG_ACTIVE if tag else Reason.EMAID_KNOWN
    return Evidence(None, link.vin, reason, accepted=True, detail=key), link, method


def decide(
    plug: PlugEvent,
    observations: Iterable[VehicleObservation],
    learned_tags: Iterable[LearnedTag] = (),
    config: MatchConfig | None = None,
    *,
    other_plugs: Iterable[PlugEvent] = (),
    unpolled: Iterable[str] = (),
) -> MatchDecision:
    """Decide which vehicle is on ``plug``'s connector, with the evidence for it.

    1. An active learned Autocharge tag or a known eMAID decides at once (ref 4.3a, 4.4),
       unless the car it names is bound to another open session (a spoofed MAC?).
    2. Otherwise a vehicle is a candidate when it is not bound elsewhere, its location is
       no older than 30 min and within 300 m, and it reported plugged in within
       [t_p - 3 min, t_p + 5 min] without already being plugged in before that (ref 4.2).
    3. Rivals block a match: a car plugged in within the window at 300 m..1 km (it scores
       60, the candidate 80, short of the 30-point lead, ref 4.2.4), a nearby car whose
       plug state could not be read or that was not polled, and a candidate that equally
       fits one of ``other_plugs`` (another connector plugged at the same time nearby;
       pass every plug event of the last minutes not settled by a tag, or one linked car
       could be matched to two connectors). ``unpolled``: ``PollPlan.over_budget``.
    4. Exactly one candidate and no rival: MATCHED. Several: AMBIGUOUS (ref 4.3), unless a
       pending learned tag names exactly one of them. A pending tag naming a different car
       than the only candidate is a conflict: AMBIGUOUS.
    """
    config = config or MatchConfig()
    obs = list(observations)
    learned = list(learned_tags)
    tag_ev, link, method = _by_tag(plug, obs, learned)
    if tag_ev is not None and tag_ev.accepted and link is not None and method is not None:
        car = next((o for o in obs if o.vin == link.vin), None)
        return MatchDecision(
            Outcome.MATCHED,
            (tag_ev,),
            method,
            car.vehicle_id if car else None,
            link.vin,
            car.account_id if car else None,
            why=tag_ev.reason.value,
        )
    groups: dict[str, list[VehicleObservation]] = {}
    for o in sorted(obs, key=lambda o: o.recorded_at):
        groups.setdefault(o.vehicle_id, []).append(o)
    others = [
        p
        for p in other_plugs
        if (p.charge_point_id, p.evse_id) != (plug.charge_point_id, plug.evse_id)
    ]
    evidence = [_judge(plug, readings, others, config) for readings in groups.values()]
    evidence += [
        Evidence(vid, None, Reason.NOT_POLLED, rival=True)
        for vid in dict.fromkeys(unpolled)
        if vid not in groups
    ]
    if tag_ev is not None:
        evidence.insert(0, tag_ev)
    found = tuple(evidence)
    candidates = [e for e in evidence if e.accepted]
    rivals = [e for e in evidence if e.rival]
    if tag_ev is not None and tag_ev.rival:
        return MatchDecision(Outcome.AMBIGUOUS, found, why=tag_ev.reason.value)
    pending_vin = link.vin if link is not None and not link.active else None
    if pending_vin is not None and len(candidates) > 1:
        named = [c for c in candidates if c.vin == pending_vin]
        if len(named) == 1 and not rivals:
            candidates = named  # the charger's own (pending) tag separates them
    if len(candidates) == 1 and not rivals:
        chosen = candidates[0]
        if pending_vin is not None and chosen.vin != pending_vin:
            return MatchDecision(Outcome.AMBIGUOUS, found, why=Reason.TAG_CONFLICT.value)
        car = next(o for o in reversed(obs) if o.vehicle_id == chosen.vehicle_id)
        return MatchDecision(
            Outcome.MATCHED,
            found,
            Method.SMARTCAR_PLUG_STATE,
            car.vehicle_id,
            car.vin,
            car.account_id,
            why=chosen.reason.value,
        )
    contenders = len(candidates) + sum(e.reason is Reason.WEAK_NEAR for e in rivals)
    if contenders > 1 or any(e.reason is Reason.OTHER_PLUG_EVENT for e in rivals):
        why = f"{len(candidates)} candidates, {len(rivals)} rivals"
        return MatchDecision(Outcome.AMBIGUOUS, found, why=why)
    if candidates or rivals:
        why = "; ".join(sorted({e.reason.value for e in rivals}))
        return MatchDecision(Outcome.NEEDS_MORE_EVIDENCE, found, why=why)
    return MatchDecision(Outcome.NO_CANDIDATE, found, why="no linked vehicle fits")


def tag_to_learn(
    plug: PlugEvent, decision: MatchDecision, learned_tags: Iterable[LearnedTag] = ()
) -> tuple[str, str] | None:
    """The (Autocharge tag, VIN) link to record after a confirmed match (ref 4.4).

    Only when Smartcar evidence (plug state and location) bound the session; see
    :func:`learnable_tag` for what the tag itself must be.
    """
    if not decision.matched or decision.method is not Method.SMARTCAR_PLUG_STATE:
        return None
    if decision.vin is None:
        return None
    return learnable_tag(plug, decision.vin, learned_tags)


def learnable_tag(
    plug: PlugEvent, vin: str, learned_tags: Iterable[LearnedTag] = ()
) -> tuple[str, str] | None:
    """The (Autocharge tag, VIN) link the charger's ``VID:``/MacAddress tag on ``plug``
    gives for a car Smartcar placed on that connector. Refused when the tag is already
    linked to another VIN (ref 4.4), and for multicast MACs (not a station address).
    Models known to use dynamic MACs are the caller's to refuse (it knows the model). A
    link to the same VIN is returned again: it counts as another confirmation.
    """
    tag = autocharge_tag(plug.id_token, plug.id_token_type)
    if tag is None:
        return None
    first_octet = int(tag[len(AUTOCHARGE_PREFIX) : len(AUTOCHARGE_PREFIX) + 2], 16)
    if first_octet & 0b1:
        return None
    if any(t.tag.upper() == tag and t.vin != vin for t in learned_tags):
        return None
    return tag, vin
