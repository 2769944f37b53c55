"""The charging loop both versions share: advance the meter, sample every interval."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from simulators.charger.model import ConnectorState, SessionControl


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``event``; True if it is set."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return event.is_set()
    return True


async def charge(
    conn: ConnectorState,
    control: SessionControl,
    *,
    power_w: float,
    time_scale: float,
    interval_s: Callable[[], float],
    sample: Callable[[], Awaitable[None]],
    duration_s: float | None,
    energy_wh: int | None,
    meter_samples: int | None,
    on_ev: Callable[[bool], Awaitable[None]] | None = None,
) -> int:
    """Charge ``conn`` until a limit or a stop request; ``sample()`` after every interval.

    ``interval_s`` is read before each step (the CSMS may change it mid-session) and is
    real seconds; the meter advances ``interval x time_scale`` simulated seconds per step
    at ``min(power_w, conn.ev_power_w)`` (the power the car takes at the step's end).
    ``on_ev(False)`` runs when the car stops taking energy (0 W: SuspendedEV) and
    ``on_ev(True)`` when it takes energy again. Returns how many samples were taken.
    """
    loop = asyncio.get_running_loop()
    target_mwh = None if energy_wh is None else energy_wh * 1000
    elapsed_s = 0.0
    delivered_mwh = samples = 0
    conn.charging = True
    taking = True

    async def follow_ev() -> None:
        nonlocal taking
        now = conn.offered_power_w(power_w) > 0
        if now != taking:
            taking = now
            if on_ev is not None:
                await on_ev(now)

    await follow_ev()
    while not (
        (duration_s is not None and elapsed_s >= duration_s - 1e-9)
        or (target_mwh is not None and delivered_mwh >= target_mwh)
        or (meter_samples is not None and samples >= meter_samples)
    ):
        interval = interval_s()
        began = loop.time()
        stopped = await wait_event(control.stop_requested, interval)
        step_s = (min(loop.time() - began, interval) if stopped else interval) * time_scale
        if duration_s is not None:
            step_s = min(step_s, duration_s - elapsed_s)
        step_mwh = round(conn.offered_power_w(power_w) * step_s / 3.6)
        if target_mwh is not None:
            step_mwh = min(step_mwh, target_mwh - delivered_mwh)
        conn.meter.add_mwh(step_mwh)
        elapsed_s += step_s
        delivered_mwh += step_mwh
        if stopped:
            break
        await follow_ev()
        await sample()
        samples += 1
    conn.charging = False
    return samples
