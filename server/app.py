"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from freshtap import __version__
from freshtap.server.api.middleware import BodySizeLimit, SecurityHeaders
from freshtap.server.api.openapi import document_problems
from freshtap.server.api.problems import install_problem_handlers
from freshtap.server.api.retry_after import install_retry_after
from freshtap.server.api.routes import (
    admin,
    due_soon,
    fridges,
    funnel,
    health,
    households,
    offer_preferences,
    offers,
    orders,
    pay,
    privacy,
    products,
    proposals,
    ready,
    referrals,
    reviews,
    social_feed,
    waste,
    webhooks,
)
from freshtap.server.console import routes as console
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
    install_retry_after(app)
    app.add_middleware(BodySizeLimit, wider=reviews.body_limits(services.settings))
    app.add_middleware(SecurityHeaders)
    document_problems(app)
    routers = (
        health, ready, products, offers, offer_preferences, fridges, proposals, orders, waste, due_soon,
        households, webhooks, pay, funnel, console, social_feed, reviews, referrals, admin, privacy,
    )
    for module in routers:
        app.include_router(module.router)
    return app
