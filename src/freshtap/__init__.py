"""freshtap: the shared kernel — wire contract, shelf-life model, clock, settings and CLI.

The server, device, simulator and firmware mock live in the sub-packages `freshtap.server`,
`freshtap.device`, `freshtap.simulator` and `freshtap.firmware_mock`; this root imports none of them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("freshtap")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
