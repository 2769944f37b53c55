"""Version-neutral pieces of the simulated charger.

Configuration, per-connector state, the energy meter model and the offline queue of
transaction messages. Nothing here knows about an OCPP version.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

OCPP16 = "ocpp1.6"
OCPP201 = "ocpp2.0.1"


class ChargerOffline(ConnectionError):
    """A message could not be delivered: no connection, no reply, or connection lost."""


@dataclass(frozen=True)
class ChargerConfig:
    """How one simulated charger identifies itself and behaves."""

    url: str
    charge_point_id: str
    password: str | None = None
    protocol: str = OCPP16
    connectors: int = 2
    vendor: str = "SimVendor"
    model: str = "SimModel-1"
    serial_number: str | None = None
    firmware_version: str = "1.0.0"
    power_w: int = 11_000
    meter_interval_s: float = 1.0
    meter_start_wh: int = 1_000_000
    call_timeout_s: float = 10.0
    phases: int = 3
    voltage_v: float = 230.0
    # Send Heartbeat every HeartbeatInterval (from BootNotification or configuration).
    auto_heartbeat: bool = True
    # WebSocket keepalive ping; None disables it.
    ping_interval_s: float | None = 20.0
    # Reconnect by itself after the CSMS drops the connection (Reset always reconnects).
    auto_reconnect: bool = False
    reconnect_delay_s: float = 1.0
    # Seconds a remotely started session charges before stopping by itself; None = until
    # RemoteStopTransaction (or Reset, UnlockConnector).
    remote_session_max_s: float | None = None
    # OCPP 2.0.1 energy samples: unitOfMeasure unit ("Wh" or "kWh") and power-of-ten
    # multiplier (value = reading / 10**multiplier in that unit).
    energy_unit: str = "Wh"
    energy_multiplier: int = 0

    @property
    def endpoint(self) -> str:
        """The URL the charger connects to: base URL plus the charge point id."""
        return f"{self.url.rstrip('/')}/{self.charge_point_id}"


@dataclass(frozen=True)
class StartResult:
    transaction_id: int
    status: str


@dataclass(frozen=True)
class SessionResult:
    # int in OCPP 1.6 (the CSMS's id), str in 2.0.1 (the charger's own id); None when the
    # session never started (authorization refused).
    transaction_id: int | str | None
    id_tag_status: str
    meter_start: int
    meter_stop: int
    energy_wh: int
    samples_sent: int


EV_DISCONNECTED = "EVDisconnected"


def check_mac(mac: str) -> str:
    """A MAC address as 12 upper-case hex digits (``:``/``-`` separators allowed)."""
    digits = mac.replace(":", "").replace("-", "").upper()
    if len(digits) != 12 or any(ch not in "0123456789ABCDEF" for ch in digits):
        raise ValueError(f"not a MAC address (12 hex digits): {mac!r}")
    return digits


def utc_now() -> datetime:
    return datetime.now(UTC)


def ocpp_time(moment: datetime | None = None) -> str:
    """ISO 8601 UTC with millisecond precision and a ``Z`` suffix."""
    moment = utc_now() if moment is None else moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EnergyMeter:
    """A lifetime energy register in Wh that only ever rises.

    Energy accumulates in whole mWh (power x time, no float drift) and reads out as
    whole Wh, rounded down like a real register.
    """

    def __init__(self, start_wh: int) -> None:
        if start_wh < 0:
            raise ValueError("meter_start_wh must not be negative")
        self._mwh = start_wh * 1000

    @property
    def register_wh(self) -> int:
        return self._mwh // 1000

    @property
    def register_mwh(self) -> int:
        return self._mwh

    def add_mwh(self, mwh: int) -> None:
        if mwh > 0:
            self._mwh += mwh

    def add_energy(self, wh: float) -> None:
        self.add_mwh(round(wh * 1000))

    def advance(self, power_w: float, seconds: float) -> None:
        """Charge at ``power_w`` for ``seconds`` (simulated)."""
        self.add_mwh(round(power_w * seconds / 3.6))

    def raise_to(self, wh: int) -> None:
        """Move the register up to ``wh`` (never down)."""
        self._mwh = max(self._mwh, wh * 1000)


@dataclass
class SessionControl:
    """Lets the CSMS (RemoteStop, Reset, UnlockConnector) end a running session loop."""

    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    stop_reason: str | None = None

    def request_stop(self, reason: str) -> None:
        if not self.stop_requested.is_set():
            self.stop_reason = reason
            self.stop_requested.set()


@dataclass
class Reservation:
    """A reservation the CSMS made (ReserveNow) on one connector (1.6) or EVSE (2.0.1)."""

    reservation_id: int
    id_tag: str
    expiry: datetime
    parent_id_tag: str | None = None

    def admits(self, id_tag: str, parent_id_tag: str | None = None) -> bool:
        """Whether ``id_tag`` (of group ``parent_id_tag``) may use the reserved connector."""
        if id_tag == self.id_tag:
            return True
        return self.parent_id_tag is not None and parent_id_tag == self.parent_id_tag


@dataclass
class ConnectorState:
    connector_id: int
    meter: EnergyMeter
    status: str = "Available"
    operative: bool = True
    # ChangeAvailability answered "Scheduled": applied when the transaction ends.
    pending_operative: bool | None = None
    transaction_id: int | None = None
    id_tag: str | None = None
    meter_start: int | None = None
    start_time: datetime | None = None
    charging: bool = False
    session: SessionControl | None = None
    reservation: Reservation | None = None
    # Set while no transaction is open.
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    # Cleared while a session (local or remote) has the connector, plug-in to unplug.
    released: asyncio.Event = field(default_factory=asyncio.Event)
    # A cable is plugged in through ``plug_in`` (and stays until ``unplug``).
    plugged: bool = False
    # Plugged in and waiting for authorization (RemoteStart, Autocharge, run_session);
    # False once a transaction was authorized on this plug-in.
    plug_waiting: bool = False
    # What the car accepts in W; None = no car model (the charger's full power).
    ev_power_w: float | None = None
    # The last session result of the current plug-in (returned by ``unplug``).
    last_result: SessionResult | None = None

    def __post_init__(self) -> None:
        self.idle.set()
        self.released.set()

    @property
    def busy(self) -> bool:
        """A session holds the connector or a cable is plugged in."""
        return not self.released.is_set() or self.plugged

    def offered_power_w(self, max_w: float) -> float:
        """The power flowing while charging: the charger's limit or the car's, if lower."""
        if not self.charging:
            return 0.0
        return max_w if self.ev_power_w is None else max(0.0, min(max_w, self.ev_power_w))

    @property
    def waiting_for_start(self) -> bool:
        """Plugged in, no session running, waiting for authorization."""
        return self.plugged and self.plug_waiting and self.released.is_set() and self.operative

    def claim(self) -> None:
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    async def wait_quiet(self) -> None:
        """Wait until no transaction is open and no session holds the connector."""
        while not (self.idle.is_set() and self.released.is_set()):
            await self.idle.wait()
            await self.released.wait()

    @property
    def free(self) -> bool:
        return self.operative and not self.busy and self.transaction_id is None

    def begin_transaction(
        self, transaction_id: int, id_tag: str, meter_start: int, start_time: datetime
    ) -> None:
        self.transaction_id = transaction_id
        self.id_tag = id_tag
        self.meter_start = meter_start
        self.start_time = start_time
        self.charging = True
        self.idle.clear()

    def end_transaction(self) -> None:
        self.transaction_id = None
        self.id_tag = None
        self.meter_start = None
        self.start_time = None
        self.charging = False
        self.idle.set()


@dataclass
class QueuedMessage:
    """A transaction message waiting for a connection, with its original payload.

    ``payload`` is the camelCase OCPP payload exactly as it will be sent, timestamps
    included (a replayed message carries the time it happened). ``transaction_ref`` is
    the transaction id it refers to, possibly a negative local placeholder;
    ``placeholder`` is set on a queued start and names the id it stands in for.
    """

    action: str
    payload: dict[str, Any]
    transaction_ref: int | None = None
    placeholder: int | None = None
    connector_id: int | None = None
    starts_transaction: bool = False


class OfflineQueue:
    """Ordered queue of transaction messages, replayed in order on reconnect."""

    def __init__(self) -> None:
        self._items: deque[QueuedMessage] = deque()
        self._next_placeholder = -1

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[QueuedMessage]:
        return iter(self._items)

    def new_placeholder(self) -> int:
        value = self._next_placeholder
        self._next_placeholder -= 1
        return value

    def append(self, message: QueuedMessage) -> None:
        self._items.append(message)

    def peek(self) -> QueuedMessage | None:
        return self._items[0] if self._items else None

    def pop(self) -> QueuedMessage:
        return self._items.popleft()

    def rewrite_transaction_id(self, placeholder: int, real_id: int, key: str) -> int:
        """Point every queued message that refers to ``placeholder`` at ``real_id``.

        ``key`` is the payload field that carries the id. Returns how many were rewritten.
        """
        count = 0
        for item in self._items:
            if item.transaction_ref == placeholder:
                item.transaction_ref = real_id
                item.payload[key] = real_id
                count += 1
        return count

    def drop_references(self, placeholder: int) -> int:
        """Forget queued messages about a placeholder whose start was refused."""
        kept = [item for item in self._items if item.transaction_ref != placeholder]
        dropped = len(self._items) - len(kept)
        self._items = deque(kept)
        return dropped
