"""Plug-and-charge matching (csms.matching): every rule and threshold edge, ambiguity,
learned tags, the poll budget, and a property: never a match when two cars fit."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.matching import (
    EARTH_RADIUS_M,
    Evidence,
    KnownPosition,
    LearnedTag,
    MatchConfig,
    Method,
    Outcome,
    PlugEvent,
    Reason,
    VehicleObservation,
    autocharge_tag,
    decide,
    emaid_key,
    haversine_m,
    plan_polls,
    tag_to_learn,
    vehicles_to_poll,
)

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
LAT, LON = 52.5200, 13.4050
S = timedelta(seconds=1)
M = timedelta(minutes=1)


def north(metres: float, lat: float = LAT) -> float:
    """The latitude ``metres`` north of ``lat`` (same longitude)."""
    return lat + math.degrees(metres / EARTH_RADIUS_M)


def plug(**kw: Any) -> PlugEvent:
    values: dict[str, Any] = {
        "charge_point_id": "CP1",
        "evse_id": 1,
        "at": T0,
        "latitude": LAT,
        "longitude": LON,
    }
    values.update(kw)
    return PlugEvent(**values)


def seen(vehicle_id: str = "car-a", metres: float = 20.0, **kw: Any) -> VehicleObservation:
    values: dict[str, Any] = {
        "vehicle_id": vehicle_id,
        "vin": f"VIN-{vehicle_id}",
        "account_id": f"acct-{vehicle_id}",
        "observed_at": T0 + 10 * S,
        "data_age": T0 + 5 * S,
        "is_plugged_in": True,
        "charge_state": "NOT_CHARGING",
        "latitude": north(metres),
        "longitude": LON,
    }
    values.update(kw)
    return VehicleObservation(**values)


def reasons(evidence: tuple[Evidence, ...]) -> list[Reason]:
    return [e.reason for e in evidence]


# -- helpers ----------------------------------------------------------------------------


def test_haversine() -> None:
    assert haversine_m(LAT, LON, LAT, LON) == 0
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195, abs=1)
    assert haversine_m(LAT, LON, north(300), LON) == pytest.approx(300, abs=1e-6)
    # Berlin - Paris, about 878 km.
    assert haversine_m(LAT, LON, 48.8566, 2.3522) == pytest.approx(877_500, rel=0.002)


@pytest.mark.parametrize(
    ("token", "kind", "expected"),
    [
        ("VID:92D50A693F80", None, "VID:92D50A693F80"),
        ("vid:92d50a693f80", None, "VID:92D50A693F80"),
        ("92:D5:0A:69:3F:80", "MacAddress", "VID:92D50A693F80"),
        ("92-d5-0a-69-3f-80", "MacAddress", "VID:92D50A693F80"),
        ("92D50A693F80", None, None),  # a bare MAC in 1.6 is just an idTag
        ("92D50A693F80", "ISO14443", None),
        ("VID:92D50A693F", None, None),  # too short
        ("VID:92D50A693FZZ", None, None),
        (None, "MacAddress", None),
    ],
)
def test_autocharge_tag(token: str | None, kind: str | None, expected: str | None) -> None:
    assert autocharge_tag(token, kind) == expected


def test_emaid_key() -> None:
    assert emaid_key("de-8eo-c12345678-9", "eMAID") == "DE8EOC123456789"
    assert emaid_key("DE8EOC123456789", "ISO14443") is None
    assert emaid_key(None, "eMAID") is None


# -- every rule and threshold edge, one vehicle ----------------------------------------

WINDOW_CASES: list[tuple[str, dict[str, Any], Outcome, Reason]] = [
    ("at the plug event", {}, Outcome.MATCHED, Reason.CANDIDATE),
    ("window start, inclusive", {"data_age": T0 - 3 * M}, Outcome.MATCHED, Reason.CANDIDATE),
    (
        "before the window",
        {"data_age": T0 - 3 * M - S},
        Outcome.NO_CANDIDATE,
        Reason.PLUGGED_BEFORE,
    ),
    ("window end, inclusive", {"data_age": T0 + 5 * M}, Outcome.MATCHED, Reason.CANDIDATE),
    (
        "after the window",
        {"data_age": T0 + 5 * M + S, "observed_at": T0 + 6 * M},
        Outcome.NO_CANDIDATE,
        Reason.OUTSIDE_WINDOW,
    ),
    ("300 m, inclusive", {"metres": 299.999}, Outcome.MATCHED, Reason.CANDIDATE),
    ("past 300 m is weak", {"metres": 300.01}, Outcome.NEEDS_MORE_EVIDENCE, Reason.WEAK_NEAR),
    ("1 km is still weak", {"metres": 999.999}, Outcome.NEEDS_MORE_EVIDENCE, Reason.WEAK_NEAR),
    ("beyond 1 km", {"metres": 1000.01}, Outcome.NO_CANDIDATE, Reason.TOO_FAR),
    (
        "location 30 min old, inclusive",
        {"location_data_age": T0 + 10 * S - 30 * M},
        Outcome.MATCHED,
        Reason.CANDIDATE,
    ),
    (
        "stale location",
        {"location_data_age": T0 + 10 * S - 30 * M - S},
        Outcome.NO_CANDIDATE,
        Reason.STALE_LOCATION,
    ),
    ("not plugged in", {"is_plugged_in": False}, Outcome.NO_CANDIDATE, Reason.NOT_PLUGGED),
    (
        "location unknown",
        {"latitude": None, "longitude": None},
        Outcome.NO_CANDIDATE,
        Reason.LOCATION_UNKNOWN,
    ),
    (
        "asleep: plug state unknown",
        {"is_plugged_in": None, "data_age": None},
        Outcome.NEEDS_MORE_EVIDENCE,
        Reason.STATE_UNKNOWN,
    ),
    (
        "bound to another session",
        {"bound_elsewhere": True},
        Outcome.NO_CANDIDATE,
        Reason.BOUND_ELSEWHERE,
    ),
]


@pytest.mark.parametrize(
    ("changes", "outcome", "reason"),
    [case[1:] for case in WINDOW_CASES],
    ids=[case[0] for case in WINDOW_CASES],
)
def test_rules_and_edges(changes: dict[str, Any], outcome: Outcome, reason: Reason) -> None:
    decision = decide(plug(), [seen(**changes)])
    assert decision.outcome is outcome
    assert reasons(decision.evidence) == [reason]
    if outcome is Outcome.MATCHED:
        assert decision.method is Method.SMARTCAR_PLUG_STATE
        assert (decision.vehicle_id, decision.vin, decision.account_id) == (
            "car-a",
            "VIN-car-a",
            "acct-car-a",
        )
    else:
        assert decision.vehicle_id is None and decision.vin is None


def test_thresholds_come_from_the_config() -> None:
    config = MatchConfig(max_distance_m=50, weak_distance_m=60, window_before=10 * S)
    assert decide(plug(), [seen(metres=55)], config=config).outcome is Outcome.NEEDS_MORE_EVIDENCE
    assert decide(plug(), [seen(metres=61)], config=config).outcome is Outcome.NO_CANDIDATE
    late = seen(metres=10, data_age=T0 - 11 * S)
    assert decide(plug(), [late], config=config).outcome is Outcome.NO_CANDIDATE


def test_a_charger_without_a_location_matches_nobody_by_plug_state() -> None:
    decision = decide(plug(latitude=None, longitude=None), [seen()])
    assert decision.outcome is Outcome.NO_CANDIDATE
    assert reasons(decision.evidence) == [Reason.LOCATION_UNKNOWN]


def test_a_plug_flip_counts_but_a_car_plugged_in_before_does_not() -> None:
    earlier = seen(data_age=T0 - 20 * M, observed_at=T0 - 19 * M)
    unplugged = replace(earlier, is_plugged_in=False, data_age=T0 - 2 * M, observed_at=T0 - M)
    now = seen(data_age=T0 + M, observed_at=T0 + 90 * S)
    assert decide(plug(), [now, unplugged, earlier]).outcome is Outcome.MATCHED
    # Plugged in 20 minutes ago and still: charging at the neighbour's wallbox.
    decision = decide(plug(), [now, earlier])
    assert decision.outcome is Outcome.NO_CANDIDATE
    assert reasons(decision.evidence) == [Reason.PLUGGED_BEFORE]


def test_a_car_unplugged_again_is_no_candidate() -> None:
    plugged = seen(data_age=T0 + 10 * S, observed_at=T0 + 15 * S)
    unplugged = seen(is_plugged_in=False, data_age=T0 + 80 * S, observed_at=T0 + 90 * S)
    decision = decide(plug(), [unplugged, plugged])
    assert decision.outcome is Outcome.NO_CANDIDATE
    assert reasons(decision.evidence) == [Reason.NOT_PLUGGED]


def test_the_second_poll_can_bring_the_plug_flip() -> None:
    first = seen(is_plugged_in=False, data_age=T0, observed_at=T0 + 5 * S)
    assert decide(plug(), [first]).outcome is Outcome.NO_CANDIDATE
    second = seen(data_age=T0 + 80 * S, observed_at=T0 + 90 * S)
    assert decide(plug(), [first, second]).outcome is Outcome.MATCHED


# -- ambiguity -----------------------------------------------------------------------


def test_two_cars_at_neighbouring_chargers_at_the_same_moment_are_ambiguous() -> None:
    x = plug(charge_point_id="CP-X")
    y = plug(charge_point_id="CP-Y", latitude=north(20))
    a, b = seen("car-a", metres=5), seen("car-b", metres=22)
    for event in (x, y):
        decision = decide(event, [a, b], other_plugs=[x, y])
        assert decision.outcome is Outcome.AMBIGUOUS
        assert decision.vehicle_id is None and decision.vin is None
        assert decide(event, [a, b]).outcome is Outcome.AMBIGUOUS


def test_one_linked_car_and_two_plug_events_is_ambiguous() -> None:
    """Car B has no Smartcar link: without the other plug event, car A would be matched
    to both connectors, and one of them would be wrong."""
    x = plug(charge_point_id="CP-X")
    y = plug(charge_point_id="CP-Y", latitude=north(20), at=T0 + 30 * S)
    a = seen("car-a", metres=5)
    assert decide(x, [a]).outcome is Outcome.MATCHED  # what the caller must not rely on
    for event in (x, y):
        decision = decide(event, [a], other_plugs=[x, y])
        assert decision.outcome is Outcome.AMBIGUOUS
        assert reasons(decision.evidence) == [Reason.OTHER_PLUG_EVENT]
    # A plug event outside the car's window, or more than 1 km away, is no rival.
    later = plug(charge_point_id="CP-Y", latitude=north(20), at=T0 + 20 * M)
    far = plug(charge_point_id="CP-Z", latitude=north(1500))
    assert decide(x, [a], other_plugs=[later, far]).outcome is Outcome.MATCHED


def test_distance_separates_cars_at_chargers_far_apart() -> None:
    x = plug(charge_point_id="CP-X")
    y = plug(charge_point_id="CP-Y", latitude=north(1500))
    a, b = seen("car-a", metres=10), seen("car-b", metres=1490)
    assert decide(x, [a, b], other_plugs=[y]).vehicle_id == "car-a"
    assert decide(y, [a, b], other_plugs=[x]).vehicle_id == "car-b"


def test_a_weak_rival_blocks_a_match() -> None:
    decision = decide(plug(), [seen("car-a", metres=50), seen("car-b", metres=600)])
    assert decision.outcome is Outcome.AMBIGUOUS
    assert sorted(reasons(decision.evidence)) == sorted([Reason.CANDIDATE, Reason.WEAK_NEAR])


def test_an_unreadable_car_nearby_needs_more_evidence() -> None:
    asleep = seen("car-b", is_plugged_in=None, data_age=None)
    decision = decide(plug(), [seen("car-a"), asleep])
    assert decision.outcome is Outcome.NEEDS_MORE_EVIDENCE
    assert decision.vehicle_id is None


def test_rejected_cars_do_not_block_a_match() -> None:
    others = [
        seen("car-b", is_plugged_in=False),
        seen("car-c", metres=5000),
        seen("car-d", bound_elsewhere=True),
        seen("car-e", latitude=None, longitude=None),
        seen("car-f", data_age=T0 - 40 * M),
    ]
    decision = decide(plug(), [seen("car-a"), *others])
    assert decision.outcome is Outcome.MATCHED
    assert decision.vehicle_id == "car-a"
    assert len(decision.evidence) == 6


# -- learned tags and eMAID ----------------------------------------------------------

VID = "VID:92D50A693F80"


def test_an_active_learned_tag_decides_without_polling() -> None:
    decision = decide(plug(id_token=VID), [], [LearnedTag(VID, "VIN-car-a")])
    assert decision.outcome is Outcome.MATCHED
    assert decision.method is Method.AUTOCHARGE_TAG
    assert decision.vin == "VIN-car-a"
    assert decision.vehicle_id is None  # the caller maps the VIN
    assert reasons(decision.evidence) == [Reason.TAG_ACTIVE]


def test_a_201_mac_address_token_finds_a_tag_learned_over_16() -> None:
    event = plug(id_token="92:d5:0a:69:3f:80", id_token_type="MacAddress")
    decision = decide(event, [seen("car-b", metres=5)], [LearnedTag(VID, "VIN-car-a")])
    assert (decision.outcome, decision.vin) == (Outcome.MATCHED, "VIN-car-a")
    assert decision.method is Method.AUTOCHARGE_TAG


def test_a_known_emaid_decides() -> None:
    event = plug(id_token="DE-8EO-C12345678-9", id_token_type="eMAID")
    decision = decide(event, [seen("car-a")], [LearnedTag("DE8EOC123456789", "VIN-car-a")])
    assert (decision.outcome, decision.method) == (Outcome.MATCHED, Method.EMAID)
    assert (decision.vehicle_id, decision.account_id) == ("car-a", "acct-car-a")


def test_an_unknown_tag_falls_back_to_plug_state() -> None:
    decision = decide(plug(id_token=VID), [seen("car-a")])
    assert decision.method is Method.SMARTCAR_PLUG_STATE
    assert reasons(decision.evidence) == [Reason.TAG_UNKNOWN, Reason.CANDIDATE]


def test_an_active_tag_for_a_car_bound_elsewhere_is_a_conflict() -> None:
    decision = decide(
        plug(id_token=VID), [seen("car-a", bound_elsewhere=True)], [LearnedTag(VID, "VIN-car-a")]
    )
    assert decision.outcome is Outcome.AMBIGUOUS
    assert Reason.TAG_CONFLICT in reasons(decision.evidence)


def test_a_tag_linked_to_two_vins_decides_nothing() -> None:
    links = [LearnedTag(VID, "VIN-car-a"), LearnedTag(VID, "VIN-car-b", active=False)]
    decision = decide(plug(id_token=VID), [seen("car-a")], links)
    assert decision.outcome is Outcome.AMBIGUOUS
    assert reasons(decision.evidence) == [Reason.TAG_CONFLICT, Reason.CANDIDATE]


def test_a_pending_tag_separates_two_candidates_but_never_decides_alone() -> None:
    pending = [LearnedTag(VID, "VIN-car-b", active=False)]
    cars = [seen("car-a"), seen("car-b", metres=10)]
    decision = decide(plug(id_token=VID), cars, pending)
    assert (decision.outcome, decision.vehicle_id) == (Outcome.MATCHED, "car-b")
    assert decision.method is Method.SMARTCAR_PLUG_STATE
    assert decide(plug(id_token=VID), [], pending).outcome is Outcome.NO_CANDIDATE
    # The only candidate is another car than the tag says: conflicting evidence.
    conflict = decide(plug(id_token=VID), [seen("car-a")], pending)
    assert conflict.outcome is Outcome.AMBIGUOUS


# -- whom to poll --------------------------------------------------------------------


def position(vehicle_id: str, metres: float | None, age: timedelta = M) -> KnownPosition:
    lat = None if metres is None else north(metres)
    return KnownPosition(vehicle_id, lat, None if lat is None else LON, T0 - age)


def test_poll_closest_first_within_the_budget() -> None:
    near = [position(f"near-{m}", float(m)) for m in (900, 10, 250, 600, 40, 120, 700)]
    others = [
        position("far", 1200),
        position("stale", 5, age=31 * M),
        position("unknown", None),
    ]
    plan = plan_polls(plug(), near + others)
    assert MatchConfig().max_vehicles == 5
    assert plan.vehicle_ids == ("near-10", "near-40", "near-120", "near-250", "near-600")
    assert plan.over_budget == ("near-700", "near-900")
    assert vehicles_to_poll(plug(), near + others, MatchConfig(poll_budget_calls=12)) == [
        "near-10",
        "near-40",
    ]
    wide = MatchConfig(poll_budget_calls=600, poll_unknown_positions=True)
    assert vehicles_to_poll(plug(), others, wide) == ["stale", "unknown"]
    assert vehicles_to_poll(plug(latitude=None, longitude=None), near, wide) == []


def test_nearby_cars_left_unpolled_block_a_match() -> None:
    decision = decide(plug(), [seen("car-a")], unpolled=["car-z", "car-a"])
    assert decision.outcome is Outcome.NEEDS_MORE_EVIDENCE
    assert reasons(decision.evidence) == [Reason.CANDIDATE, Reason.NOT_POLLED]


# -- learning ------------------------------------------------------------------------


def test_tag_to_learn() -> None:
    event = plug(id_token=VID)
    matched = decide(event, [seen("car-a")])
    assert tag_to_learn(event, matched) == (VID, "VIN-car-a")
    assert tag_to_learn(event, matched, [LearnedTag(VID, "VIN-car-a", active=False)]) == (
        VID,
        "VIN-car-a",
    )
    assert tag_to_learn(event, matched, [LearnedTag(VID, "VIN-other")]) is None
    by_tag = decide(event, [], [LearnedTag(VID, "VIN-car-a")])
    assert tag_to_learn(event, by_tag) is None
    assert tag_to_learn(event, decide(event, [])) is None
    rfid = plug(id_token="04A2B3C4", id_token_type="ISO14443")
    assert tag_to_learn(rfid, decide(rfid, [seen("car-a")])) is None
    multicast = plug(id_token="VID:93D50A693F80")
    assert tag_to_learn(multicast, decide(multicast, [seen("car-a")])) is None
    mac201 = plug(id_token="92D50A693F80", id_token_type="MacAddress")
    assert tag_to_learn(mac201, decide(mac201, [seen("car-a")])) == (VID, "VIN-car-a")


# -- property: two cars that fit every rule are never matched ------------------------

fitting: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    metres=st.floats(0, 300),
    bearing=st.floats(0, 2 * math.pi),
    data_offset_s=st.integers(-180, 300),
    fetch_delay_s=st.integers(0, 1800),
)
noise: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    metres=st.floats(0, 3000),
    bearing=st.floats(0, 2 * math.pi),
    data_offset_s=st.integers(-3600, 900),
    fetch_delay_s=st.integers(0, 3600),
    plugged=st.sampled_from([True, False, None]),
    bound=st.booleans(),
)


def observation(vehicle_id: str, spec: dict[str, Any]) -> VehicleObservation:
    d = spec["metres"] / EARTH_RADIUS_M
    lat = LAT + math.degrees(d * math.cos(spec["bearing"]))
    lon = LON + math.degrees(d * math.sin(spec["bearing"]) / math.cos(math.radians(LAT)))
    recorded = T0 + timedelta(seconds=spec["data_offset_s"])
    plugged = spec.get("plugged", True)
    return VehicleObservation(
        vehicle_id=vehicle_id,
        vin=f"VIN-{vehicle_id}",
        account_id=None,
        observed_at=recorded + timedelta(seconds=spec["fetch_delay_s"]),
        data_age=recorded if plugged is not None else None,
        is_plugged_in=plugged,
        latitude=lat,
        longitude=lon,
        location_data_age=recorded,
        bound_elsewhere=spec.get("bound", False),
    )


@settings(max_examples=300, deadline=None)
@given(
    fits=st.lists(fitting, min_size=2, max_size=5),
    others=st.lists(noise, max_size=5),
    tag=st.sampled_from([None, VID, "04A2B3C4"]),
)
def test_never_a_match_when_two_cars_fit_every_rule(
    fits: list[dict[str, Any]], others: list[dict[str, Any]], tag: str | None
) -> None:
    observations = [observation(f"fit-{i}", spec) for i, spec in enumerate(fits)]
    observations += [observation(f"other-{i}", spec) for i, spec in enumerate(others)]
    decision = decide(plug(id_token=tag), observations)
    assert decision.outcome is not Outcome.MATCHED
    assert decision.vehicle_id is None and decision.vin is None


@settings(max_examples=300, deadline=None)
@given(cars=st.lists(st.one_of(fitting, noise), max_size=6))
def test_a_plug_state_match_is_always_the_only_candidate(cars: list[dict[str, Any]]) -> None:
    observations = [observation(f"car-{i}", spec) for i, spec in enumerate(cars)]
    decision = decide(plug(), observations)
    if decision.matched:
        assert sum(e.accepted for e in decision.evidence) == 1
        assert not any(e.rival for e in decision.evidence)
        chosen = [e for e in decision.evidence if e.vehicle_id == decision.vehicle_id]
        assert [e.reason for e in chosen] == [Reason.CANDIDATE]
