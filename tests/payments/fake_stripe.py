"""A local fake of Stripe's HTTP API, for the calls freshtap makes, on a real loopback socket.

It follows Stripe's documented behaviour where freshtap depends on it:

- PaymentIntents: create (with `confirm`, `off_session`, `capture_method`), retrieve, confirm,
  capture, cancel; refunds. Form-encoded requests, Bearer API key, JSON answers, errors as
  `{"error": {"type", "code", "decline_code", "message", "payment_intent"}}` with 402 for card errors.
- Test payment methods: `pm_card_visa` succeeds; `pm_card_chargeDeclined` is declined
  (`card_declined` / `generic_decline`); `pm_card_authenticationRequired` needs 3-D Secure: an
  off-session confirmation fails with `authentication_required` and leaves the PaymentIntent in
  `requires_payment_method`, an on-session one with a `return_url` goes to `requires_action` with
  `next_action.redirect_to_url.url` — the bank page at `/3ds/{id}` that the phone opens.
- Idempotency-Key: the first result (status and body) is saved and replayed with
  `Idempotent-Replayed: true`; the same key with other parameters is a 400 `idempotency_error`;
  a key whose first request is still running is a 409 (the client retries).
- Webhooks: every state change is an event, delivered asynchronously and in order to
  `webhook_url`, signed `Stripe-Signature: t=...,v1=HMAC-SHA256("t.body")`.
- Faults: `fail_next(status)` answers 429/5xx *before* executing (nothing saved, as Stripe does for
  requests that never ran); `delay_next(seconds)` executes, saves, then answers late (a client
  timeout after the charge happened).
"""

from __future__ import annotations

import itertools
import json
import queue
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from freshtap.server.payments.stripe_webhooks import sign

VISA = "pm_card_visa"
DECLINED = "pm_card_chargeDeclined"
AUTH_REQUIRED = "pm_card_authenticationRequired"
_CANCELABLE = {"requires_payment_method", "requires_capture", "requires_confirmation", "requires_action"}


@dataclass
class _Fault:
    status: int | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class StripeFailure(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`metadata[order_id]=x&payment_method_types[0]=card` -> nested dicts and lists."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if "[" not in key:
            out[key] = value
            continue
        head, rest = key.split("[", 1)
        inner = rest.rstrip("]")
        if inner.isdigit():
            out.setdefault(head, []).append(value)
        else:
            out.setdefault(head, {})[inner] = value
    return out


class FakeStripe:
    def __init__(self, api_key: str = "sk_test_fake", webhook_secret: str = "whsec_fake") -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url: str | None = None
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[tuple[str, int]] = []
        self.requests: list[tuple[str, str, str | None]] = []
        self.params: list[tuple[str, dict[str, Any]]] = []
        self._customers: dict[str, set[str]] = {}
        self._saved: dict[str, tuple[str, Any, int, bytes]] = {}
        self._in_flight: set[str] = set()
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._delivered = threading.Condition()
        self._outbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # -- setup -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add_customer(self, customer: str, *payment_methods: str) -> None:
        with self._lock:
            self._customers.setdefault(customer, set()).update(payment_methods)

    def fail_next(self, status: int, count: int = 1, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._faults.extend(_Fault(status=status, headers=headers or {}) for _ in range(count))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        with self._lock:
            self._faults.extend(_Fault(delay=seconds) for _ in range(count))

    def start(self) -> FakeStripe:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        serve = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-stripe", daemon=True
        )
        deliver = threading.Thread(target=self._deliver_loop, name="fake-stripe-webhooks", daemon=True)
        self._threads = [serve, deliver]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._outbox.put(None)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    # -- what tests look at ------------------------------------------------------------------------

    def intents_for(self, order_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [pi for pi in self.intents.values() if pi["metadata"].get("order_id") == order_id]

    def charges_taken(self) -> int:
        """PaymentIntents whose money was captured or is held."""
        with self._lock:
            return sum(1 for pi in self.intents.values() if pi["status"] in ("succeeded", "requires_capture"))

    def wait_delivered(self, count: int, timeout: float = 10.0) -> list[tuple[str, int]]:
        """Block until `count` webhook deliveries have been answered (by anything)."""
        with self._delivered:
            if not self._delivered.wait_for(lambda: len(self.deliveries) >= count, timeout=timeout):
                raise AssertionError(f"only {len(self.deliveries)} of {count} webhooks were delivered")
            return list(self.deliveries)

    def redeliver(self, event_id: str) -> None:
        event = next(e for e in self.events if e["id"] == event_id)
        self._outbox.put(event)

    def authenticate(self, intent_id: str, approve: bool = True) -> None:
        """What the owner does on the bank's page (also reachable over HTTP at /3ds/{id})."""
        with self._lock:
            pi = self.intents[intent_id]
            if pi["status"] != "requires_action":
                return
            pi["next_action"] = None
            if approve:
                self._authorise(pi)
            else:
                pi["status"] = "requires_payment_method"
                pi["last_payment_error"] = {
                    "type": "card_error",
                    "code": "payment_intent_authentication_failure",
                    "message": "The provided PaymentMethod has failed authentication.",
                }
                self._emit("payment_intent.payment_failed", pi)

    # -- HTTP ------------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        if parts.path.startswith("/3ds/"):
            self._bank_page(request, method, parts.path.removeprefix("/3ds/"), raw)
            return
        key = request.headers.get("Idempotency-Key") if method == "POST" else None
        with self._lock:
            self.requests.append((method, parts.path, key))
            fault = self._faults.pop(0) if self._faults else None
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            self._send(request, 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
            return
        if fault is not None and fault.status is not None:
            kind = "invalid_request_error" if fault.status == 429 else "api_error"
            body = {"error": {"type": kind, "code": "rate_limit" if fault.status == 429 else None, "message": "fault"}}
            self._send(request, fault.status, body, fault.headers)
            return
        params = sorted(parse_qsl(raw.decode(), keep_blank_values=True))
        with self._lock:
            self.params.append((parts.path, _nested(params)))
        signature = f"{method} {parts.path}"
        if key is not None:
            with self._lock:
                saved = self._saved.get(key)
                if saved is None and key in self._in_flight:
                    self._send(
                        request,
                        409,
                        {"error": {"type": "idempotency_error", "message": "another request with this key is running"}},
                    )
                    return
                if saved is not None:
                    if (saved[0], saved[1]) != (signature, params):
                        self._send(
                            request,
                            400,
                            {
                                "error": {
                                    "type": "idempotency_error",
                                    "message": "Keys for idempotent requests can only be used with the same parameters "
                                    "they were first used with.",
                                }
                            },
                        )
                        return
                    self._send_raw(request, saved[2], saved[3], {"Idempotent-Replayed": "true"})
                    return
                self._in_flight.add(key)
        try:
            status, body = self._route(method, parts.path, _nested(params))
        except StripeFailure as failure:
            status, body = failure.status, {"error": failure.error}
        encoded = json.dumps(body).encode()
        if key is not None:
            with self._lock:
                self._saved[key] = (signature, params, status, encoded)
                self._in_flight.discard(key)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)  # the client has given up by now: its retry finds the saved result
        self._send_raw(request, status, encoded, {})

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        segments = path.strip("/").split("/")
        with self._lock:
            if method == "POST" and segments == ["v1", "payment_intents"]:
                return self._create(params)
            if segments[:2] == ["v1", "payment_intents"] and len(segments) >= 3:
                pi = self.intents.get(segments[2])
                if pi is None:
                    raise StripeFailure(
                        404, {"type": "invalid_request_error", "code": "resource_missing", "message": "No such intent"}
                    )
                if method == "GET" and len(segments) == 3:
                    return 200, pi
                if method == "POST" and len(segments) == 4:
                    action = segments[3]
                    if action == "confirm":
                        return self._confirm(pi, params)
                    if action == "capture":
                        return self._capture(pi)
                    if action == "cancel":
                        return self._cancel(pi, params)
            if method == "POST" and segments == ["v1", "refunds"]:
                return self._refund(params)
        raise StripeFailure(404, {"type": "invalid_request_error", "message": f"Unrecognized request URL {path}"})

    # -- the API ---------------------------------------------------------------------------------

    def _create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            amount = int(params["amount"])
        except (KeyError, ValueError):
            raise StripeFailure(
                400, {"type": "invalid_request_error", "param": "amount", "message": "bad amount"}
            ) from None
        customer, method = params.get("customer"), params.get("payment_method")
        if customer not in self._customers:
            raise StripeFailure(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": f"No such customer: {customer}",
                },
            )
        if method not in self._customers[customer]:
            raise StripeFailure(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": "PaymentMethod not on customer",
                },
            )
        pi_id = f"pi_{next(self._ids):06d}{secrets.token_hex(4)}"
        pi: dict[str, Any] = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": params.get("currency"),
            "customer": customer,
            "payment_method": method,
            "capture_method": params.get("capture_method", "automatic"),
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
            "status": "requires_confirmation",
            "next_action": None,
            "last_payment_error": None,
            "cancellation_reason": None,
            "client_secret": f"{pi_id}_secret_{secrets.token_hex(6)}",
            "livemode": False,
            "created": int(time.time()),
            "amount_refunded": 0,
        }
        self.intents[pi_id] = pi
        self._emit("payment_intent.created", pi)
        if params.get("confirm") == "true":
            return self._confirm(pi, params)
        return 200, pi

    def _confirm(self, pi: dict[str, Any], params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if pi["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise self._unexpected(pi)
        method = params.get("payment_method", pi["payment_method"])
        off_session = params.get("off_session") == "true"
        pi["payment_method"] = method
        pi["last_payment_error"] = None
        if method == VISA:
            self._authorise(pi)
            return 200, pi
        if method == AUTH_REQUIRED:
            if off_session:
                return self._card_error(pi, "authentication_required", None, "This payment requires authentication.")
            return_url = params.get("return_url")
            if not return_url:
                raise StripeFailure(
                    400, {"type": "invalid_request_error", "param": "return_url", "message": "return_url is required"}
                )
            pi["status"] = "requires_action"
            pi["next_action"] = {
                "type": "redirect_to_url",
                "redirect_to_url": {"url": f"{self.url}/3ds/{pi['id']}", "return_url": return_url},
            }
            self._emit("payment_intent.requires_action", pi)
            return 200, pi
        return self._card_error(pi, "card_declined", "generic_decline", "Your card was declined.")

    def _authorise(self, pi: dict[str, Any]) -> None:
        if pi["capture_method"] == "manual":
            pi["status"] = "requires_capture"
            pi["amount_capturable"] = pi["amount"]
            self._emit("payment_intent.amount_capturable_updated", pi)
        else:
            pi["status"] = "succeeded"
            pi["amount_received"] = pi["amount"]
            self._emit("payment_intent.succeeded", pi)

    def _card_error(
        self, pi: dict[str, Any], code: str, decline_code: str | None, message: str
    ) -> tuple[int, dict[str, Any]]:
        error = {"type": "card_error", "code": code, "decline_code": decline_code, "message": message}
        pi["status"] = "requires_payment_method"
        pi["last_payment_error"] = error
        self._emit("payment_intent.payment_failed", pi)
        raise StripeFailure(402, {**error, "payment_intent": dict(pi)})

    def _capture(self, pi: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if pi["status"] != "requires_capture":
            raise self._unexpected(pi)
        pi["status"] = "succeeded"
        pi["amount_received"], pi["amount_capturable"] = pi["amount"], 0
        self._emit("payment_intent.succeeded", pi)
        return 200, pi

    def _cancel(self, pi: dict[str, Any], params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if pi["status"] not in _CANCELABLE:
            raise self._unexpected(pi)
        pi["status"] = "canceled"
        pi["next_action"] = None
        pi["amount_capturable"] = 0
        pi["cancellation_reason"] = params.get("cancellation_reason")
        self._emit("payment_intent.canceled", pi)
        return 200, pi

    def _refund(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        pi = self.intents.get(params.get("payment_intent", ""))
        if pi is None or pi["status"] != "succeeded":
            raise StripeFailure(
                400, {"type": "invalid_request_error", "code": "resource_missing", "message": "nothing to refund"}
            )
        amount = int(params.get("amount", pi["amount_received"] - pi["amount_refunded"]))
        if pi["amount_refunded"] + amount > pi["amount_received"]:
            raise StripeFailure(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "charge_already_refunded",
                    "message": "already been refunded",
                },
            )
        pi["amount_refunded"] += amount
        refund = {"id": f"re_{secrets.token_hex(6)}", "object": "refund", "amount": amount, "payment_intent": pi["id"]}
        refund["status"] = "succeeded"
        self.refunds[refund["id"]] = refund
        charge = {
            "id": f"ch_{pi['id'][3:]}",
            "object": "charge",
            "payment_intent": pi["id"],
            "amount": pi["amount"],
            "amount_refunded": pi["amount_refunded"],
            "refunded": pi["amount_refunded"] >= pi["amount_received"],
            "metadata": {},
        }
        self._emit("charge.refunded", charge)
        return 200, refund

    @staticmethod
    def _unexpected(pi: dict[str, Any]) -> StripeFailure:
        return StripeFailure(
            400,
            {
                "type": "invalid_request_error",
                "code": "payment_intent_unexpected_state",
                "message": f"This PaymentIntent's status is {pi['status']}.",
                "payment_intent": dict(pi),
            },
        )

    # -- the bank's page -------------------------------------------------------------------------

    def _bank_page(self, request: BaseHTTPRequestHandler, method: str, intent_id: str, raw: bytes) -> None:
        with self._lock:
            pi = self.intents.get(intent_id)
        if pi is None:
            self._send_raw(request, 404, b"no such payment", {"Content-Type": "text/plain"})
            return
        if method == "GET":
            page = f"<form method=post><button name=action value=approve>Approve {pi['amount']}</button></form>"
            self._send_raw(request, 200, page.encode(), {"Content-Type": "text/html"})
            return
        action = dict(parse_qsl(raw.decode())).get("action", "approve")
        return_url = ((pi.get("next_action") or {}).get("redirect_to_url") or {}).get("return_url") or "/"
        self.authenticate(intent_id, approve=action == "approve")
        self._send_raw(request, 303, b"", {"Location": return_url})

    # -- webhooks --------------------------------------------------------------------------------

    def _emit(self, event_type: str, obj: dict[str, Any]) -> None:
        event = {
            "id": f"evt_{next(self._ids):06d}{secrets.token_hex(4)}",
            "object": "event",
            "api_version": "2026-01-01",
            "created": int(time.time()),
            "livemode": False,
            "type": event_type,
            "data": {"object": json.loads(json.dumps(obj))},
        }
        self.events.append(event)
        if self.webhook_url is not None:
            self._outbox.put(event)

    def _deliver_loop(self) -> None:
        with httpx.Client(timeout=10) as client:
            while True:
                event = self._outbox.get()
                if event is None:
                    return
                body = json.dumps(event).encode()
                headers = {
                    "Content-Type": "application/json",
                    "Stripe-Signature": sign(body, self.webhook_secret, int(time.time())),
                }
                try:
                    status = client.post(self.webhook_url or "", content=body, headers=headers).status_code
                except httpx.HTTPError:
                    status = 0
                with self._delivered:
                    self.deliveries.append((event["id"], status))
                    self._delivered.notify_all()

    # -- wire ------------------------------------------------------------------------------------

    def _send(
        self, request: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        self._send_raw(request, status, json.dumps(body).encode(), headers or {})

    @staticmethod
    def _send_raw(request: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            request.send_response(status)
            request.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
            request.send_header("Content-Length", str(len(body)))
            request.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
            for name, value in headers.items():
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and went away, as a client does


@contextmanager
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe().start()
    try:
        yield fake
    finally:
        fake.stop()
