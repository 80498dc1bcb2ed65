"""The door screen, served by the fridge agent: a web page for the fridge's own touch display.

A shelf map coloured by freshness with countdowns (the server's explanation when it has one, the
fridge's own assessment when offline), the server's live offers with a one-tap Buy and an undo
window, order status (with a QR code when a payment needs approval), an offline banner, English
and Chinese, live over Server-Sent Events. See docs/door-screen.md.

    screen = DoorScreen(agent, clock, ScreenConfig(server_url=..., password=..., state_dir=...))
    screen.start()          # http://127.0.0.1:8180
    ...
    screen.stop()
"""

from .catalog import CATALOG, LANGUAGES
from .config import ScreenConfig
from .fridge_view import FridgeView
from .household_api import (
    ApiRefused,
    ApiUnavailable,
    HouseholdApi,
    HouseholdApiError,
    HttpHouseholdApi,
    OrderInfo,
    ServerInventory,
    ServerItem,
)
from .purchases import Purchases, Tap, TapStatus
from .screen import DoorScreen, ScreenError
from .view import ItemFreshness, Telemetry, build_snapshot, item_freshness

__all__ = [
    "CATALOG",
    "LANGUAGES",
    "ApiRefused",
    "ApiUnavailable",
    "DoorScreen",
    "FridgeView",
    "HouseholdApi",
    "HouseholdApiError",
    "HttpHouseholdApi",
    "ItemFreshness",
    "OrderInfo",
    "Purchases",
    "ScreenConfig",
    "ScreenError",
    "ServerInventory",
    "ServerItem",
    "Tap",
    "TapStatus",
    "Telemetry",
    "build_snapshot",
    "item_freshness",
]
