"""A faithful Smartcar API simulator (aiohttp), for tests, demos and people.

Every real host is served from one origin; each path keeps its real spelling, so a client
points all of its base URLs at the simulator:

==============================  =================================================
real host                       paths served here
==============================  =================================================
``connect.smartcar.com``        ``GET /oauth/authorize`` (``POST`` for the consent
                                form), ``GET /oauth/reauthenticate``
``auth.smartcar.com``           ``POST /oauth/token``
``iam.smartcar.com``            ``POST /oauth2/token`` (v3 app tokens)
``api.smartcar.com``            ``/v2.0/user``, ``/v2.0/vehicles``,
                                ``/v2.0/vehicles/{id}[/vin|/battery|
                                /battery/capacity|/battery/nominal_capacity|
                                /charge|/charge/limit|/location|/odometer|
                                /permissions|/application|/batch|
                                /webhooks/{webhookId}]``
``management.smartcar.com``     ``/v2.0/management/connections``
``vehicle.api.smartcar.com``    ``/v3/vehicles/{id}``, ``/v3/vehicles/{id}/signals``,
                                ``/v3/vehicles/{id}/signals/{code}``,
                                ``/v3/vehicles/{id}/commands/charge/{start|stop|
                                set-limit}``
(none: the simulator's own)     ``/_sim/...`` control API (see :mod:`.control`)
==============================  =================================================

Nothing here imports ``csms``, ``billing`` or ``smartcar_bridge``.
"""

from simulators.smartcar.app import create_app
from simulators.smartcar.config import SimConfig
from simulators.smartcar.errors import SmartcarError
from simulators.smartcar.keys import SIM
from simulators.smartcar.model import User, Vehicle
from simulators.smartcar.simulator import Simulator
from simulators.smartcar.webhooks import sign

__all__ = [
    "SIM",
    "SimConfig",
    "Simulator",
    "SmartcarError",
    "User",
    "Vehicle",
    "create_app",
    "sign",
]
