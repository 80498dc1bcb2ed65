"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from freshtap import __version__
from freshtap.server.api.problems import install_problem_handlers
from freshtap.server.api.routes import fridges, health, offers, orders, products, proposals
from freshtap.server.container import Services

__all__ = ["create_app"]


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="freshtap",
        version=__version__,
        summary="Smart-fridge commerce: freshness, replenishment offers, one-tap payment.",
    )
    app.state.services = services
    install_problem_handlers(app)
    for module in (health, products, offers, fridges, proposals, orders):
        app.include_router(module.router)
    return app
