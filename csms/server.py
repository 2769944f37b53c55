"""The OCPP websocket server: ``/ocpp/{charge_point_id}``, Basic auth, subprotocol choice.

Unknown or wrongly authenticated chargers are refused at the handshake (401), a missing or
unsupported subprotocol gets a 400, and a second connection for the same id replaces the
first. Each connection runs one protocol adapter with its log context bound.
"""

from __future__ import annotations

import base64
import binascii
import http
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import unquote

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, NegotiationError
from websockets.http11 import Request, Response

from csms.chargers import ChargerService
from csms.cluster import Cluster
from csms.commands import Connections
from csms.config import Settings
from csms.logs import get_logger
from csms.message_log import FrameLog
from csms.protocol import OcppEndpoint
from csms.services import Services
from csms.v16 import V16ChargePoint
from csms.v201 import V201ChargePoint
from csms.validation import warm_up

__all__ = ["SUBPROTOCOLS", "charge_point_id_from_path", "start_ocpp_server"]

log = get_logger(__name__)

PATH_PREFIX = "/ocpp/"
# Preference order when a charger offers several and the operator pinned none.
ADAPTERS: dict[str, type[V16ChargePoint] | type[V201ChargePoint]] = {
    "ocpp2.0.1": V201ChargePoint,
    "ocpp1.6": V16ChargePoint,
}
SUBPROTOCOLS = list(ADAPTERS)
# The protocol an operator registered for a charger, looked up during the HTTP part of the
# handshake and used when the subprotocol is chosen right after it.
_PINNED_ATTRIBUTE = "csms_pinned_protocol"


def charge_point_id_from_path(path: str) -> str | None:
    """The charge point id of ``/ocpp/{id}`` (percent-decoded), or None for other paths."""
    route = path.split("?", 1)[0]
    if not route.startswith(PATH_PREFIX):
        return None
    ident = unquote(route[len(PATH_PREFIX) :])
    if not ident or "/" in ident or len(ident) > 48:
        return None
    return ident


def _basic_credentials(headers: Headers) -> tuple[str, str] | None:
    value = headers.get("Authorization")
    if not value:
        return None
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def _refuse(connection: ServerConnection, status: http.HTTPStatus, text: str) -> Response:
    response = connection.respond(status, text + "\n")
    if status is http.HTTPStatus.UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = 'Basic realm="ocpp", charset="UTF-8"'
    return response


class OcppServer:
    def __init__(
        self,
        settings: Settings,
        services: Services,
        frames: FrameLog,
        connections: Connections,
        chargers: ChargerService,
        cluster: Cluster,
    ) -> None:
        self._settings = settings
        self._services = services
        self._frames = frames
        self._connections = connections
        self._chargers = chargers
        self._cluster = cluster

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        charge_point_id = charge_point_id_from_path(request.path)
        if charge_point_id is None:
            return _refuse(
                connection, http.HTTPStatus.NOT_FOUND, "OCPP endpoint is /ocpp/{charge_point_id}"
            )
        credentials = _basic_credentials(request.headers)
        password = None
        if credentials is not None:
            username, password = credentials
            if username != charge_point_id:
                log.warning(
                    "charger_refused",
                    charge_point_id=charge_point_id,
                    reason="username differs from charge point id",
                )
                return _refuse(connection, http.HTTPStatus.UNAUTHORIZED, "Unauthorized")
        admission = await self._chargers.authenticate(charge_point_id, password)
        if admission is None:
            log.warning(
                "charger_refused",
                charge_point_id=charge_point_id,
                reason="unknown charger or wrong password",
                remote=str(connection.remote_address),
            )
            return _refuse(connection, http.HTTPStatus.UNAUTHORIZED, "Unauthorized")
        setattr(connection, _PINNED_ATTRIBUTE, admission.pinned_protocol)
        return None

    @staticmethod
    def select_subprotocol(connection: ServerConnection, offered: Sequence[str]) -> str | None:
        """The operator's registered protocol if set, else the best one the charger offers.

        Raises NegotiationError (a 400 answer) when nothing fits. The choice is not cached
        from earlier connections: some chargers probe with 1.6 before their real 2.0.1
        connection (FoxESS, lbbrhzn/ocpp#2012).
        """
        pinned: str | None = getattr(connection, _PINNED_ATTRIBUTE, None)
        if not offered:
            raise NegotiationError("missing subprotocol; offer ocpp2.0.1 or ocpp1.6")
        candidates = [pinned] if pinned else SUBPROTOCOLS
        for subprotocol in candidates:
            if subprotocol in offered:
                return subprotocol
        raise NegotiationError(f"no supported subprotocol offered; expected one of {candidates}")

    async def handle(self, connection: ServerConnection) -> None:
        charge_point_id = charge_point_id_from_path(
            connection.request.path if connection.request else ""
        )
        protocol = connection.subprotocol
        if charge_point_id is None or protocol not in ADAPTERS:  # guarded by the handshake
            await connection.close(1002, "no OCPP subprotocol")
            return
        endpoint: OcppEndpoint = ADAPTERS[protocol](
            charge_point_id,
            connection,
            services=self._services,
            frames=self._frames,
            response_timeout=self._settings.call_timeout_s,
        )
        with structlog.contextvars.bound_contextvars(
            charge_point_id=charge_point_id, protocol=protocol, conn_id=connection.id.hex[:8]
        ):
            previous = self._connections.register(endpoint)
            if previous is not None:
                log.info("connection_replaced")
                await self._connections.close(previous, "replaced by a newer connection")
            await self._chargers.connected(charge_point_id, protocol, self._cluster.node_id)
            await self._cluster.announce_connection(charge_point_id)
            log.info("charger_connected", remote=str(connection.remote_address))
            try:
                await endpoint.start()
            except ConnectionClosed as closed:
                log.info("charger_disconnected", code=closed.rcvd.code if closed.rcvd else None)
            finally:
                if self._connections.unregister(endpoint):
                    await self._chargers.disconnected(charge_point_id, self._cluster.node_id)


async def start_ocpp_server(
    settings: Settings,
    services: Services,
    frames: FrameLog,
    connections: Connections,
    chargers: ChargerService,
    cluster: Cluster,
) -> Server:
    """Start listening; the caller closes the returned server. With ``reuse_port`` several
    processes share the port (SO_REUSEPORT) and the kernel spreads connections."""
    for adapter in ADAPTERS.values():
        warm_up(adapter.ocpp_version, adapter.handled_actions())
    ocpp = OcppServer(settings, services, frames, connections, chargers, cluster)
    process_request: Callable[[ServerConnection, Request], Awaitable[Response | None]] = (
        ocpp.process_request
    )
    return await serve(
        ocpp.handle,
        settings.host,
        settings.ocpp_port,
        subprotocols=SUBPROTOCOLS,  # type: ignore[arg-type]
        select_subprotocol=ocpp.select_subprotocol,  # type: ignore[arg-type]
        process_request=process_request,
        ping_interval=settings.ws_ping_interval_s or None,
        ping_timeout=settings.ws_ping_timeout_s or None,
        max_size=settings.ws_max_message_bytes,
        open_timeout=settings.ws_open_timeout_s,
        compression="deflate" if settings.ws_compression else None,
        server_header="csms",
        reuse_port=settings.reuse_port,
    )
