"""Payment provider adapters (they do I/O) behind ``billing.payments.PaymentProvider``.

- ``simulated``: the default; in-memory PaymentIntents that can be told to decline, time
  out or fail a capture.
- ``stripe``: PaymentIntents with manual capture over Stripe's REST API.
"""

from __future__ import annotations

from billing.payments import PaymentProvider
from csms.config import Settings
from csms.payments.simulated import SimulatedProvider
from csms.payments.stripe import StripeProvider

__all__ = ["SimulatedProvider", "StripeProvider", "build_provider"]


def build_provider(settings: Settings) -> PaymentProvider:
    """The provider ``CSMS_PAYMENT_PROVIDER`` names."""
    if settings.payment_provider == "stripe":
        if settings.stripe_secret_key is None:
            raise ValueError("CSMS_STRIPE_SECRET_KEY is required with CSMS_PAYMENT_PROVIDER=stripe")
        return StripeProvider(
            api_url=settings.stripe_api_url,
            secret_key=settings.stripe_secret_key.get_secret_value(),
            timeout_s=settings.stripe_timeout_s,
            key_prefix=settings.stripe_idempotency_prefix,
        )
    return SimulatedProvider()
