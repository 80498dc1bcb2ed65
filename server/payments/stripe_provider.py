"""Stripe, through the official `stripe` package: off-session PaymentIntents on a saved method.

A tap creates and confirms a PaymentIntent on the household's Stripe customer and saved payment
method with `off_session=true`, under the order's idempotency key. With `capture="manual"` (the
default) the money is only held (`requires_capture`) and captured when the cancellation window
closes, so a cancel in the window is a void that costs nobody anything; with `"automatic"` it is
taken at once and a cancel is a refund.

When the bank asks for authentication, Stripe refuses the off-session confirmation with a card
error `authentication_required` and leaves the PaymentIntent in `requires_payment_method`. The
adapter then confirms it again on-session with a `return_url` (Stripe's documented manual 3-D
Secure redirect): the PaymentIntent goes to `requires_action` and its
`next_action.redirect_to_url.url` is where the owner authenticates, on the phone, from the QR code
on the door screen. The result arrives by webhook.

Rate limits, 5xx and timeouts are retried by the `stripe` client with the same idempotency key
(`max_network_retries`); what still fails is `ProviderUnavailable`, and the order service's
recovery asks again later with the same key. A response that Stripe replayed from its idempotency
cache may be stale, so the adapter then reads the PaymentIntent's current state.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import stripe

from freshtap.server.payments.provider import (
    ChargeRequest,
    ChargeResult,
    ProviderRejected,
    ProviderUnavailable,
)

__all__ = ["StripeProvider", "outcome_of"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Answer:
    body: dict[str, Any]
    headers: Mapping[str, str] | None


def outcome_of(intent: Mapping[str, Any]) -> ChargeResult:
    """What a PaymentIntent's current state means for the order (pure; also used for webhooks)."""
    reference = str(intent["id"])
    status = intent.get("status")
    if status == "succeeded":
        return ChargeResult("succeeded", reference)
    if status == "requires_capture":
        return ChargeResult("authorized", reference)
    if status == "requires_action":
        action = intent.get("next_action") or {}
        redirect = action.get("redirect_to_url") or {}
        url = redirect.get("url") if action.get("type") == "redirect_to_url" else None
        return ChargeResult("requires_action", reference, next_action_url=url)
    if status == "canceled":
        return ChargeResult("voided", reference, failure_reason=intent.get("cancellation_reason") or "canceled")
    if status == "requires_payment_method":
        error = intent.get("last_payment_error")
        if not error:
            return ChargeResult("pending", reference)
        code = error.get("code")
        if code == "authentication_required":
            # The off-session attempt needs the owner; the adapter is confirming it on-session.
            return ChargeResult("requires_action", reference)
        return ChargeResult("declined", reference, failure_reason=str(error.get("decline_code") or code or "declined"))
    # processing, requires_confirmation: no answer yet.
    return ChargeResult("pending", reference)


class _RequestsClient(stripe.RequestsClient):
    """The `stripe` package's requests client with a configurable back-off between retries.

    The package reads its back-off from class constants; this overrides the (pinned) method that
    uses them, so tests against the local fake need not wait half a second per retry.
    """

    def __init__(self, timeout: float, retry_delay: float) -> None:
        super().__init__(timeout=timeout)
        self._retry_delay = retry_delay

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return float(min(self._retry_delay * (2 ** (num_retries - 1)), self._retry_delay * 8))


class StripeProvider:
    name = "stripe"

    def __init__(
        self,
        api_key: str,
        *,
        return_url: str,
        api_base: str | None = None,
        capture: Literal["manual", "automatic"] = "manual",
        timeout_seconds: float = 20.0,
        max_network_retries: int = 2,
        retry_delay_seconds: float = 0.5,
    ) -> None:
        self._capture = capture
        self._return_url = return_url
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=_RequestsClient(timeout_seconds, retry_delay_seconds),
        )

    @property
    def capture_mode(self) -> Literal["manual", "automatic"]:
        return self._capture

    def charge(self, request: ChargeRequest) -> ChargeResult:
        if not request.customer:
            raise ProviderRejected("the household has no Stripe customer to charge off-session")
        params: dict[str, Any] = {
            "amount": request.amount_minor,
            "currency": request.currency.lower(),
            "customer": request.customer,
            "payment_method": request.payment_method,
            "payment_method_types": ["card"],
            "confirm": True,
            "off_session": True,
            "capture_method": self._capture,
            "description": request.description,
            "metadata": {"order_id": request.order_id, "idempotency_key": request.idempotency_key},
        }
        try:
            intent = self._call(
                lambda: self._client.v1.payment_intents.create(
                    params=params,  # type: ignore[arg-type]
                    options={"idempotency_key": request.idempotency_key},
                )
            )
        except stripe.CardError as exc:
            error = _error_body(exc)
            failed = error.get("payment_intent") or {}
            if not failed.get("id"):
                return ChargeResult("declined", "", failure_reason=str(exc.code or "card_error"))
            if exc.code == "authentication_required":
                return self._authenticate_on_session(str(failed["id"]), request)
            if _replayed(exc.headers):
                return self.retrieve(str(failed["id"]))
            return ChargeResult(
                "declined", str(failed["id"]), failure_reason=str(error.get("decline_code") or exc.code or "declined")
            )
        if _replayed(intent.headers):
            return self.retrieve(str(intent.body["id"]))
        return outcome_of(intent.body)

    def _authenticate_on_session(self, intent_id: str, request: ChargeRequest) -> ChargeResult:
        """Confirm again on-session with a return URL, so Stripe hands out a page for the owner."""
        try:
            intent = self._call(
                lambda: self._client.v1.payment_intents.confirm(
                    intent_id,
                    params={"payment_method": request.payment_method, "return_url": self._return_url},
                    options={"idempotency_key": request.idempotency_key + "-authenticate"},
                )
            )
        except stripe.CardError as exc:
            error = _error_body(exc)
            return ChargeResult(
                "declined", intent_id, failure_reason=str(error.get("decline_code") or exc.code or "declined")
            )
        if _replayed(intent.headers):
            current = self.retrieve(intent_id)
            if current.outcome != "requires_action" or current.next_action_url:
                return current
        return outcome_of(intent.body)

    def retrieve(self, reference: str) -> ChargeResult:
        return outcome_of(self._call(lambda: self._client.v1.payment_intents.retrieve(reference)).body)

    def capture(self, reference: str, idempotency_key: str) -> ChargeResult:
        try:
            intent = self._call(
                lambda: self._client.v1.payment_intents.capture(reference, options={"idempotency_key": idempotency_key})
            )
        except ProviderRejected:
            # Already captured, or cancelled meanwhile (an expired authorisation): say where it stands.
            return self.retrieve(reference)
        return outcome_of(intent.body)

    def void(self, reference: str, idempotency_key: str) -> ChargeResult:
        try:
            intent = self._call(
                lambda: self._client.v1.payment_intents.cancel(
                    reference,
                    params={"cancellation_reason": "requested_by_customer"},
                    options={"idempotency_key": idempotency_key},
                )
            )
        except ProviderRejected:
            current = self.retrieve(reference)
            if current.outcome == "voided":
                return current
            raise
        return outcome_of(intent.body)

    def refund(self, reference: str, amount_minor: int, idempotency_key: str) -> ChargeResult:
        try:
            refund = self._call(
                lambda: self._client.v1.refunds.create(
                    params={"payment_intent": reference, "amount": amount_minor},
                    options={"idempotency_key": idempotency_key},
                )
            )
        except ProviderRejected as exc:
            if "already been refunded" in str(exc) or "charge_already_refunded" in str(exc):
                return ChargeResult("refunded", reference)
            raise
        status = refund.body.get("status")
        if status in ("succeeded", "pending"):
            return ChargeResult("refunded", reference)
        raise ProviderRejected(f"the refund is {status}: {refund.body.get('failure_reason')}")

    @staticmethod
    def _call(request: Any) -> _Answer:
        """Run one API call, turning the client's errors into the provider seam's two kinds."""
        try:
            obj = request()
            response = getattr(obj, "last_response", None)
            return _Answer(obj.to_dict(), getattr(response, "headers", None))
        except stripe.CardError:
            raise
        except (stripe.RateLimitError, stripe.APIConnectionError, stripe.AuthenticationError) as exc:
            raise ProviderUnavailable(f"stripe: {type(exc).__name__}: {exc.user_message or exc}") from exc
        except stripe.IdempotencyError as exc:
            # The key is in use by a request still running, or was first used with other
            # parameters: the first request's outcome is unknown here, so nothing may be concluded.
            raise ProviderUnavailable(f"stripe idempotency: {exc.user_message or exc}") from exc
        except stripe.InvalidRequestError as exc:
            raise ProviderRejected(f"stripe: {exc.code or 'invalid_request'}: {exc.user_message or exc}") from exc
        except stripe.StripeError as exc:
            if exc.http_status is not None and exc.http_status < 500 and exc.http_status != 409:
                raise ProviderRejected(f"stripe: {exc.code or exc.http_status}: {exc.user_message or exc}") from exc
            raise ProviderUnavailable(f"stripe: {exc.http_status}: {exc.user_message or exc}") from exc


def _error_body(exc: stripe.StripeError) -> dict[str, Any]:
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def _replayed(headers: Mapping[str, str] | None) -> bool:
    if not headers:
        return False
    return any(k.lower() == "idempotent-replayed" and str(v).lower() == "true" for k, v in headers.items())
