"""Literal examples from shared/reference/smartcar-api.md, as test constants.

The simulator's answers are compared with these by key set and value type (and units),
never by value: the values are the reference's sample data.
"""

from __future__ import annotations

from typing import Any

# 2.3 code exchange / 2.4 refresh
TOKEN: dict[str, Any] = {
    "access_token": "cf7ba7e9-8c5d-417d-a99f-c386cfc235cc",
    "token_type": "Bearer",
    "expires_in": 7200,
    "refresh_token": "3e565aed-d4b2-4296-9b4c-aec35825a6aa",
}
# 2.5 iam client_credentials
APP_TOKEN: dict[str, Any] = {"access_token": "...", "token_type": "Bearer", "expires_in": 3600}
# 2.6
USER: dict[str, Any] = {"id": "e0514ef4-5226-11e8-8c13-8f6e8f02e27e"}
VEHICLES: dict[str, Any] = {
    "vehicles": ["36ab27d0-...", "770bdda4-..."],
    "paging": {"count": 2, "offset": 0},
}
PERMISSIONS: dict[str, Any] = {
    "permissions": ["read_vehicle_info", "read_vin"],
    "paging": {"count": 2, "offset": 0},
}
DISCONNECT: dict[str, Any] = {"status": "success"}
CONNECTIONS: dict[str, Any] = {
    "connections": [
        {
            "userId": "d2f6...",
            "vehicleId": "bcf1...",
            "connectedAt": "2023-08-10T15:00:00.000Z",
            "mode": "live",
        }
    ],
    "paging": {"cursor": "opaque-or-null"},
}
# 3 (v2.0 endpoints)
ATTRIBUTES: dict[str, Any] = {
    "id": "36ab27d0-...",
    "make": "TESLA",
    "model": "Model S",
    "year": 2014,
}
VIN: dict[str, Any] = {"vin": "5YJSA1CN5DFP00101"}
BATTERY: dict[str, Any] = {"percentRemaining": 0.3, "range": 40.5}
CAPACITY: dict[str, Any] = {"capacity": 28}
CHARGE: dict[str, Any] = {"isPluggedIn": True, "state": "FULLY_CHARGED"}
COMMAND: dict[str, Any] = {"status": "success", "message": "Successfully sent request to vehicle"}
CHARGE_LIMIT: dict[str, Any] = {"limit": 0.8}
LOCATION: dict[str, Any] = {"latitude": 37.4292, "longitude": -122.1381}
ODOMETER: dict[str, Any] = {"distance": 104.32}
SUBSCRIBE: dict[str, Any] = {"webhookId": "9b6a...", "vehicleId": "dc6e..."}
NOMINAL_CAPACITY: dict[str, Any] = {
    "availableCapacities": [
        {"capacity": 70.9, "description": None},
        {"capacity": 90.9, "description": "BEV:Extended Range"},
    ],
    "capacity": {"nominal": 70.9, "source": "SMARTCAR"},
    "url": None,
}
BATCH: dict[str, Any] = {
    "responses": [
        {
            "path": "/battery",
            "code": 200,
            "headers": {"sc-data-age": "2019-10-24T00:43:46.000Z", "sc-unit-system": "metric"},
            "body": {"percentRemaining": 0.58, "range": 283.2},
        },
        {
            "path": "/charge",
            "code": 409,
            "body": {
                "type": "VEHICLE_STATE",
                "code": "ASLEEP",
                "description": "...",
                "docURL": "...",
                "statusCode": 409,
                "requestId": "27767d51-...",
                "resolution": {"type": None},
            },
        },
        {"path": "/vin", "code": 200, "headers": {}, "body": {"vin": "5YJSA1CN5DFP00101"}},
    ]
}
BATCH_MALFORMED_DETAIL = [{"field": ["requests"], "message": '"requests" is required'}]
# 1.5 response headers
HEADERS: dict[str, Any] = {
    "SC-Request-Id": "26c14915-0c26-43c5-8e42-9edfc2a66a0f",
    "SC-Data-Age": "2018-06-20T01:33:37.078Z",
    "SC-Fetched-At": "2018-06-20T01:48:37.078Z",
    "SC-Unit-System": "metric",
}
# 4.1 error body
ERROR: dict[str, Any] = {
    "type": "VEHICLE_STATE",
    "code": "ASLEEP",
    "description": (
        "The vehicle is in a sleep state and temporarily unable to perform your request."
    ),
    "docURL": "https://smartcar.com/docs/errors/api-errors/vehicle-state-errors#asleep",
    "statusCode": 409,
    "requestId": "5dea93a1-3f79-4246-90c5-89610a20471b",
    "resolution": {"type": None},
    "suggestedUserMessage": "Your vehicle is in a sleep state. ...",
}
AUTHENTICATION_ERROR: dict[str, Any] = {
    "type": "AUTHENTICATION",
    "code": None,
    "statusCode": 401,
    "resolution": {"type": None},
    "docURL": "https://smartcar.com/docs/errors/api-errors/authentication-errors#null",
}
PERMISSION_ERROR: dict[str, Any] = {
    "type": "PERMISSION",
    "code": None,
    "statusCode": 403,
    "resolution": {"type": "REAUTHENTICATE"},
    "docURL": "https://smartcar.com/docs/errors/api-errors/permission-errors#null",
}
RATE_LIMIT_VEHICLE_ERROR: dict[str, Any] = {
    "type": "RATE_LIMIT",
    "code": "VEHICLE",
    "statusCode": 429,
    "resolution": {"type": "RETRY_LATER"},
    "docURL": "https://smartcar.com/docs/errors/api-errors/rate-limit-errors#vehicle",
}
PLUG_ERROR: dict[str, Any] = {
    "type": "VEHICLE_STATE",
    "code": "CHARGING_PLUG_NOT_CONNECTED",
    "statusCode": 409,
    "resolution": {"type": None},
    "suggestedUserMessage": "Your vehicle is not plugged in.",
}
BILLING_ERROR: dict[str, Any] = {
    "type": "BILLING",
    "code": "VEHICLE_REQUEST_LIMIT",
    "statusCode": 430,
    "resolution": {"type": "CONTACT_SUPPORT"},
}
# 3.1 v3
V3_ERROR: dict[str, Any] = {
    "errors": [
        {
            "status": "502",
            "type": "UPSTREAM",
            "code": "INVALID_DATA",
            "title": "Bad Gateway",
            "detail": "...",
            "links": {"about": "https://smartcar.com/docs/errors/..."},
            "resolution": {"type": "RETRY_LATER"},
            "suggestedUserMessage": "...",
        }
    ]
}
SIGNAL: dict[str, Any] = {
    "id": "charge-voltage",
    "type": "signal",
    "attributes": {
        "code": "charge-voltage",
        "name": "Voltage",
        "group": "Charge",
        "status": {"value": "SUCCESS"},
        "body": {"unit": "volts", "value": 240},
    },
    "meta": {"retrievedAt": 1696156800000, "oemUpdatedAt": 1696156799000},
    "links": {"self": "/vehicles/<id>/signals/charge-voltage"},
}
V3_SOC_BODY: dict[str, Any] = {"unit": "percent", "value": 75}
V3_RANGE_BODY: dict[str, Any] = {"unit": "kilometers", "value": 350}
V3_LIMITS_BODY: dict[str, Any] = {
    "values": [{"type": "GLOBAL", "limit": 80, "condition": None}],
    "activeLimit": 80,
    "unit": "percent",
}
V3_LOCATION_BODY_KEYS = {"latitude", "longitude", "heading", "direction", "locationType"}
# 6.2 / 6.4 webhooks
VERIFY: dict[str, Any] = {
    "eventId": "52f6e0bb-...",
    "eventType": "VERIFY",
    "data": {"challenge": "3a5c8f72-e6d9-4b1a-9f2e-8c7d6a5b4e3f"},
    "meta": {
        "version": "4.0",
        "webhookId": "5a8e5e38-...",
        "webhookName": "Example Webhook",
        "deliveryId": "5d569643-...",
        "deliveredAt": 1761896351529,
    },
}
VEHICLE_STATE: dict[str, Any] = {
    "eventId": "550e8400-...",
    "eventType": "VEHICLE_STATE",
    "vehicleId": "9af13248-...",
    "data": {
        "user": {"id": "93b3ea96-..."},
        "vehicle": {"id": "9af13248-...", "make": "TESLA", "model": "Model 3", "year": 2020},
        "triggers": [
            {
                "code": "tractionbattery-stateofcharge",
                "name": "StateOfCharge",
                "group": "TractionBattery",
            }
        ],
        "signals": [
            {
                "code": "tractionbattery-stateofcharge",
                "name": "StateOfCharge",
                "group": "TractionBattery",
                "body": {"unit": "percent", "value": 78},
                "meta": {"oemUpdatedAt": 1731940328000, "fetchedAt": 1731940330000},
            },
        ],
    },
    "meta": {
        "version": "4.0",
        "deliveryId": "48b25f8f-...",
        "deliveredAt": 1731940328000,
        "webhookId": "abde94ff-...",
        "webhookName": "Battery Monitoring",
        "signalCount": 3,
        "mode": "LIVE",
    },
}
VEHICLE_ERROR_ITEM_KEYS = {
    "type",
    "code",
    "state",
    "description",
    "suggestedUserMessage",
    "docURL",
    "resolution",
    "signals",
}
# 6.3 our own test vector
HMAC_VECTOR = (
    "abc123abc123",
    "9c9c9c9c",
    "2a596ed34b8c6f069492d952aa51f076fee7b1c662b6498e0217a0d41fd9b936",
)


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


# "suggestedUserMessage is on most codes"; "detail" only on VALIDATION.
OPTIONAL_KEYS = {"suggestedUserMessage", "detail"}
# Fields the reference documents as "a string or null".
NULLABLE = (".resolution.type", ".code", ".description", ".capacity", ".url")


def assert_shape(actual: Any, reference: Any, path: str = "$") -> None:
    """Same keys at every level, same JSON types; lists are compared item by item with the
    reference's first item. Only the documented nullable fields may be null instead."""
    if isinstance(reference, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        difference = set(actual) ^ set(reference)
        assert difference <= OPTIONAL_KEYS, f"{path}: keys {sorted(actual)} != {sorted(reference)}"
        for key, ref in reference.items():
            if key in actual:
                assert_shape(actual[key], ref, f"{path}.{key}")
    elif isinstance(reference, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {actual!r}"
        if reference:
            for i, item in enumerate(actual):
                assert_shape(item, reference[0], f"{path}[{i}]")
    elif None in (actual, reference) and path.endswith(NULLABLE):
        return
    else:
        assert kind(actual) == kind(reference), f"{path}: {actual!r} is not like {reference!r}"
