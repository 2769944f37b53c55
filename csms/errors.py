"""The central system's error tree, and where each kind ends up at the edges.

::

    CsmsError                    http_status
    ├── InvalidInput             400  bad request body or query (names the field)
    ├── CommandNotSupported      400  the charger's protocol version has no such command
    ├── Unauthorized             401  missing or wrong admin token
    ├── NotFound                 404
    ├── Conflict                 409  id taken, resource still in use
    ├── ChargerNotConnected      409  a command for a charger that is offline
    ├── ChargerCallError         502  the charger answered a command with a CALLERROR
    └── ChargerTimeout           504  the charger did not answer a command in time

The admin API turns these into ``{"error": {"code", "message", "field"?}}`` with the status
above. In an OCPP handler an ``InvalidInput`` becomes a PropertyConstraintViolation and
anything else an InternalError (see ``csms.protocol``).
"""

from __future__ import annotations

__all__ = [
    "ChargerCallError",
    "ChargerNotConnected",
    "ChargerTimeout",
    "CommandNotSupported",
    "Conflict",
    "CsmsError",
    "InvalidInput",
    "NotFound",
    "Unauthorized",
]


class CsmsError(Exception):
    """Base of our errors: a stable machine code, a message and an HTTP status."""

    code = "internal_error"
    http_status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(CsmsError):
    code = "invalid_input"
    http_status = 400


class CommandNotSupported(CsmsError):
    code = "command_not_supported"
    http_status = 400


class Unauthorized(CsmsError):
    code = "unauthorized"
    http_status = 401


class NotFound(CsmsError):
    code = "not_found"
    http_status = 404


class Conflict(CsmsError):
    code = "conflict"
    http_status = 409


class ChargerNotConnected(CsmsError):
    code = "charger_not_connected"
    http_status = 409


class ChargerTimeout(CsmsError):
    code = "charger_timeout"
    http_status = 504


class ChargerCallError(CsmsError):
    """The charger answered with a CALLERROR; keeps its OCPP error code and description."""

    code = "charger_call_error"
    http_status = 502

    def __init__(self, ocpp_code: str, description: str) -> None:
        super().__init__(f"charger answered {ocpp_code}: {description}")
        self.ocpp_code = ocpp_code
        self.description = description
