"""Files that make a Mosquitto 2.0 broker enforce freshtap's logins and topic rules.

`write_mosquitto_files` writes, into one directory, `passwd` (Mosquitto's `$7$` PBKDF2-SHA512
hashes, as `mosquitto_passwd` writes them), `acl` (the rules of `acl.py`: `pattern` lines with
`%u` for fridges, whose usernames are their fridge ids, and a `user` block per server account)
and `mosquitto.conf` (no anonymous login, a listener on the given host, packet, inflight, queue
and connection limits, expiry of persistent sessions, persistence in the same directory; with
`dynsec_plugin`, Mosquitto's dynamic security plugin, through which the server bans flooding
fridges, see `dynsec.py`). Run `mosquitto -c DIR/mosquitto.conf`; docs/mosquitto.md says more.
Topics come from the contract module, like everywhere else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from freshtap.contract import (
    DEVICE_TO_SERVER,
    MAX_PAYLOAD_BYTES,
    SERVER_TO_DEVICE,
    Channel,
    subscription_filter,
)
from freshtap.server.broker.acl import Principal, Role
from freshtap.server.broker.dynsec import CONTROL_RESPONSE_TOPIC, CONTROL_TOPIC
from freshtap.server.broker.framing import PACKET_HEADROOM
from freshtap.settings import BrokerLimitSettings

__all__ = [
    "MosquittoAccount",
    "MosquittoFiles",
    "find_dynsec_plugin",
    "mosquitto_password_hash",
    "write_mosquitto_files",
]

# Where Debian (and derivatives, and Mosquitto's own packages) install the plugin.
_DYNSEC_PATHS = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)
DYNSEC_FILE = "dynamic-security.json"

# What `mosquitto_passwd` 2.0 writes: PBKDF2-HMAC-SHA512, 12 bytes of salt, 101 iterations.
# Few iterations suffice for freshtap's credentials, which are long random secrets; each login
# costs the broker this many rounds.
_SALT_BYTES = 12
DEFAULT_ITERATIONS = 101
# The whole packet: the remaining length the embedded broker allows plus a fixed header (<= 5 bytes).
_FIXED_HEADER_MAX = 5

_CHANNEL_ORDER = (
    Channel.STATE,
    Channel.TELEMETRY,
    Channel.INVENTORY,
    Channel.EVENTS,
    Channel.OFFERS,
    Channel.NOTICES,
)


def find_dynsec_plugin() -> str | None:
    """The path of Mosquitto's dynamic security plugin, or None when it is not installed here."""
    return next((path for path in _DYNSEC_PATHS if Path(path).is_file()), None)


def mosquitto_password_hash(password: str, *, salt: bytes | None = None, iterations: int = DEFAULT_ITERATIONS) -> str:
    """`password` hashed in Mosquitto's `$7$` format (PBKDF2-SHA512), for a `password_file` line."""
    if iterations < 1:
        raise ValueError("iterations must be positive")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


@dataclass(frozen=True)
class MosquittoAccount:
    """One login for the broker: a fridge (username = fridge id) or the server."""

    username: str
    password_hash: str
    role: Role
    fridge_id: str | None

    def __post_init__(self) -> None:
        Principal(self.username, self.role, self.fridge_id)  # the same invariants as a principal
        for ch in (":", "\n", "\r", " ", "+", "#", "/"):
            if ch in self.username:
                raise ValueError(f"username {self.username!r} contains {ch!r}")
        if not self.password_hash.startswith(("$7$", "$6$")) or any(c in self.password_hash for c in ":\n\r"):
            raise ValueError(f"not a Mosquitto password hash for {self.username!r}")


class MosquittoFiles(NamedTuple):
    """The files `write_mosquitto_files` wrote; `config` is what to pass to `mosquitto -c`.

    Mosquitto keeps its persistence database (`mosquitto.db`) in the same directory.
    """

    config: Path
    passwd: Path
    acl: Path


def write_mosquitto_files(
    directory: str | os.PathLike[str],
    accounts: Iterable[MosquittoAccount],
    listener_host: str = "127.0.0.1",
    listener_port: int = 1883,
    *,
    max_payload: int = MAX_PAYLOAD_BYTES,
    max_queued_messages: int = 100_000,
    bind_client_id_to_username: bool = False,
    run_as_user: str | None = None,
    limits: BrokerLimitSettings | None = None,
    max_connections: int | None = None,
    dynsec_plugin: str | None = None,
) -> MosquittoFiles:
    """Write `passwd`, `acl` and `mosquitto.conf` for `accounts` into `directory` (created if needed).

    `bind_client_id_to_username` sets Mosquitto's `use_username_as_clientid`: every client's id
    becomes its username, so no fridge can take over another's session by using its client id.
    It is off by default because server workers sharing one account (shared subscriptions) would
    then take over each other; turn it on when each worker has an account of its own.
    `run_as_user` is the user Mosquitto switches to when started as root (it must be able to read
    these files and write the directory).

    `limits` (the settings' `broker_limits`) sets the inflight bound and the expiry of persistent
    sessions; `max_connections` caps the listener's connections. `dynsec_plugin` (a path, see
    `find_dynsec_plugin`) loads the dynamic security plugin with `dynamic-security.json` in the
    same directory (kept if it exists: Mosquitto writes it) and lets the server accounts use its
    control topic, so the server can ban fridges.
    """
    limits = limits or BrokerLimitSettings()
    if dynsec_plugin is not None and bind_client_id_to_username:
        # The server's ban connection needs a client id of its own beside its ingest connection.
        raise ValueError("dynsec bans need bind_client_id_to_username off (or a separate admin account)")
    if not listener_host:
        raise ValueError("bind the listener to an explicit host")
    if not 0 < listener_port <= 65535:
        raise ValueError(f"invalid listener port {listener_port}")
    accounts = list(accounts)
    names = [account.username for account in accounts]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"usernames used more than once: {', '.join(duplicates)}")

    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    files = MosquittoFiles(config=root / "mosquitto.conf", passwd=root / "passwd", acl=root / "acl")
    _write(files.passwd, "".join(f"{a.username}:{a.password_hash}\n" for a in accounts))
    _write(files.acl, _acl_text(accounts, dynsec=dynsec_plugin is not None))
    dynsec_file = root / DYNSEC_FILE
    if dynsec_plugin is not None and not dynsec_file.exists():
        _write(dynsec_file, _EMPTY_DYNSEC)
    _write(
        files.config,
        _config_text(
            files,
            listener_host,
            listener_port,
            max_payload=max_payload,
            max_queued_messages=max_queued_messages,
            bind_client_id_to_username=bind_client_id_to_username,
            run_as_user=run_as_user,
            limits=limits,
            max_connections=max_connections,
            dynsec=(dynsec_plugin, dynsec_file) if dynsec_plugin is not None else None,
        ),
    )
    return files


# No clients, groups or roles: the plugin defers every login and topic check to the password
# file and ACL, until the server bans someone. `defaultACLAccess` applies only to its own clients.
_EMPTY_DYNSEC = json.dumps(
    {
        "clients": [],
        "groups": [],
        "roles": [],
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": False,
        },
    },
    indent=2,
)


def _duration(seconds: float) -> str:
    # Mosquitto's persistent_client_expiration takes whole hours, days, weeks, months or years.
    hours = max(1, math.ceil(seconds / 3600))
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"


def _write(path: Path, text: str) -> None:
    # Written beside and renamed over, so a broker reloading never reads half a file.
    partial = path.with_name(path.name + ".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)


def _fridge_pattern(channel: Channel) -> str:
    # The contract's every-fridge filter with `%u` (the fridge's username = its id) for the `+`.
    every: str = subscription_filter(channel)
    assert every.count("/+/") == 1, every
    return every.replace("/+/", "/%u/")


def _acl_text(accounts: list[MosquittoAccount], *, dynsec: bool = False) -> str:
    lines = [
        "# freshtap topic ACL, generated by write_mosquitto_files; regenerate, do not edit.",
        "# Mosquitto denies whatever no line below allows.",
        "",
        "# Fridges (username = fridge id): publish to their own device -> server topics,",
        "# subscribe to and receive only their own server -> device topics.",
    ]
    lines += [f"pattern write {_fridge_pattern(ch)}" for ch in _CHANNEL_ORDER if ch in DEVICE_TO_SERVER]
    lines += [f"pattern read {_fridge_pattern(ch)}" for ch in _CHANNEL_ORDER if ch in SERVER_TO_DEVICE]
    for account in accounts:
        if account.role != "server":
            continue
        lines += [
            "",
            "# The server: reads every fridge's device -> server topics, writes server -> device ones.",
            f"user {account.username}",
        ]
        # `pattern` lines apply to every user; should the server's username also be a valid
        # fridge id, deny it the fridge topics named after it.
        lines += [
            f"topic deny {_fridge_pattern(ch).replace('%u', account.username)}"
            for ch in _CHANNEL_ORDER
            if _is_fridge_id(account.username)
        ]
        lines += [f"topic read {subscription_filter(ch)}" for ch in _CHANNEL_ORDER if ch in DEVICE_TO_SERVER]
        lines += [f"topic write {subscription_filter(ch)}" for ch in _CHANNEL_ORDER if ch in SERVER_TO_DEVICE]
        if dynsec:
            # Bans go through the dynamic security plugin's control topic (dynsec.py).
            lines += [f"topic write {CONTROL_TOPIC}", f"topic read {CONTROL_RESPONSE_TOPIC}"]
    return "\n".join(lines) + "\n"


def _is_fridge_id(name: str) -> bool:
    try:
        Principal(name, "fridge", name)
    except ValueError:
        return False
    return True


def _config_text(
    files: MosquittoFiles,
    host: str,
    port: int,
    *,
    max_payload: int,
    max_queued_messages: int,
    bind_client_id_to_username: bool,
    run_as_user: str | None,
    limits: BrokerLimitSettings,
    max_connections: int | None,
    dynsec: tuple[str, Path] | None,
) -> str:
    lines = [
        "# Mosquitto 2.0 for freshtap, generated by write_mosquitto_files; regenerate, do not edit.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {files.passwd}",
        f"acl_file {files.acl}",
        "allow_zero_length_clientid false",
        "",
        "# Payloads are at most 64 KiB (CONTRACT.md): a bigger payload is dropped; a packet",
        "# bigger than payload + room for topic and headers disconnects its client.",
        f"message_size_limit {max_payload}",
        f"max_packet_size {max_payload + PACKET_HEADROOM + _FIXED_HEADER_MAX}",
        # Queues must hold what arrives while a server worker restarts (docs/deployment.md);
        # the byte bound keeps that from costing unbounded memory.
        f"max_queued_messages {max_queued_messages}",
        "max_queued_bytes 268435456",
        f"max_inflight_messages {limits.max_inflight_messages}",
        # A persistent session whose client stays away this long is deleted with its queue.
        f"persistent_client_expiration {_duration(limits.session_expiry_seconds)}",
        # Mosquitto 2.0 has no per-client publish or connection rate limit: the server limits
        # each fridge's rate at ingest and bans flooders (dynsec); connection rates belong in
        # front of the broker (docs/security.md, "Broker limits").
        "",
        "persistence true",
        f"persistence_location {files.config.parent}",
        # Save after every 100 changes, not on a timer: what a hard kill can lose is then bounded
        # by changes, not by seconds of traffic (measured in docs/deployment.md).
        "autosave_on_changes true",
        "autosave_interval 100",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
    ]
    if run_as_user is not None:
        lines.append(f"user {run_as_user}")
    if dynsec is not None:
        plugin, config_file = dynsec
        lines += [
            "",
            "# Bans: the server disables a flooding fridge's login here for a while (dynsec.py).",
            f"plugin {plugin}",
            f"plugin_opt_config_file {config_file}",
        ]
    lines += [
        "",
        f"listener {port} {host}",
        "protocol mqtt",
        f"use_username_as_clientid {'true' if bind_client_id_to_username else 'false'}",
    ]
    if max_connections is not None:
        lines.append(f"max_connections {max_connections}")
    return "\n".join(lines) + "\n"
