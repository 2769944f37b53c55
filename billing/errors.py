"""The billing error tree.

::

    BillingError                 anything the pure core refuses
    ├── TariffError              a tariff document is not a valid OCPI 2.2.1 tariff
    │                            (``path`` names the field, for example
    │                            ``elements[1].price_components[0].step_size``)
    ├── SessionError             a session input is unusable (end before start, naive times, ...)
    │                            (``path`` names the field)
    └── TariffNotApplicable      the tariff is not valid at the session's start

Each error carries a human message and the path of the offending field (or ``None``);
the edges (admin API, CLI) turn them into their own error shapes.
"""

from __future__ import annotations

__all__ = ["BillingError", "SessionError", "TariffError", "TariffNotApplicable"]


class BillingError(Exception):
    """Base of the billing errors: a message plus the path of the field at fault."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path


class TariffError(BillingError):
    """The tariff document is malformed or breaks an OCPI 2.2.1 rule."""


class SessionError(BillingError):
    """The session input cannot be priced as given."""


class TariffNotApplicable(BillingError):
    """The tariff's validity window (start/end_date_time) does not cover the session start."""
