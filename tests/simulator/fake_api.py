"""A tiny stand-in for the server's accept endpoint, on 127.0.0.1 at a free port."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class AcceptCall:
    path: str
    authorization: str | None
    idempotency_key: str | None


class FakeApi:
    """`POST /api/v1/proposals/{id}/accept`: 409 for ids starting `gone-`, else a paid order.

    The same Idempotency-Key returns the same order, as the real server promises.
    """

    def __init__(self) -> None:
        self.calls: queue.Queue[AcceptCall] = queue.Queue()
        self._orders: dict[str, str] = {}
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                key = self.headers.get("Idempotency-Key")
                api.calls.put(AcceptCall(self.path, self.headers.get("Authorization"), key))
                parts = self.path.split("/")
                if len(parts) != 6 or parts[1:4] != ["api", "v1", "proposals"] or parts[5] != "accept":
                    return self._send(404, {"title": "not found"})
                proposal_id = parts[4]
                if proposal_id.startswith("gone-"):
                    return self._send(409, {"title": "proposal expired", "status": 409})
                with api._lock:
                    order_id = api._orders.setdefault(key or "", f"o-{len(api._orders) + 1}")
                return self._send(200, {"order_id": order_id, "status": "paid", "proposal_id": proposal_id})

            def _send(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                ctype = "application/json" if status < 400 else "application/problem+json"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-api", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
