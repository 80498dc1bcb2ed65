"""`freshtap admin`: accounts and broker files, working on the database directly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import col, select

from freshtap.clock import SystemClock
from freshtap.server.broker.mosquitto import MosquittoAccount, write_mosquitto_files
from freshtap.server.services import accounts
from freshtap.server.store.db import create_db_engine, migrate, session_factory
from freshtap.server.store.models import Credential
from freshtap.settings import Settings

app = typer.Typer(help="Accounts and broker configuration (works on the database directly).", no_args_is_help=True)


def _sessions(settings: Settings):  # type: ignore[no-untyped-def]
    engine = create_db_engine(settings.resolved_database_url)
    migrate(engine)
    return session_factory(engine)


def advertised_mqtt_url(settings: Settings) -> str:
    return settings.mqtt_url or f"mqtt://{settings.embedded_mqtt_host}:{settings.embedded_mqtt_port}"


@app.command("create-merchant")
def create_merchant(name: str, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Create a merchant and print its API key (shown once)."""
    settings = Settings()
    created = accounts.create_merchant(_sessions(settings), SystemClock(), name)
    out = {"merchant_id": created.merchant_id, "api_key": created.api_key}
    typer.echo(json.dumps(out) if as_json else f"merchant {out['merchant_id']}\napi key  {out['api_key']}")


@app.command("provision-fridge")
def provision_fridge(
    household: Annotated[str | None, typer.Option(help="Name of a new household for this fridge.")] = None,
    household_id: Annotated[str | None, typer.Option(help="Add the fridge to this existing household.")] = None,
    payment_method: Annotated[str | None, typer.Option(help="Payment provider token, e.g. pm_sandbox_ok.")] = None,
    fridge_id: Annotated[str | None, typer.Option(help="Fridge id (default: generated).")] = None,
    stripe_customer: Annotated[
        str | None, typer.Option(help="The household's Stripe customer (cus_...) holding --payment-method.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    no_offers: Annotated[
        bool, typer.Option("--no-offers", help="Leave a new household opted out of offers (default: opted in).")
    ] = False,
) -> None:
    """Create a fridge (and its household) and print its credentials (shown once)."""
    from freshtap.server.domain.errors import InvalidRequest
    from freshtap.server.payments.customers import set_customer, validate_token

    if (household is None) == (household_id is None):
        raise typer.BadParameter("give exactly one of --household or --household-id")
    for token in [t for t in (payment_method, stripe_customer) if t is not None]:
        try:
            validate_token(token)
        except InvalidRequest as exc:
            raise typer.BadParameter(exc.detail) from None
    settings = Settings()
    sessions = _sessions(settings)
    made = accounts.provision_fridge(
        sessions,
        SystemClock(),
        household_name=household,
        household_id=household_id,
        payment_method=payment_method,
        fridge_id=fridge_id,
        offers_opted_in=not no_offers,
    )
    if stripe_customer is not None:
        set_customer(sessions, SystemClock(), made.household_id, "stripe", stripe_customer)
    out = {
        "fridge_id": made.fridge_id,
        "household_id": made.household_id,
        "username": made.username,
        "password": made.password,
        "mqtt_url": advertised_mqtt_url(settings),
    }
    typer.echo(json.dumps(out) if as_json else "\n".join(f"{k:13} {v}" for k, v in out.items()))


@app.command("mosquitto-config")
def mosquitto_config(
    directory: Path,
    host: Annotated[str, typer.Option(help="Listener address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Listener port.")] = 1883,
    user: Annotated[
        str | None, typer.Option(help="User Mosquitto switches to when started as root (must read these files).")
    ] = None,
    max_connections: Annotated[
        int | None, typer.Option(help="Most clients the listener accepts at once (unset: no limit).", min=1)
    ] = None,
    dynsec: Annotated[
        bool,
        typer.Option(
            help="Load Mosquitto's dynamic security plugin so the server can ban flooding fridges "
            "(set FRESHTAP_BROKER_LIMITS__MOSQUITTO_DYNSEC=true for the server)."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write passwd, acl and mosquitto.conf for every fridge and the server account.

    The server account's password is FRESHTAP_SERVER_MQTT_PASSWORD, which must be set. Limits
    (inflight messages, session expiry) come from FRESHTAP_BROKER_LIMITS__*.
    """
    from freshtap.server.broker.mosquitto import find_dynsec_plugin, mosquitto_password_hash

    settings = Settings()
    if settings.server_mqtt_password is None:
        raise typer.BadParameter("set FRESHTAP_SERVER_MQTT_PASSWORD first: the server logs in with it")
    sessions = _sessions(settings)
    with sessions() as session:
        fridges = session.exec(
            select(Credential).where(Credential.kind == "fridge", col(Credential.revoked_at).is_(None))
        ).all()
    found = [
        MosquittoAccount(username=c.subject_id, password_hash=c.mosquitto_hash, role="fridge", fridge_id=c.subject_id)
        for c in fridges
        if c.mosquitto_hash
    ]
    server_account = MosquittoAccount(
        username=settings.server_mqtt_username,
        password_hash=mosquitto_password_hash(settings.server_mqtt_password.get_secret_value()),
        role="server",
        fridge_id=None,
    )
    plugin = find_dynsec_plugin() if dynsec else None
    if dynsec and plugin is None:
        raise typer.BadParameter("Mosquitto's dynamic security plugin is not installed here", param_hint="--dynsec")
    paths = write_mosquitto_files(
        directory,
        [server_account, *found],
        host,
        port,
        run_as_user=user,
        limits=settings.broker_limits,
        max_connections=max_connections,
        dynsec_plugin=plugin,
    )
    files = [str(p) for p in paths]
    out = {"fridges": len(found), "files": files}
    typer.echo(json.dumps(out) if as_json else f"wrote {', '.join(files)} for {len(found)} fridges")


@app.command("rotate")
def rotate(
    kind: Annotated[str, typer.Argument(help="fridge or merchant")],
    subject_id: Annotated[str, typer.Argument(help="The fridge id or merchant id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Revoke a fridge's password or a merchant's API key and issue a new one."""
    if kind not in ("fridge", "merchant"):
        raise typer.BadParameter("kind is fridge or merchant")
    settings = Settings()
    secret = accounts.rotate_credentials(_sessions(settings), SystemClock(), kind, subject_id)
    typer.echo(json.dumps({"subject_id": subject_id, "secret": secret}) if as_json else secret)
