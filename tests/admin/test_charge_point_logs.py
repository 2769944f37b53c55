from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.events import ConnectorStatus, StatusChanged
from csms.store import charge_points, message_log
from tests.admin.conftest import Api, register

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


async def test_message_log_newest_first_and_paged(api: Api) -> None:
    await register(api.pool, "CP-1")
    await register(api.pool, "CP-2")
    frames = [
        message_log.LoggedFrame(
            "CP-1",
            "in" if i % 2 == 0 else "out",
            2,
            f"u{i}",
            "Heartbeat",
            f'[2,"u{i}","Heartbeat",{{}}]',
            False,
            T0 + timedelta(seconds=i),
        )
        for i in range(5)
    ]
    frames.append(message_log.LoggedFrame("CP-2", "in", None, None, None, "not json", True, T0))
    async with api.pool.acquire() as conn:
        await message_log.append(conn, frames)

    pages = await api.all_pages("/api/v1/charge-points/CP-1/messages", limit=2)
    items = [m for page in pages for m in page]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [m["unique_id"] for m in items] == ["u4", "u3", "u2", "u1", "u0"]
    ids = [m["id"] for m in items]
    assert ids == sorted(ids, reverse=True)
    assert items[0] == {
        "id": ids[0],
        "direction": "in",
        "message_type": 2,
        "unique_id": "u4",
        "action": "Heartbeat",
        "frame": '[2,"u4","Heartbeat",{}]',
        "truncated": False,
        "logged_at": "2026-01-15T12:00:04Z",
    }

    other = (await api.get("/api/v1/charge-points/CP-2/messages")).body
    assert [(m["frame"], m["truncated"]) for m in other["items"]] == [("not json", True)]
    assert other["next"] is None

    assert (await api.get("/api/v1/charge-points/CP-3/messages")).status == 404
    bad = await api.get("/api/v1/charge-points/CP-1/messages", params={"cursor": "u4"})
    assert bad.status == 400
    assert bad.body["error"]["field"] == "cursor"


async def test_status_history_orders_by_status_time(api: Api) -> None:
    await register(api.pool, "CP-1")
    # Reported out of order (a charger replaying its queue): status time decides.
    reports = [
        (3, ConnectorStatus.FINISHING),
        (1, ConnectorStatus.PREPARING),
        (2, ConnectorStatus.CHARGING),
        (0, ConnectorStatus.AVAILABLE),
    ]
    async with api.pool.acquire() as conn:
        for minute, status in reports:
            await charge_points.record_status(
                conn,
                "CP-1",
                StatusChanged(
                    1,
                    1,
                    status,
                    status.value,
                    None,
                    None,
                    None,
                    None,
                    T0 + timedelta(minutes=minute),
                ),
            )
    pages = await api.all_pages("/api/v1/charge-points/CP-1/status-history", limit=3)
    assert [[s["status"] for s in page] for page in pages] == [
        ["Finishing", "Charging", "Preparing"],
        ["Available"],
    ]
    assert pages[0][0]["status_at"] == "2026-01-15T12:03:00Z"
    # The current connector state follows the newest status time, not the arrival order.
    current = (await api.get("/api/v1/charge-points/CP-1")).body["connectors"]
    assert [c["status"] for c in current] == ["Finishing"]
    assert (await api.get("/api/v1/charge-points/nope/status-history")).status == 404


async def test_events_newest_first(api: Api) -> None:
    await register(api.pool, "CP-1")
    async with api.pool.acquire() as conn:
        for index, status in enumerate(("Downloading", "Downloaded", "Installed")):
            await charge_points.record_event(conn, "CP-1", "firmware", status, {"n": index})
    pages = await api.all_pages("/api/v1/charge-points/CP-1/events", limit=2)
    items = [e for page in pages for e in page]
    assert [(e["kind"], e["status"], e["payload"]) for e in items] == [
        ("firmware", "Installed", {"n": 2}),
        ("firmware", "Downloaded", {"n": 1}),
        ("firmware", "Downloading", {"n": 0}),
    ]
    assert len(pages) == 2
