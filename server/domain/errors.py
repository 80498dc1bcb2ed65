"""Domain errors, mapped to problem+json by one handler in `api/problems.py`.

DomainError
├── NotFound            404 — also what another owner's object looks like
├── Unauthorized        401 — no or bad credentials
├── Forbidden           403 — a known caller doing what its role may not
├── Conflict            409 — the object is not in a state that allows it
├── IdempotencyMismatch 422 — an Idempotency-Key reused with a different request
└── InvalidRequest      422 — well-formed but meaningless (e.g. an unknown product)
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "DomainError",
    "Forbidden",
    "IdempotencyMismatch",
    "InvalidRequest",
    "NotFound",
    "Unauthorized",
]


class DomainError(Exception):
    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"
    type_slug = "unauthorized"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class Conflict(DomainError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class IdempotencyMismatch(DomainError):
    status = 422
    title = "Idempotency-Key reused with a different request"
    type_slug = "idempotency-mismatch"


class InvalidRequest(DomainError):
    status = 422
    title = "Invalid request"
    type_slug = "invalid-request"
