"""Temporary bans on Mosquitto 2.0 through its dynamic security plugin (`$CONTROL/dynamic-security/v1`).

Mosquitto 2.0 has no per-client publish rate limit, so the server limits each fridge at ingest
(`freshtap.server.ingest.rate_limit`) and, when a fridge keeps flooding, bans it here: it creates
a dynamic-security client of the fridge's username and disables it, which kicks the fridge off
and refuses its logins (CONNACK "not authorized") until the ban is lifted by deleting that client
again; then the password file written by `mosquitto.py` lets it in as before. Clients the plugin
does not know are left to the password file and ACL (the plugin defers them), so only banned
fridges ever appear in the plugin's configuration.

A ban records its deadline in the dynsec client's `textname`; `start()` lifts bans that ran
out while no server was watching (one that crashed, say), and keeps the others. The plugin's
control topics are Mosquitto's API, not freshtap's contract, which is why they are spelled here.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

__all__ = ["CONTROL_RESPONSE_TOPIC", "CONTROL_TOPIC", "DynsecBans", "DynsecError"]

log = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
CONTROL_RESPONSE_TOPIC = "$CONTROL/dynamic-security/v1/response"
_BAN_PREFIX = "freshtap ban until "


class DynsecError(RuntimeError):
    """The plugin did not answer, or refused a command."""


class DynsecBans:
    """Disables and re-enables fridges' logins on one Mosquitto; a lifecycle component.

    Logs in as the server's account (its ACL grants the control topics, see `mosquitto.py`).
    `ban(username, seconds)` blocks until the plugin has answered (a round trip on loopback);
    the ban is lifted by a timer thread, or by `lift`. `wall` is the wall clock (seconds since
    the epoch) the deadlines are written in.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        timeout: float = 5.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._host, self._port = host, port
        self._username, self._password = username, password
        self._timeout = timeout
        self._wall = wall
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[threading.Event, list[dict[str, Any]], int]] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._connected = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{self._username}-dynsec-{secrets.token_hex(3)}",
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        client.username_pw_set(self._username, self._password)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        self._client = client
        client.connect_async(self._host, self._port, keepalive=30)
        client.loop_start()
        if not self._connected.wait(self._timeout):
            self.stop()
            raise DynsecError(f"could not reach the dynamic security plugin on {self._host}:{self._port}")
        self._resume_bans()

    def stop(self) -> None:
        with self._lock:
            timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            timer.cancel()
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    # -- bans ------------------------------------------------------------------------------------

    def ban(self, username: str, seconds: float) -> None:
        """Refuse `username`'s logins for `seconds` and disconnect it now."""
        until = self._wall() + seconds
        answers = self._command(
            {"command": "createClient", "username": username, "textname": f"{_BAN_PREFIX}{until:.0f}"},
            {"command": "disableClient", "username": username},
        )
        created, disabled = answers
        if disabled.get("error"):
            raise DynsecError(f"disableClient {username}: {disabled['error']}")
        if created.get("error"):  # already there (banned before): renew its deadline
            self._command({"command": "modifyClient", "username": username, "textname": f"{_BAN_PREFIX}{until:.0f}"})
        log.warning("banned %r on Mosquitto for %g s", username, seconds)
        self._lift_at(username, seconds)

    def lift(self, username: str) -> None:
        """Let `username` log in again (with the password file's credentials)."""
        with self._lock:
            timer = self._timers.pop(username, None)
        if timer is not None:
            timer.cancel()
        (answer,) = self._command({"command": "deleteClient", "username": username})
        if answer.get("error"):
            log.info("lifting the ban of %r: %s", username, answer["error"])
        else:
            log.info("ban of %r on Mosquitto has ended", username)

    def banned(self) -> dict[str, float]:
        """The usernames this server banned and their deadlines (seconds since the epoch)."""
        (answer,) = self._command({"command": "listClients", "verbose": True})
        if answer.get("error"):
            raise DynsecError(f"listClients: {answer['error']}")
        out: dict[str, float] = {}
        for client in answer.get("data", {}).get("clients", []):
            name = str(client.get("textname") or "")
            if name.startswith(_BAN_PREFIX):
                try:
                    out[str(client["username"])] = float(name[len(_BAN_PREFIX) :])
                except ValueError:
                    continue
        return out

    def _resume_bans(self) -> None:
        now = self._wall()
        for username, until in self.banned().items():
            if until <= now:
                self.lift(username)
            else:
                self._lift_at(username, until - now)

    def _lift_at(self, username: str, seconds: float) -> None:
        timer = threading.Timer(seconds, self._lift_quietly, args=(username,))
        timer.daemon = True
        with self._lock:
            old = self._timers.pop(username, None)
            self._timers[username] = timer
        if old is not None:
            old.cancel()
        timer.start()

    def _lift_quietly(self, username: str) -> None:
        try:
            self.lift(username)
        except DynsecError:
            log.exception("could not lift the ban of %r; start() lifts it later", username)

    # -- the control topic -----------------------------------------------------------------------

    def _command(self, *commands: dict[str, Any]) -> list[dict[str, Any]]:
        client = self._client
        if client is None:
            raise DynsecError("not started")
        correlation = secrets.token_hex(8)
        tagged = [dict(command, correlationData=f"{correlation}-{i}") for i, command in enumerate(commands)]
        done = threading.Event()
        answers: list[dict[str, Any]] = []
        with self._lock:
            self._answers[correlation] = (done, answers, len(commands))
        try:
            client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
            if not done.wait(self._timeout):
                raise DynsecError(f"no answer from the dynamic security plugin to {[c['command'] for c in commands]}")
        finally:
            with self._lock:
                self._answers.pop(correlation, None)
        return sorted(answers, key=lambda a: int(str(a["correlationData"]).rpartition("-")[2]))

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        if reason.is_failure:
            log.error("dynamic security connection refused: %s", reason)
            return
        client.subscribe(CONTROL_RESPONSE_TOPIC, qos=1)
        self._connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, _reason: ReasonCode, _p: object) -> None:
        self._connected.clear()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(message.payload).get("responses", [])
        except (ValueError, AttributeError):
            log.warning("unreadable answer from the dynamic security plugin")
            return
        with self._lock:
            for response in responses:
                correlation, _, index = str(response.get("correlationData", "")).rpartition("-")
                waiting = self._answers.get(correlation)
                if waiting is None or not index.isdigit():
                    continue
                done, answers, expected = waiting
                answers.append(response)
                if len(answers) >= expected:
                    done.set()
