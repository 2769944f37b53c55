"""OCPP-J RPC framing shared by the 1.6 and 2.0.1 adapters.

The ``ocpp`` library's ChargePoint does the routing table and the dataclass conversion;
this base class takes over frame parsing and error answers, because the library's defaults
are wrong in places (it answers non-JSON with nothing, uses 2.0.1 error names on 1.6, and
swaps NotImplemented/NotSupported). What the specifications say:

* an action the receiver does not know: ``NotImplemented``; a known action it does not
  support: ``NotSupported``;
* a frame that is not JSON or not an RPC frame: 1.6 ``FormationViolation``, 2.0.1
  ``RpcFrameworkError``; an unknown message type id: 2.0.1 ``MessageTypeNotSupported``;
  when the message id cannot be read, the CALLERROR carries ``"-1"``;
* schema violations: wrong type ``TypeConstraintViolation``, missing field
  ``OccurenceConstraintViolation`` (1.6 spelling) / ``OccurrenceConstraintViolation``,
  bad value ``PropertyConstraintViolation``, unexpected structure
  ``FormationViolation`` / ``FormatViolation``.

Every frame in and out goes to the frame log. Handlers run one at a time per connection
(the library's model), so per-charger ordering is preserved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import orjson
from ocpp import routing as ocpp_routing
from ocpp.charge_point import ChargePoint, remove_nones, serialize_as_dict
from ocpp.exceptions import OCPPError
from ocpp.messages import unpack

from csms.casing import to_camel, to_snake
from csms.errors import InvalidInput
from csms.logs import get_logger
from csms.message_log import Described, FrameLog
from csms.validation import SchemaViolation, validator

if TYPE_CHECKING:
    from csms.services import Services

__all__ = ["ErrorCodes", "OcppEndpoint", "RpcError", "on"]

_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def on(action: str) -> Callable[[_Handler], _Handler]:
    """The ``ocpp`` library's ``@on`` routing decorator, typed."""
    decorate: Callable[[_Handler], _Handler] = ocpp_routing.on(action)
    return decorate


log = get_logger(__name__)

CALL, CALLRESULT, CALLERROR = 2, 3, 4


@dataclass(frozen=True)
class ErrorCodes:
    """The error code names of one OCPP version."""

    bad_frame: str
    format: str
    occurrence: str
    message_type: str


V16_ERRORS = ErrorCodes(
    bad_frame="FormationViolation",
    format="FormationViolation",
    occurrence="OccurenceConstraintViolation",
    message_type="FormationViolation",
)
V201_ERRORS = ErrorCodes(
    bad_frame="RpcFrameworkError",
    format="FormatViolation",
    occurrence="OccurrenceConstraintViolation",
    message_type="MessageTypeNotSupported",
)


class RpcError(Exception):
    """An error answered to the charger as a CALLERROR."""

    def __init__(self, code: str, description: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.details = details or {}


class OcppEndpoint(ChargePoint):  # type: ignore[misc]  # the ocpp library is untyped
    """Base of the protocol adapters: one instance per websocket connection."""

    ocpp_version: ClassVar[str]
    subprotocol: ClassVar[str]
    errors: ClassVar[ErrorCodes]
    known_actions: ClassVar[frozenset[str]]

    def __init__(
        self,
        charge_point_id: str,
        connection: Any,
        *,
        services: Services,
        frames: FrameLog,
        response_timeout: float,
    ) -> None:
        super().__init__(charge_point_id, connection, response_timeout=response_timeout)
        self._ocpp_version = self.ocpp_version
        self._services = services
        self._frames = frames

    async def start(self) -> None:
        while True:
            raw = await self._connection.recv()
            if isinstance(raw, bytes):
                # OCPP-J is text frames only.
                self._frames.record(self.id, "in", raw.decode("utf-8", "replace"))
                await self._send_error("-1", self.errors.bad_frame, "Binary frames are not OCPP-J")
                continue
            await self.route_message(raw)

    async def _send(self, message: str, described: Described | None = None) -> None:
        """Send a frame and log it; ``described`` saves the log from parsing it again."""
        self._frames.record(self.id, "out", message, described)
        await self._connection.send(message)

    async def _send_error(
        self, unique_id: str, code: str, description: str, details: dict[str, Any] | None = None
    ) -> None:
        frame = [CALLERROR, unique_id, code, description, details or {}]
        await self._send(orjson.dumps(frame).decode(), (CALLERROR, unique_id, None))

    async def route_message(self, raw_msg: str) -> None:
        try:
            frame = orjson.loads(raw_msg)
        except orjson.JSONDecodeError:
            self._frames.record(self.id, "in", raw_msg, (None, None, None))
            await self._send_error("-1", self.errors.bad_frame, "Frame is not valid JSON")
            return
        if not isinstance(frame, list) or not frame or not isinstance(frame[0], int):
            self._frames.record(self.id, "in", raw_msg, (None, None, None))
            await self._send_error("-1", self.errors.bad_frame, "Frame is not an OCPP-J array")
            return
        message_type = frame[0]
        unique_id = frame[1] if len(frame) > 1 and isinstance(frame[1], str) else None
        action = frame[2] if message_type == CALL and len(frame) > 2 else None
        self._frames.record(
            self.id,
            "in",
            raw_msg,
            (message_type, unique_id, action if isinstance(action, str) else None),
        )
        if unique_id is None:
            await self._send_error("-1", self.errors.bad_frame, "MessageId cannot be read")
            return
        if message_type == CALL:
            if len(frame) != 4 or not isinstance(frame[2], str) or not isinstance(frame[3], dict):
                await self._send_error(
                    unique_id, self.errors.bad_frame, "A CALL is [2, messageId, action, {payload}]"
                )
                return
            await self._answer(unique_id, frame[2], frame[3])
        elif message_type in (CALLRESULT, CALLERROR):
            await self._route_response(raw_msg)
        else:
            await self._send_error(
                unique_id, self.errors.message_type, f"Message type {message_type} is not supported"
            )

    async def _route_response(self, raw_msg: str) -> None:
        # Reuse the library's parsing and its queue so ChargePoint.call() gets the reply.
        try:
            self._response_queue.put_nowait(unpack(raw_msg))
        except OCPPError:
            log.warning("unparseable_response_ignored")

    async def _answer(self, unique_id: str, action: str, payload: dict[str, Any]) -> None:
        try:
            result = await self._dispatch(action, payload)
        except RpcError as error:
            await self._send_error(unique_id, error.code, error.description, error.details)
            return
        await self._send(
            orjson.dumps([CALLRESULT, unique_id, result]).decode(), (CALLRESULT, unique_id, None)
        )

    async def _dispatch(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        handlers = self.route_map.get(action)
        if handlers is None or "_on_action" not in handlers:
            if action in self.known_actions:
                raise RpcError("NotSupported", f"{action} is not supported by this server")
            raise RpcError(
                "NotImplemented", f"{action} is not a known OCPP {self.ocpp_version} action"
            )
        self._validate(action, payload, CALL)
        handler: Callable[..., Any] = handlers["_on_action"]
        try:
            response = await handler(**to_snake(payload))
        except RpcError:
            raise
        except InvalidInput as exc:
            raise RpcError("PropertyConstraintViolation", exc.message) from exc
        except Exception as exc:
            # The charger gets a generic error; the details stay in our log.
            log.exception("handler_failed", action=action)
            raise RpcError("InternalError", "An internal error occurred") from exc
        result: dict[str, Any] = to_camel(remove_nones(serialize_as_dict(response)))
        try:
            self._validate(action, result, CALLRESULT)
        except RpcError as exc:
            log.exception("invalid_response_built", action=action, error=exc.description)
            raise RpcError("InternalError", "An internal error occurred") from exc
        return result

    @classmethod
    def handled_actions(cls) -> list[str]:
        """The actions this adapter has an ``@on`` handler for."""
        return [
            getattr(member, "_on_action")  # noqa: B009 - the ocpp library's routing mark
            for klass in cls.__mro__
            for member in vars(klass).values()
            if hasattr(member, "_on_action")
        ]

    def _validate(self, action: str, payload: dict[str, Any], message_type: int) -> None:
        try:
            validate = validator(self.ocpp_version, action, response=message_type == CALLRESULT)
        except (OSError, ValueError) as exc:  # a schema that cannot be read or compiled
            log.exception("schema_unavailable", action=action)
            raise RpcError("InternalError", "An internal error occurred") from exc
        if validate is None:
            raise RpcError("NotSupported", f"No schema for {action}")
        try:
            validate(payload)
        except SchemaViolation as violation:
            raise self._schema_error(violation) from violation

    def _schema_error(self, error: SchemaViolation) -> RpcError:
        keyword = error.keyword
        if keyword == "type":
            code = "TypeConstraintViolation"
        elif keyword == "required":
            code = self.errors.occurrence
        elif keyword in ("additionalProperties", "minProperties", "maxProperties"):
            code = self.errors.format
        elif keyword in ("minItems", "maxItems"):
            code = self.errors.occurrence
        else:  # enum, maxLength, minimum, pattern, format, ...
            code = "PropertyConstraintViolation"
        return RpcError(code, str(error)[:500])
