"""Child process: the server's embedded broker alone (same class, database logins, ACL), for baselines.

    python -m harness.standalone_broker DATABASE_URL SERVER_USERNAME SERVER_PASSWORD

Prints `PORT <n>` once listening on 127.0.0.1 at a free port; stops on SIGTERM or when stdin closes.
"""

from __future__ import annotations

import signal
import sys
import threading


def main(argv: list[str]) -> None:
    from freshtap.server.broker.embedded import EmbeddedBroker
    from freshtap.server.security.broker_auth import DatabaseBrokerAuthenticator
    from freshtap.server.security.credentials import CredentialVerifier
    from freshtap.server.store.db import create_db_engine, session_factory

    database_url, username, password = argv
    verifier = CredentialVerifier(session_factory(create_db_engine(database_url)))
    broker = EmbeddedBroker("127.0.0.1", 0, DatabaseBrokerAuthenticator(verifier, username, password))
    broker.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def until_stdin_closes() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    print(f"PORT {broker.port}", flush=True)
    done.wait()
    broker.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
