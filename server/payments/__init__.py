"""Payment providers behind one protocol; the sandbox is the embedded default."""

from freshtap.server.payments.provider import ChargeRequest, ChargeResult, PaymentProvider
from freshtap.server.payments.sandbox import SANDBOX_TOKENS, SandboxProvider

__all__ = ["SANDBOX_TOKENS", "ChargeRequest", "ChargeResult", "PaymentProvider", "SandboxProvider"]
