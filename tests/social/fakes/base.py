"""A threaded HTTP server on a free loopback port, with scripted faults and a request log.

    fake.fail_next("/api/v1/statuses", Fault(500), Fault(500), Fault(429, retry_after="30"))

queues answers for the next requests whose path starts with the prefix; once they are used the
platform answers normally. `Fault(delay=s)` answers only after `s` seconds (a timeout for a
client with a shorter one).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Fault:
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    body: dict[str, Any] = field(default_factory=lambda: {"error": "injected failure"})


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def parts(self) -> dict[str, Part]:
        """The fields of a multipart/form-data body (RFC 7578), by name."""
        content_type = self.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data") or "boundary=" not in content_type:
            return {}
        boundary = content_type.split("boundary=", 1)[1].split(";")[0].strip('"').encode()
        found: dict[str, Part] = {}
        for chunk in self.body.split(b"--" + boundary)[1:]:
            if chunk.startswith(b"--"):
                break
            head, _, value = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
            name = re.search(rb'name="([^"]*)"', head)
            if name is None:
                continue
            filename = re.search(rb'filename="([^"]*)"', head)
            kind = re.search(rb"content-type:\s*([^\r\n]+)", head, re.IGNORECASE)
            found[name.group(1).decode()] = Part(
                filename.group(1).decode() if filename else None,
                kind.group(1).decode().strip() if kind else None,
                value[:-2] if value.endswith(b"\r\n") else value,
            )
        return found


@dataclass
class Part:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakePlatform:
    """Subclasses implement `handle(request) -> Answer`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._faults: list[tuple[str, Fault]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                parts = urlsplit(self.path)
                request = Request(
                    self.command,
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                answer = fake._answer(request)
                data = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in answer.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout we injected)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakePlatform:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, path_prefix: str, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend((path_prefix, fault) for fault in faults)

    def requests_to(self, path: str, method: str = "POST") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path and r.method == method]

    def _answer(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            fault = next((f for f in self._faults if request.path.startswith(f[0])), None)
            if fault is not None:
                self._faults.remove(fault)
        if fault is not None:
            injected = fault[1]
            if injected.delay:
                time.sleep(injected.delay)
            headers = {"Retry-After": injected.retry_after} if injected.retry_after is not None else {}
            return Answer(injected.status, injected.body, headers)
        with self._lock:
            return self.handle(request)

    def handle(self, request: Request) -> Answer:
        raise NotImplementedError


def running(fake: FakePlatform) -> Iterator[FakePlatform]:
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
