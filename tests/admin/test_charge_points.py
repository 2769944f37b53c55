from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csms.events import ChargerBooted, ConnectorStatus, StatusChanged, TransactionStarted
from csms.passwords import verify_password
from csms.store import charge_points, sessions
from tests.admin.conftest import Api, register

CP = "/api/v1/charge-points"


async def test_create_returns_the_charge_point_and_stores_a_hash(api: Api) -> None:
    reply = await api.post(
        CP,
        {
            "id": "CP-1",
            "password": "s3cret-pass-0123456",
            "protocol": "ocpp1.6",
            "location": {"latitude": 52.52, "longitude": 13.405},
            "time_zone": "Europe/Berlin",
        },
    )
    assert reply.status == 201, reply.body
    assert reply.headers["Location"] == "/api/v1/charge-points/CP-1"
    body = reply.body
    assert body["id"] == "CP-1"
    assert body["protocol"] == "ocpp1.6"
    assert body["location"] == {"latitude": 52.52, "longitude": 13.405}
    assert body["time_zone"] == "Europe/Berlin"
    assert body["online"] is False
    assert body["connectors"] == []
    assert body["registration_status"] is None
    assert body["boot"] == {
        "vendor": None,
        "model": None,
        "serial_number": None,
        "firmware_version": None,
        "last_boot_at": None,
        "details": None,
    }
    assert body["created_at"].endswith("Z")
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert "password" not in body
    assert "password_hash" not in body

    async with api.pool.acquire() as conn:
        stored = (await charge_points.credentials(conn, "CP-1") or ("", None))[0]
    assert stored is not None
    assert stored != "s3cret-pass-0123456"
    assert await verify_password("s3cret-pass-0123456", stored)


async def test_defaults_and_conflict(api: Api) -> None:
    first = await api.post(CP, {"id": "CP-2", "password": "1234567890123456"})
    assert first.status == 201
    assert first.body["protocol"] is None
    assert first.body["time_zone"] == "UTC"
    assert first.body["location"] is None

    again = await api.post(CP, {"id": "CP-2", "password": "other-password-123"})
    assert again.status == 409
    assert again.body["error"]["code"] == "conflict"
    assert again.body["error"]["field"] == "id"
    async with api.pool.acquire() as conn:
        stored = (await charge_points.credentials(conn, "CP-2") or ("", None))[0]
    assert stored is not None
    assert await verify_password("1234567890123456", stored)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "id": "CP",
                "password": "1234567890123456",
                "location": {"latitude": 91, "longitude": 0},
            },
            "location.latitude",
        ),
        (
            {
                "id": "CP",
                "password": "1234567890123456",
                "location": {"latitude": 0, "longitude": -181},
            },
            "location.longitude",
        ),
        (
            {"id": "CP", "password": "1234567890123456", "location": {"latitude": 0}},
            "location.longitude",
        ),
        (
            {"id": "CP", "password": "1234567890123456", "time_zone": "Mars/Olympus_Mons"},
            "time_zone",
        ),
        (
            {"id": "CP", "password": "1234567890123456", "time_zone": "../../etc/passwd"},
            "time_zone",
        ),
        ({"id": "CP", "password": "short"}, "password"),
        ({"id": "CP", "password": "x" * 65}, "password"),
        ({"id": "a/b", "password": "1234567890123456"}, "id"),
        ({"id": "", "password": "1234567890123456"}, "id"),
        ({"id": "x" * 49, "password": "1234567890123456"}, "id"),
        ({"id": "CP", "password": "1234567890123456", "protocol": "ocpp2.1"}, "protocol"),
        ({"id": "CP", "password": "1234567890123456", "colour": "red"}, "colour"),
        ({"password": "1234567890123456"}, "id"),
    ],
)
async def test_create_validation(api: Api, body: dict[str, object], field: str) -> None:
    reply = await api.post(CP, body)
    assert reply.status == 400, reply.body
    assert reply.body["error"]["code"] == "invalid_input"
    assert reply.body["error"]["field"] == field
    assert reply.body["error"]["message"]
    async with api.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM charge_points") == 0


async def test_bad_json_and_non_object_bodies(api: Api) -> None:
    bad = await api.call(
        "POST", CP, data=b'{"id": "CP",', headers={"Content-Type": "application/json"}
    )
    assert bad.status == 400
    assert bad.body["error"]["code"] == "invalid_json"
    nan = await api.call(
        "POST",
        CP,
        data=b'{"id": "CP", "password": "1234567890123456", '
        b'"location": {"latitude": NaN, "longitude": 0}}',
    )
    assert nan.body["error"]["code"] == "invalid_json"
    listed = await api.post(CP, ["CP"])
    assert listed.status == 400
    assert listed.body["error"]["code"] == "invalid_input"
    empty = await api.call("POST", CP)
    assert empty.status == 400
    assert empty.body["error"]["field"] == "id"


async def test_get_shows_connectors_boot_and_online(api: Api) -> None:
    await register(api.pool, "CP-3")
    at = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    async with api.pool.acquire() as conn:
        await charge_points.record_boot(
            conn,
            "CP-3",
            ChargerBooted("ACME", "Fast-22", "SN1", "1.2.3", {"iccid": "89"}),
            "Accepted",
            at,
        )
        for connector, status in ((0, ConnectorStatus.AVAILABLE), (1, ConnectorStatus.CHARGING)):
            await charge_points.record_status(
                conn,
                "CP-3",
                StatusChanged(
                    connector, connector, status, status.value, "NoError", None, None, None, at
                ),
            )

    reply = await api.get(f"{CP}/CP-3")
    assert reply.status == 200
    body = reply.body
    assert body["registration_status"] == "Accepted"
    assert body["boot"] == {
        "vendor": "ACME",
        "model": "Fast-22",
        "serial_number": "SN1",
        "firmware_version": "1.2.3",
        "last_boot_at": "2026-01-15T12:00:00Z",
        "details": {"iccid": "89"},
    }
    assert body["last_seen_at"] == "2026-01-15T12:00:00Z"
    assert body["connectors"] == [
        {
            "evse_id": 0,
            "connector_id": 0,
            "status": "Available",
            "raw_status": "Available",
            "error_code": "NoError",
            "info": None,
            "status_at": "2026-01-15T12:00:00Z",
        },
        {
            "evse_id": 1,
            "connector_id": 1,
            "status": "Charging",
            "raw_status": "Charging",
            "error_code": "NoError",
            "info": None,
            "status_at": "2026-01-15T12:00:00Z",
        },
    ]
    assert body["online"] is False

    listed = await api.get(CP)
    assert listed.body["items"] == [body]


async def test_unknown_charge_point_is_404(api: Api) -> None:
    for reply in (
        await api.get(f"{CP}/nope"),
        await api.patch(f"{CP}/nope", {}),
        await api.delete(f"{CP}/nope"),
    ):
        assert reply.status == 404
        assert reply.body["error"]["code"] == "not_found"


async def test_list_pages_by_id(api: Api) -> None:
    ids = ["CP-a", "CP-b", "CP-c", "CP-d", "CP-e"]
    for charge_point_id in reversed(ids):
        await register(api.pool, charge_point_id)
    async with api.pool.acquire() as conn:
        await charge_points.record_status(
            conn,
            "CP-d",
            StatusChanged(
                1,
                1,
                ConnectorStatus.AVAILABLE,
                "Available",
                None,
                None,
                None,
                None,
                datetime(2026, 1, 1, tzinfo=UTC),
            ),
        )
    pages = await api.all_pages(CP, limit=2)
    assert [[item["id"] for item in page] for page in pages] == [
        ["CP-a", "CP-b"],
        ["CP-c", "CP-d"],
        ["CP-e"],
    ]
    assert [c["status"] for c in pages[1][1]["connectors"]] == ["Available"]
    assert pages[1][0]["connectors"] == []
    # A full last page is not followed by an empty one.
    assert len(await api.all_pages(CP, limit=5)) == 1

    for params, field in (
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
    ):
        reply = await api.get(CP, params=params)
        assert reply.status == 400
        assert reply.body["error"]["field"] == field


async def test_patch(api: Api) -> None:
    await api.post(
        CP,
        {
            "id": "CP-4",
            "password": "first-password-1234",
            "location": {"latitude": 1, "longitude": 2},
        },
    )
    reply = await api.patch(
        f"{CP}/CP-4", {"time_zone": "America/New_York", "protocol": "ocpp2.0.1"}
    )
    assert reply.status == 200, reply.body
    assert reply.body["time_zone"] == "America/New_York"
    assert reply.body["protocol"] == "ocpp2.0.1"
    assert reply.body["location"] == {"latitude": 1.0, "longitude": 2.0}

    cleared = await api.patch(f"{CP}/CP-4", {"location": None})
    assert cleared.body["location"] is None
    assert cleared.body["time_zone"] == "America/New_York"

    moved = await api.patch(f"{CP}/CP-4", {"location": {"latitude": -33.9, "longitude": 151.2}})
    assert moved.body["location"] == {"latitude": -33.9, "longitude": 151.2}

    async with api.pool.acquire() as conn:
        before = (await charge_points.credentials(conn, "CP-4") or ("", None))[0]
    assert (await api.patch(f"{CP}/CP-4", {"password": "second-password-1234"})).status == 200
    async with api.pool.acquire() as conn:
        after = (await charge_points.credentials(conn, "CP-4") or ("", None))[0]
    assert after is not None
    assert after != before
    assert await verify_password("second-password-1234", after)
    assert not await verify_password("first-password-1234", after)

    for body, field in (
        ({"password": "short"}, "password"),
        ({"password": None}, "password"),
        ({"time_zone": "Nowhere/Town"}, "time_zone"),
        ({"time_zone": None}, "time_zone"),
        ({"id": "CP-5"}, "id"),
        ({"location": {"latitude": 0, "longitude": 200}}, "location.longitude"),
    ):
        bad = await api.patch(f"{CP}/CP-4", body)
        assert bad.status == 400, body
        assert bad.body["error"]["field"] == field

    unchanged = await api.get(f"{CP}/CP-4")
    assert unchanged.body["location"] == {"latitude": -33.9, "longitude": 151.2}


async def test_delete(api: Api) -> None:
    await register(api.pool, "CP-6")
    assert (await api.delete(f"{CP}/CP-6")).status == 204
    assert (await api.get(f"{CP}/CP-6")).status == 404
    assert (await api.delete(f"{CP}/CP-6")).status == 404


async def test_delete_refused_while_it_has_sessions(api: Api) -> None:
    await register(api.pool, "CP-7")
    async with api.pool.acquire() as conn:
        await sessions.insert_started(
            conn,
            charge_point_id="CP-7",
            protocol="ocpp1.6",
            started=TransactionStarted(1, 1, "TAG", 0, datetime(2026, 1, 1, tzinfo=UTC)),
            start_key="k1",
            id_token_status="Accepted",
            account_id=None,
        )
    reply = await api.delete(f"{CP}/CP-7")
    assert reply.status == 409
    assert reply.body["error"]["code"] == "conflict"
    assert (await api.get(f"{CP}/CP-7")).status == 200
