"""Connect (authorize, consent form) and the token endpoints."""

from __future__ import annotations

import re
import uuid

import aiohttp
from yarl import URL

from tests.simulators.smartcar import reference
from tests.simulators.smartcar.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT,
    Harness,
    StartSim,
)

BASIC = aiohttp.encode_basic_auth(CLIENT_ID, CLIENT_SECRET)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


async def test_test_mode_auto_consents_and_the_code_buys_tokens(harness: Harness) -> None:
    location = await harness.authorize(state="csrf-123")
    assert str(location).startswith(REDIRECT + "?")
    assert location.query["state"] == "csrf-123"
    assert set(location.query) == {"code", "state"}
    resp = await harness.token(
        {
            "grant_type": "authorization_code",
            "code": location.query["code"],
            "redirect_uri": REDIRECT,
        }
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    body = await resp.json()
    reference.assert_shape(body, reference.TOKEN)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 7200
    assert UUID.match(body["access_token"])
    assert UUID.match(body["refresh_token"])
    assert body["access_token"] != body["refresh_token"]
    user = await harness.get("/v2.0/user", body["access_token"])
    assert user.status == 200
    reference.assert_shape(await user.json(), reference.USER)


async def test_authorize_refuses_unknown_clients_and_redirect_uris(harness: Harness) -> None:
    base = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT}
    for bad in ({"client_id": "someone-else"}, {"redirect_uri": "https://evil.example/cb"}):
        resp = await harness.http.get(
            harness.url("/oauth/authorize"), params={**base, **bad}, allow_redirects=False
        )
        assert resp.status == 400  # no redirect to an unverified place
        assert "Location" not in resp.headers


async def test_authorize_redirects_parameter_errors_with_state(harness: Harness) -> None:
    for params, error in (
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "read_vin fly_car"}, "invalid_scope"),
        ({"mode": "dream"}, "invalid_request"),
        ({"sim_decision": "deny"}, "access_denied"),
    ):
        location = await harness.authorize(state="s-9", **params)
        assert location.query["error"] == error, params
        assert location.query["state"] == "s-9"
        assert "error_description" in location.query
        assert "code" not in location.query


async def test_default_redirect_uri_and_required_prefix(harness: Harness) -> None:
    location = await harness.authorize(redirect_uri="", scope="required:read_vin read_battery")
    assert str(location).startswith(REDIRECT)
    # Connect got no redirect_uri, so the exchange may leave it out too.
    without = await harness.token(
        {"grant_type": "authorization_code", "code": location.query["code"]}
    )
    assert without.status == 200
    tokens = await harness.connect(scope="required:read_vin read_battery")
    vehicles = await (await harness.get("/v2.0/vehicles", tokens["access_token"])).json()
    perms = await harness.get(
        f"/v2.0/vehicles/{vehicles['vehicles'][0]}/permissions", tokens["access_token"]
    )
    assert (await perms.json())["permissions"] == ["read_battery", "read_vin"]


async def test_consent_form_for_people(harness: Harness) -> None:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "read_vin read_battery",
        "state": "abc",
    }
    page = await harness.http.get(harness.url("/oauth/authorize"), params=params)
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    text = await page.text()
    assert "<form" in text
    assert 'value="approve"' in text
    assert 'value="deny"' in text
    user = next(iter(harness.sim.users.values()))
    assert user.email in text

    deny = await harness.http.post(
        harness.url("/oauth/authorize"), data={**params, "decision": "deny"}, allow_redirects=False
    )
    location = URL(deny.headers["Location"])
    assert deny.status == 302
    assert location.query["error"] == "access_denied"
    assert location.query["state"] == "abc"

    approve = await harness.http.post(
        harness.url("/oauth/authorize"),
        data={**params, "decision": "approve", "sim_user": user.id},
        allow_redirects=False,
    )
    location = URL(approve.headers["Location"])
    assert location.query["state"] == "abc"
    resp = await harness.token(
        {
            "grant_type": "authorization_code",
            "code": location.query["code"],
            "redirect_uri": REDIRECT,
        }
    )
    tokens = await resp.json()
    listed = await (await harness.get("/v2.0/vehicles", tokens["access_token"])).json()
    assert listed["vehicles"] == [v.id for v in harness.sim.vehicles_of(user.id)]


async def test_code_is_single_use(harness: Harness) -> None:
    code = (await harness.authorize()).query["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    assert (await harness.token(form)).status == 200
    again = await harness.token(form)
    assert again.status == 400
    assert await again.json() == {
        "error": "invalid_grant",
        "error_description": f"Invalid code: {code}.",
    }


async def test_code_expires_after_ten_minutes(harness: Harness) -> None:
    early = (await harness.authorize()).query["code"]
    late = (await harness.authorize()).query["code"]
    harness.clock.advance(599)
    ok = await harness.token(
        {"grant_type": "authorization_code", "code": early, "redirect_uri": REDIRECT}
    )
    assert ok.status == 200
    harness.clock.advance(2)
    expired = await harness.token(
        {"grant_type": "authorization_code", "code": late, "redirect_uri": REDIRECT}
    )
    assert expired.status == 400
    assert (await expired.json())["error"] == "invalid_grant"


async def test_token_endpoint_checks_client_and_request(harness: Harness) -> None:
    code = (await harness.authorize()).query["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    for auth in ("", "Basic " + "bm9wZTpub3Bl", f"Bearer {CLIENT_SECRET}"):
        resp = await harness.token(form, auth=auth)
        assert resp.status == 401
        assert (await resp.json())["error"] == "invalid_client"
    wrong_uri = await harness.token({**form, "redirect_uri": "https://csms.example/other"})
    assert (await wrong_uri.json())["error"] == "invalid_grant"
    unsupported = await harness.token({"grant_type": "password"})
    assert unsupported.status == 400
    assert (await unsupported.json())["error"] == "unsupported_grant_type"
    missing = await harness.token({"grant_type": "refresh_token"})
    assert (await missing.json())["error"] == "invalid_request"
    as_json = await harness.http.post(
        harness.url("/oauth/token"),
        json=form,
        headers={"Authorization": BASIC},
    )
    assert as_json.status == 400
    no_agent = await harness.http.post(
        harness.url("/oauth/token"),
        data=form,
        headers={"Authorization": BASIC},
        skip_auto_headers=["User-Agent"],
    )
    assert no_agent.status == 400
    # The code survived all of that.
    assert (await harness.token(form)).status == 200


async def test_refresh_rotates_both_tokens(harness: Harness) -> None:
    first = await harness.connect()
    resp = await harness.token(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert resp.status == 200
    second = await resp.json()
    reference.assert_shape(second, reference.TOKEN)
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    reuse = await harness.token(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert reuse.status == 400
    assert await reuse.json() == {
        "error": "invalid_grant",
        "error_description": f"Invalid refresh_token: {first['refresh_token']}.",
    }
    third = await harness.token(
        {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    )
    assert third.status == 200
    # The old access token stays valid until its own expiry, 2 h after issue.
    assert (await harness.get("/v2.0/user", first["access_token"])).status == 200
    harness.clock.advance(7200)
    expired = await harness.get("/v2.0/user", first["access_token"])
    assert expired.status == 401
    assert (await expired.json())["type"] == "AUTHENTICATION"


async def test_refresh_grace_period_returns_the_same_pair(start_sim: StartSim) -> None:
    harness = await start_sim(refresh_grace_s=60)
    first = await harness.connect()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    a = await (await harness.token(form)).json()
    harness.clock.advance(30)
    b = await (await harness.token(form)).json()
    assert a == b
    harness.clock.advance(31)
    assert (await harness.token(form)).status == 400


async def test_refresh_token_lives_sixty_days(harness: Harness) -> None:
    tokens = await harness.connect()
    harness.clock.advance(60 * 24 * 3600)
    resp = await harness.token(
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert resp.status == 400


async def test_login_choice_single_select_vin_and_make(harness: Harness) -> None:
    owner = await harness.control("POST", "/users", {"email": "fleet@example.com"})
    cars = [
        await harness.control("POST", "/vehicles", {"owner": owner["id"], "make": make})
        for make in ("TESLA", "FORD", "FORD")
    ]
    tokens = await harness.connect(sim_user="fleet@example.com")
    listed = await (await harness.get("/v2.0/vehicles", tokens["access_token"])).json()
    assert listed["vehicles"] == [c["id"] for c in cars]
    tokens = await harness.connect(single_select_vin=cars[1]["vin"])
    listed = await (await harness.get("/v2.0/vehicles", tokens["access_token"])).json()
    assert listed["vehicles"] == [cars[1]["id"]]
    tokens = await harness.connect(sim_user=owner["id"], make="ford")
    listed = await (await harness.get("/v2.0/vehicles", tokens["access_token"])).json()
    assert listed["vehicles"] == [cars[1]["id"], cars[2]["id"]]
    tokens = await harness.connect(sim_user=owner["id"], single_select="true")
    listed = await (await harness.get("/v2.0/vehicles", tokens["access_token"])).json()
    assert listed["vehicles"] == [cars[0]["id"]]


async def test_test_account_emails(harness: Harness) -> None:
    location = await harness.authorize(sim_user="smartcar@vehicle-incompatible.com")
    assert location.query["error"] == "vehicle_incompatible"
    assert {"vin", "make", "model", "year"} <= set(location.query)
    location = await harness.authorize(sim_user="smartcar@invalid-subscription.com")
    assert location.query["error"] == "invalid_subscription"
    empty = await harness.control("POST", "/users", {"email": "nobody@example.com"})
    location = await harness.authorize(sim_user=empty["id"])
    assert location.query["error"] == "no_vehicles"

    tokens = await harness.connect(sim_user="VEHICLE_STATE.ASLEEP@smartcar.com")
    vid = (await (await harness.get("/v2.0/vehicles", tokens["access_token"])).json())["vehicles"][
        0
    ]
    asleep = await harness.get(f"/v2.0/vehicles/{vid}/battery", tokens["access_token"])
    assert asleep.status == 409
    assert (await asleep.json())["code"] == "ASLEEP"
    # Static endpoints are not affected, as with Smartcar's own test accounts.
    assert (await harness.get(f"/v2.0/vehicles/{vid}/vin", tokens["access_token"])).status == 200


async def test_redirect_carries_user_id_when_configured(start_sim: StartSim) -> None:
    harness = await start_sim(redirect_user_id=True)
    location = await harness.authorize()
    assert location.query["user_id"] in harness.sim.users


async def test_app_token_client_credentials(harness: Harness) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    resp = await harness.http.post(harness.url("/oauth2/token"), data=form)
    assert resp.status == 200
    body = await resp.json()
    reference.assert_shape(body, reference.APP_TOKEN)
    assert body["expires_in"] == 3600
    assert "refresh_token" not in body
    uuid.UUID(body["access_token"])
    bad = await harness.http.post(harness.url("/oauth2/token"), data={**form, "client_secret": "x"})
    assert bad.status == 401
    assert (await bad.json())["error"] == "invalid_client"
    wrong = await harness.http.post(harness.url("/oauth2/token"), data={**form, "grant_type": "x"})
    assert wrong.status == 400
    assert (await wrong.json())["error"] == "invalid_request"
    # An app token is not a per-user token: v2 refuses it.
    assert (await harness.get("/v2.0/user", body["access_token"])).status == 401
