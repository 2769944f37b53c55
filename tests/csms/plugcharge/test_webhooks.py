"""With Smartcar webhooks configured, the car's own plug-in delivery decides the match:
no Smartcar call is spent on matching (polling is only the fallback)."""

from __future__ import annotations

import pytest

from tests.csms.plugcharge.conftest import SITE, World

pytestmark = pytest.mark.slow


@pytest.fixture
def pnc_webhooks() -> bool:
    return True


async def test_a_plug_in_webhook_matches_without_polling(world: World) -> None:
    driver = await world.driver("ada@example.com")
    charger = await world.charger("PNC-1", "ocpp1.6")
    coupling = await driver.cars[0].plug_into(charger, 1, location=SITE)
    attempt = await world.attempt_status("PNC-1", ("charging",))
    assert attempt["method"] == "smartcar_plug_state"
    assert attempt["account_id"] == driver.account_id
    matching, _ = await world.calls(attempt["id"])
    assert matching == 0
    polls = await world.system.fetch(
        "SELECT id FROM vehicle_readings WHERE attempt_id = $1 AND purpose = 'match'",
        attempt["id"],
    )
    assert polls == []  # decided from the delivered state (the car reports before the charger)
    applied = await world.system.fetch(
        "SELECT id FROM smartcar_webhook_events WHERE applied AND vehicle_id = $1",
        driver.vehicle_ids[0],
    )
    assert applied  # the deliveries were stored and applied to the car's state
    [car] = await world.system.fetch(
        "SELECT latitude FROM vehicles WHERE id = $1", driver.vehicle_ids[0]
    )
    assert car["latitude"] is not None  # the delivery carried the car's position
    await coupling.unplug()
