"""Contract tests: our parsing against the literal example bodies of the reference
(shared/reference/smartcar-api.md, section numbers below), not against the simulator.

The simulator and the client are written from the same notes; if both drifted the same
way, the tests against the simulator would still pass. These bodies are copied verbatim
from the reference (which records Smartcar's docs and SDK fixtures), so they pin the
parsing to what the real API sends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from smartcar_bridge import v2, v3
from smartcar_bridge.envelope import api_error
from smartcar_bridge.errors import (
    AuthenticationError,
    BillingError,
    InvalidGrant,
    PermissionDenied,
    RateLimitError,
    ResponseFormatError,
    UpstreamError,
    VehicleStateError,
)
from smartcar_bridge.models import Battery, Meta, Vin
from smartcar_bridge.oauth import parse_token_response
from smartcar_bridge.transport import meta_from_headers
from smartcar_bridge.webhooks import parse_event, sign, state_update

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
META = Meta(request_id="26c14915-0c26-43c5-8e42-9edfc2a66a0f")


def body(text: str) -> object:
    return json.loads(text)


# --- 1.5 response headers -------------------------------------------------------------------


def test_response_headers() -> None:
    meta = meta_from_headers(
        {
            "SC-Request-Id": "26c14915-0c26-43c5-8e42-9edfc2a66a0f",
            "SC-Data-Age": "2018-06-20T01:33:37.078Z",
            "SC-Fetched-At": "2018-06-20T01:48:37.078Z",
            "SC-Unit-System": "metric",
        }
    )
    assert meta.request_id == "26c14915-0c26-43c5-8e42-9edfc2a66a0f"
    assert meta.data_age == datetime(2018, 6, 20, 1, 33, 37, 78000, tzinfo=UTC)
    assert meta.fetched_at == datetime(2018, 6, 20, 1, 48, 37, 78000, tzinfo=UTC)
    assert meta.unit_system == "metric"
    # Looked up case-insensitively (batch items carry lower-case names).
    assert meta_from_headers({"sc-data-age": "2019-10-24T00:43:46.000Z"}).data_age is not None


# --- 2.3 / 2.4 token endpoint -----------------------------------------------------------------


def test_token_response() -> None:
    tokens = parse_token_response(
        body("""{
  "access_token": "cf7ba7e9-8c5d-417d-a99f-c386cfc235cc",
  "token_type": "Bearer",
  "expires_in": 7200,
  "refresh_token": "3e565aed-d4b2-4296-9b4c-aec35825a6aa"
}"""),
        NOW,
    )
    assert tokens.access_token == "cf7ba7e9-8c5d-417d-a99f-c386cfc235cc"
    assert tokens.refresh_token == "3e565aed-d4b2-4296-9b4c-aec35825a6aa"
    assert (tokens.expires_at - NOW).total_seconds() == 7200
    assert (tokens.refresh_expires_at - NOW).days == 60


def test_token_errors() -> None:
    # [PY tests]: the live descriptions for a bad code and a spent refresh token.
    bad_code = api_error(
        400,
        {"error": "invalid_grant", "error_description": "Invalid code: THIS_SHOULD_NOT_WORK."},
        {},
    )
    assert isinstance(bad_code, InvalidGrant)
    spent = api_error(
        400, {"error": "invalid_grant", "error_description": "Invalid refresh_token: 3e565aed."}, {}
    )
    assert isinstance(spent, InvalidGrant)


# --- 2.6 user and vehicles ------------------------------------------------------------------


def test_user_vehicles_permissions() -> None:
    assert v2.parse_user(body('{"id": "e0514ef4-5226-11e8-8c13-8f6e8f02e27e"}'), META).id == (
        "e0514ef4-5226-11e8-8c13-8f6e8f02e27e"
    )
    page = v2.parse_vehicles(
        body('{"vehicles": ["36ab27d0-...", "770bdda4-..."], "paging": {"count": 2, "offset": 0}}'),
        META,
    )
    assert page.vehicle_ids == ("36ab27d0-...", "770bdda4-...")
    assert (page.count, page.offset) == (2, 0)
    permissions = v2.parse_permissions(
        body(
            '{"permissions": ["read_vehicle_info", "read_vin"], "paging": {"count": 2, "offset": 0}}'  # noqa: E501
        ),
        META,
    )
    assert permissions.permissions == ("read_vehicle_info", "read_vin")


# --- 3 endpoints (v2.0) -----------------------------------------------------------------------


def test_vehicle_attributes() -> None:
    info = v2.parse_attributes(
        body('{"id":"36ab27d0-...","make":"TESLA","model":"Model S","year":2014}'), META
    )
    assert (info.id, info.make, info.model, info.year) == ("36ab27d0-...", "TESLA", "Model S", 2014)
    # One docs example shows the year as a string.
    assert (
        v2.parse_attributes(
            body('{"id":"x","make":"TESLA","model":"Model S","year":"2014"}'), META
        ).year
        == 2014
    )


def test_vin_battery_capacity_charge_limit_location() -> None:
    assert v2.parse_vin(body('{"vin":"5YJSA1CN5DFP00101"}'), META).vin == "5YJSA1CN5DFP00101"
    battery = v2.parse_battery(body('{"percentRemaining":0.3,"range":40.5}'), META)
    assert (battery.percent_remaining, battery.range_km) == (0.3, 40.5)
    assert v2.parse_capacity(body('{"capacity":28}'), META).capacity_kwh == 28
    charge = v2.parse_charge(body('{"isPluggedIn":true,"state":"FULLY_CHARGED"}'), META)
    assert (charge.is_plugged_in, charge.state) == (True, "FULLY_CHARGED")
    assert v2.parse_charge_limit(body('{"limit":0.8}'), META).limit == 0.8
    location = v2.parse_location(body('{"latitude":37.4292,"longitude":-122.1381}'), META)
    assert (location.latitude, location.longitude) == (37.4292, -122.1381)
    command = v2.parse_command(
        body('{"status":"success","message":"Successfully sent request to vehicle"}'), META
    )
    assert (command.status, command.message) == ("success", "Successfully sent request to vehicle")


def test_soc_is_a_fraction_not_a_percentage() -> None:
    with pytest.raises(ResponseFormatError):
        v2.parse_battery(body('{"percentRemaining":58,"range":283.2}'), META)


def test_the_simplified_payments_guide_body_is_not_the_api() -> None:
    # Section 8: the guide shows {"message": "success"}; the API reference has status.
    with pytest.raises(ResponseFormatError):
        v2.parse_command(body('{"message": "success"}'), META)


def test_nominal_capacity_shapes() -> None:
    known = v2.parse_nominal_capacity(
        body("""{"availableCapacities": [{"capacity": 70.9, "description": null},
                         {"capacity": 90.9, "description": "BEV:Extended Range"}],
 "capacity": {"nominal": 70.9, "source": "SMARTCAR"},
 "url": null}"""),
        META,
    )
    assert (known.capacity_kwh, known.source, known.url) == (70.9, "SMARTCAR", None)
    assert [(a.capacity_kwh, a.description) for a in known.available] == [
        (70.9, None),
        (90.9, "BEV:Extended Range"),
    ]
    unknown = v2.parse_nominal_capacity(
        {
            "availableCapacities": [],
            "capacity": None,
            "url": "https://connect.smartcar.com/battery-capacity?vehicle_id=..&client_id=..&token=..&response_type=vehicle_id&redirect_uri=",
        },
        META,
    )
    assert unknown.capacity_kwh is None and unknown.url is not None


def test_batch() -> None:
    result = v2.parse_batch(
        body("""{"responses": [
  {"path": "/battery", "code": 200,
   "headers": {"sc-data-age": "2019-10-24T00:43:46.000Z", "sc-unit-system": "metric"},
   "body": {"percentRemaining": 0.58, "range": 283.2}},
  {"path": "/charge", "code": 409,
   "body": {"type": "VEHICLE_STATE", "code": "ASLEEP", "description": "...", "docURL": "...",
            "statusCode": 409, "requestId": "27767d51-...", "resolution": {"type": null}}},
  {"path": "/vin", "code": 200, "headers": {}, "body": {"vin": "5YJSA1CN5DFP00101"}}
]}"""),
        META,
        NOW,
    )
    battery, charge, vin = result.items
    assert isinstance(battery.value, Battery) and battery.value.percent_remaining == 0.58
    assert battery.meta.data_age == datetime(2019, 10, 24, 0, 43, 46, tzinfo=UTC)
    assert battery.meta.unit_system == "metric"
    assert battery.meta.request_id == META.request_id  # the top-level id applies to items
    assert isinstance(charge.error, VehicleStateError) and charge.error.code == "ASLEEP"
    assert charge.error.request_id == "27767d51-..."
    assert charge.value is None
    assert isinstance(vin.value, Vin) and vin.value.vin == "5YJSA1CN5DFP00101"


# --- 3.1 v3 ----------------------------------------------------------------------------------


def test_v3_signal_resource() -> None:
    value, meta = v3.parse_signal(
        body("""{"id": "charge-voltage", "type": "signal",
 "attributes": {"code": "charge-voltage", "name": "Voltage", "group": "Charge",
                "status": {"value": "SUCCESS"}, "body": {"unit": "volts", "value": 240}},
 "meta": {"retrievedAt": 1696156800000, "oemUpdatedAt": 1696156799000},
 "links": {"self": "/vehicles/<id>/signals/charge-voltage"}}"""),
        META,
        "charge-voltage",
    )
    assert value == {"unit": "volts", "value": 240}
    assert meta.fetched_at == datetime(2023, 10, 1, 10, 40, tzinfo=UTC)
    assert meta.data_age == datetime(2023, 10, 1, 10, 39, 59, tzinfo=UTC)
    # The spec examples use seconds (UNCONFIRMED unit): the same instant either way.
    _, seconds = v3.parse_signal(
        {"attributes": {"body": {"value": 1}}, "meta": {"retrievedAt": 1696156800}}, META, "x"
    )
    assert seconds.fetched_at == meta.fetched_at


def _resource(value: object) -> dict[str, object]:
    return {"attributes": {"status": {"value": "SUCCESS"}, "body": value}, "meta": {}}


def test_v3_signal_bodies() -> None:
    soc, _ = v3.parse_signal(_resource(body('{"unit":"percent","value":75}')), META, v3.SOC)
    assert v3.soc_fraction(soc) == 0.75  # 0..100 becomes a 0..1 fraction
    capacity, _ = v3.parse_signal(
        _resource(
            body(
                '{"source":"SMARTCAR","capacity":73.5,"availableCapacities":'
                '[{"capacity":73.5,"description":null}],"unit":"kWh"}'
            )
        ),
        META,
        v3.NOMINAL_CAPACITY,
    )
    nominal = v3.nominal_capacity(capacity, META)
    assert (nominal.capacity_kwh, nominal.source) == (73.5, "SMARTCAR")
    assert v3.charge_state("CHARGING", None) == "CHARGING"
    assert v3.charge_state(None, True) == "CHARGING"
    assert v3.charge_state(None, False) == "NOT_CHARGING"
    limits = body(
        '{"values":[{"type":"GLOBAL","limit":80,"condition":null}],"activeLimit":80,"unit":"percent"}'
    )
    assert limits["activeLimit"] / 100 == 0.8  # type: ignore[index]


def test_v3_vehicle_attributes() -> None:
    info = v3.parse_attributes(
        {
            "id": "36ab27d0",
            "type": "vehicle",
            "attributes": {"make": "TESLA", "model": "Model 3", "year": 2020},
            "links": {"self": "/vehicles/36ab27d0"},
        },
        META,
    )
    assert (info.id, info.make, info.model, info.year) == ("36ab27d0", "TESLA", "Model 3", 2020)


def test_v3_signal_error_status() -> None:
    with pytest.raises(VehicleStateError):
        v3.parse_signal(
            {
                "attributes": {
                    "status": {
                        "value": "ERROR",
                        "error": {
                            "type": "VEHICLE_STATE",
                            "code": "ASLEEP",
                            "resolution": {"type": "RETRY_LATER"},
                        },
                    }
                }
            },
            META,
            v3.SOC,
        )


# --- 4 errors --------------------------------------------------------------------------------


def test_v2_error_template() -> None:
    error = api_error(
        409,
        body("""{
  "type": "VEHICLE_STATE",
  "code": "ASLEEP",
  "description": "The vehicle is in a sleep state and temporarily unable to perform your request.",
  "docURL": "https://smartcar.com/docs/errors/api-errors/vehicle-state-errors#asleep",
  "statusCode": 409,
  "requestId": "5dea93a1-3f79-4246-90c5-89610a20471b",
  "resolution": {"type": null},
  "suggestedUserMessage": "Your vehicle is in a sleep state. ..."
}"""),
        {},
    )
    assert isinstance(error, VehicleStateError)
    assert (error.status, error.type, error.code) == (409, "VEHICLE_STATE", "ASLEEP")
    assert error.request_id == "5dea93a1-3f79-4246-90c5-89610a20471b"
    assert (
        error.doc_url == "https://smartcar.com/docs/errors/api-errors/vehicle-state-errors#asleep"
    )
    assert error.resolution is not None and error.resolution.type is None
    assert error.suggested_user_message == "Your vehicle is in a sleep state. ..."
    assert error.retry_later and not error.retryable


@pytest.mark.parametrize(
    ("text", "status", "cls", "headers"),
    [
        (
            '{"type":"AUTHENTICATION","code":null,"statusCode":401,"resolution":{"type":null},'
            '"description":"The authorization header is missing or malformed, or it contains'
            " invalid or expired authentication credentials. Please check for missing"
            ' parameters, spelling and casing mistakes, and other syntax issues.",'
            '"docURL":"https://smartcar.com/docs/errors/api-errors/authentication-errors#null"}',
            401,
            AuthenticationError,
            {},
        ),
        (
            '{"type":"PERMISSION","code":null,"statusCode":403,"resolution":{"type":"REAUTHENTICATE"},'
            '"docURL":"https://smartcar.com/docs/errors/api-errors/permission-errors#null"}',
            403,
            PermissionDenied,
            {},
        ),
        (
            '{"type":"RATE_LIMIT","code":"VEHICLE","statusCode":429,"resolution":{"type":"RETRY_LATER"},'
            '"docURL":"https://smartcar.com/docs/errors/api-errors/rate-limit-errors#vehicle"}',
            429,
            RateLimitError,
            {"Retry-After": "30"},
        ),
        (
            '{"type":"VEHICLE_STATE","code":"CHARGING_PLUG_NOT_CONNECTED","statusCode":409,'
            '"resolution":{"type":null},"suggestedUserMessage":"Your vehicle is not plugged in."}',
            409,
            VehicleStateError,
            {},
        ),
        (
            '{"type":"VEHICLE_STATE","code":"CHARGE_FAULT","statusCode":409,"resolution":{"type":null}}',
            409,
            VehicleStateError,
            {},
        ),
        (
            '{"type":"BILLING","code":"VEHICLE_REQUEST_LIMIT","statusCode":430,'
            '"resolution":{"type":"CONTACT_SUPPORT"}}',
            430,
            BillingError,
            {},
        ),
    ],
)
def test_selected_error_bodies(
    text: str, status: int, cls: type[Exception], headers: dict[str, str]
) -> None:
    error = api_error(status, body(text), headers)
    assert isinstance(error, cls)
    if headers:
        assert error.retry_after == 30.0


def test_v3_error_envelope() -> None:
    error = api_error(
        502,
        body("""{"errors": [{"status": "502", "type": "UPSTREAM", "code": "INVALID_DATA", "title": "Bad Gateway",
             "detail": "...", "links": {"about": "https://smartcar.com/docs/errors/..."},
             "resolution": {"type": "RETRY_LATER"}, "suggestedUserMessage": "..."}]}"""),  # noqa: E501
        {"SC-Request-Id": "r"},
    )
    assert isinstance(error, UpstreamError)
    assert (error.type, error.code, error.description) == ("UPSTREAM", "INVALID_DATA", "...")
    assert error.doc_url == "https://smartcar.com/docs/errors/..."
    assert error.resolution is not None and error.resolution.type == "RETRY_LATER"
    assert error.retryable


# --- 6 webhooks ----------------------------------------------------------------------------


def test_hmac_test_vector() -> None:
    assert sign("abc123abc123", b"9c9c9c9c") == (
        "2a596ed34b8c6f069492d952aa51f076fee7b1c662b6498e0217a0d41fd9b936"
    )


def test_verify_envelopes() -> None:
    current = b"""{"eventId": "52f6e0bb-...", "eventType": "VERIFY",
 "data": {"challenge": "3a5c8f72-e6d9-4b1a-9f2e-8c7d6a5b4e3f"},
 "meta": {"version": "4.0", "webhookId": "5a8e5e38-...", "webhookName": "Example Webhook",
          "deliveryId": "5d569643-...", "deliveredAt": 1761896351529}}"""
    assert parse_event(current) == ("3a5c8f72-e6d9-4b1a-9f2e-8c7d6a5b4e3f", [])
    legacy = b"""{"version": "2.0", "webhookId": "5a8e5e38-...", "eventName": "verify",
 "payload": {"challenge": "3a5c8f72-..."}}"""
    assert parse_event(legacy) == ("3a5c8f72-...", [])


def test_vehicle_state_event() -> None:
    challenge, [event] = parse_event(
        b"""{"eventId": "550e8400-...", "eventType": "VEHICLE_STATE", "vehicleId": "9af13248-...",
 "data": {
   "user": {"id": "93b3ea96-..."},
   "vehicle": {"id": "9af13248-...", "make": "TESLA", "model": "Model 3", "year": 2020},
   "triggers": [{"code": "tractionbattery-stateofcharge", "name": "StateOfCharge", "group": "TractionBattery"}],
   "signals": [
     {"code": "tractionbattery-stateofcharge", "name": "StateOfCharge", "group": "TractionBattery",
      "body": {"unit": "percent", "value": 78},
      "meta": {"oemUpdatedAt": 1731940328000, "fetchedAt": 1731940330000}},
     {"code": "charge-ischarging", "name": "IsCharging", "group": "Charge", "body": {"value": true},
      "meta": {"oemUpdatedAt": 1731940328000, "fetchedAt": 1731940330000}},
     {"code": "location-isathome", "name": "IsAtHome", "group": "Location",
      "status": {"value": "ERROR", "error": {"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"}}}
   ]},
 "meta": {"version": "4.0", "deliveryId": "48b25f8f-...", "deliveredAt": 1731940328000,
          "webhookId": "abde94ff-...", "webhookName": "Battery Monitoring", "signalCount": 3, "mode": "LIVE"}}"""  # noqa: E501
    )
    assert challenge is None
    assert (event.event_id, event.event_type, event.vehicle_id) == (
        "550e8400-...",
        "VEHICLE_STATE",
        "9af13248-...",
    )
    assert event.user_id == "93b3ea96-..."
    assert event.delivery_id == "48b25f8f-..."
    assert event.triggers == ("tractionbattery-stateofcharge",)
    assert set(event.signals) == {"tractionbattery-stateofcharge", "charge-ischarging"}
    update = state_update(event)
    assert update is not None
    assert update.soc_fraction == 0.78
    assert update.charging_state == "CHARGING"
    assert update.plugged_in is None  # not in this event
    assert update.observed_at == datetime.fromtimestamp(1731940328, UTC)


def test_top_level_triggers_form() -> None:
    _, [event] = parse_event(
        json.dumps(
            {
                "eventId": "e",
                "eventType": "VEHICLE_STATE",
                "vehicleId": "v",
                "triggers": [{"type": "SIGNAL_UPDATED", "signal": {"code": "charge-ischarging"}}],
                "data": {"signals": []},
                "meta": {"deliveredAt": "2025-10-31T07:39:11.529Z"},
            }
        ).encode()
    )
    assert event.triggers == ("charge-ischarging",)
    assert event.delivered_at == datetime(2025, 10, 31, 7, 39, 11, 529000, tzinfo=UTC)


def test_vehicle_error_event() -> None:
    _, [event] = parse_event(
        b"""{"eventId": "5a537912-...", "eventType": "VEHICLE_ERROR", "vehicleId": "123e4567-...",
 "data": {"user": {"id": "..."}, "vehicle": {"id": "...", "make": "TESLA", "model": "Model 3", "year": 2020},
   "errors": [{"type": "VEHICLE_STATE", "code": "UNREACHABLE", "state": "ERROR",
               "description": "...", "suggestedUserMessage": "...", "docURL": "...",
               "resolution": {"type": "RETRY_LATER"},
               "signals": [{"code": "location-preciselocation", "name": "PreciseLocation", "group": "Location"}]}]},
 "meta": {"version": "4.0", "deliveryId": "...", "deliveredAt": 1761896351529, "webhookId": "...",
          "webhookName": "...", "mode": "LIVE"}}"""  # noqa: E501
    )
    assert event.event_type == "VEHICLE_ERROR"
    assert event.errors[0]["code"] == "UNREACHABLE"
    assert state_update(event) is None


def test_legacy_payloads() -> None:
    _, [dynamic] = parse_event(
        b"""{"version": "2.0", "webhookId": "865ca68d-...", "eventName": "dynamic", "mode": "live",
   "payload": {"vehicles": [{"vehicleId": "0000...", "requestId": "25d743b8-...",
     "data": [{"path": "/battery", "code": 200, "body": {"range": 283.24, "percentRemaining": 0.58}}]}]}}"""  # noqa: E501
    )
    assert (dynamic.vehicle_id, dynamic.event_id) == ("0000...", "25d743b8-...")
    update = state_update(dynamic)
    assert update is not None and update.soc_fraction == 0.58
    _, [started] = parse_event(
        json.dumps(
            {
                "version": "2.0",
                "webhookId": "w",
                "eventName": "eventBased",
                "mode": "live",
                "payload": {
                    "eventId": "ev-1",
                    "vehicleId": "v-1",
                    "eventType": "CHARGING_STARTED",
                    "eventTime": "2022-05-01T10:00:00.000Z",
                },
            }
        ).encode()
    )
    update = state_update(started)
    assert update is not None
    assert (update.charging_state, update.plugged_in) == ("CHARGING", True)
