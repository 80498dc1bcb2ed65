"""Pages the owner's phone opens from the door screen's QR code (HTML, outside the JSON API).

- `/pay/confirm/{token}`: the sandbox provider's stand-in for a bank's 3-D Secure page. GET shows
  the charge and two buttons; POST (`decision=approve|refuse`) completes it, once, as the bank
  would, and the order moves on. The token is the only credential: it is random, single-purpose
  and unguessable, and the phone has no freshtap account.
- `/pay/return`: where Stripe sends the phone back after authentication; the result itself
  arrives by webhook.
"""

from __future__ import annotations

from html import escape
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from freshtap.server.api.deps import ServicesDep
from freshtap.server.payments.factory import RETURN_PATH
from freshtap.server.payments.sandbox import SandboxAuthentication, SandboxProvider

router = APIRouter(tags=["pay"], include_in_schema=False)

_ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX"})


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}"
        "button{font-size:1.1rem;padding:.6rem 1.2rem;margin:.3rem}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(
        html, status_code=status, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


def _amount(auth: SandboxAuthentication) -> str:
    if auth.currency in _ZERO_DECIMAL:
        return f"{auth.amount_minor} {auth.currency}"
    return f"{auth.amount_minor / 100:.2f} {auth.currency}"


def _sandbox(services: ServicesDep) -> SandboxProvider | None:
    provider = services.payments
    return provider if isinstance(provider, SandboxProvider) else None


async def _form(request: Request) -> dict[str, str]:
    raw = (await request.body())[:4096].decode("utf-8", errors="replace")
    return {key: values[0] for key, values in parse_qs(raw).items() if values}


Token = Annotated[str, Path(min_length=8, max_length=64)]


@router.get("/pay/confirm/{token}")
def confirm_page(token: Token, services: ServicesDep) -> HTMLResponse:
    sandbox = _sandbox(services)
    auth = sandbox.authentication(token) if sandbox is not None else None
    if auth is None:
        return _page("Not found", "<p>This payment link is not valid.</p>", 404)
    if not auth.waiting:
        return _page("Already done", f"<p>This payment was already {escape(auth.outcome or 'completed')}.</p>")
    return _page(
        "Confirm your purchase",
        f"<p>Your fridge asks to pay <strong>{escape(_amount(auth))}</strong>.</p>"
        f"<form method='post' action='/pay/confirm/{escape(token)}'>"
        "<button name='decision' value='approve'>Confirm</button>"
        "<button name='decision' value='refuse'>Refuse</button></form>"
        "<p><small>freshtap sandbox: this page stands in for your bank.</small></p>",
    )


@router.post("/pay/confirm/{token}")
def confirm(token: Token, services: ServicesDep, form: Annotated[dict[str, str], Depends(_form)]) -> HTMLResponse:
    decision = form.get("decision")
    if decision not in ("approve", "refuse"):
        return _page("Choose", "<p>Confirm or refuse the payment.</p>", 400)
    sandbox = _sandbox(services)
    result = sandbox.authenticate(token, approve=decision == "approve") if sandbox is not None else None
    if result is None:
        return _page("Not found", "<p>This payment link is not valid.</p>", 404)
    services.orders.settle_reference(result.reference, result)
    if result.outcome == "succeeded":
        return _page("Paid", "<p>Thank you: the payment is confirmed. You can close this page.</p>")
    return _page("Not paid", f"<p>The payment was not made ({escape(result.outcome)}).</p>")


@router.get(RETURN_PATH)
def returned() -> HTMLResponse:
    return _page("Thank you", "<p>You can close this page; your fridge's screen shows how the order stands.</p>")
