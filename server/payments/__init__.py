"""Payment providers behind one protocol: the sandbox (the embedded default) and Stripe."""

from freshtap.server.payments.factory import build_provider
from freshtap.server.payments.provider import (
    ChargeRequest,
    ChargeResult,
    PaymentError,
    PaymentProvider,
    ProviderRejected,
    ProviderUnavailable,
)
from freshtap.server.payments.sandbox import SANDBOX_TOKENS, SandboxProvider
from freshtap.server.payments.stripe_provider import StripeProvider

__all__ = [
    "SANDBOX_TOKENS",
    "ChargeRequest",
    "ChargeResult",
    "PaymentError",
    "PaymentProvider",
    "ProviderRejected",
    "ProviderUnavailable",
    "SandboxProvider",
    "StripeProvider",
    "build_provider",
]
