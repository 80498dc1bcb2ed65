"""The OpenAPI document, made to say what the API really answers.

Every error is `application/problem+json` (RFC 9457), so each operation documents its error
statuses with that media type and one `Problem` schema, instead of FastAPI's default
`application/json` validation error; and GTINs carry the custom format `gtin` (14 digits with a
GS1 check digit), which clients and fuzzers can generate properly.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["PROBLEM_SCHEMA", "document_problems"]

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"loc": {"type": "array", "items": {"type": "string"}}, "msg": {"type": "string"}},
            },
        },
    },
}

_ERRORS = {
    "400": "Bad request",
    "401": "Missing, unknown, wrong or revoked token",
    "404": "No such object, or it belongs to someone else",
    "405": "Method not allowed",
    "409": "The object is not in a state that allows this",
    "413": "Request body too large",
    "422": "The request does not match the schema, or means nothing",
    "429": "Too many requests; see Retry-After",
}


def document_problems(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes, description=app.description
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                for status, description in _ERRORS.items():
                    responses[status] = {"description": description, "content": problem}
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
