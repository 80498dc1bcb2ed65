"""`freshtap admin provision-fridge` opts a new household in to offers unless told `--no-offers`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from freshtap.cli import app
from freshtap.server.store.db import create_db_engine, session_factory
from freshtap.server.store.models import Household


def test_provisioning_opts_in_by_default_and_no_offers_leaves_out(tmp_path: Path) -> None:
    env = {"FRESHTAP_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    base = ["admin", "provision-fridge", "--json", "--household"]
    made = {}
    for name, extra in (("Lin", []), ("Wu", ["--no-offers"])):
        result = runner.invoke(app, [*base, name, *extra], env=env)
        assert result.exit_code == 0, result.output
        made[name] = json.loads(result.output)["household_id"]
    engine = create_db_engine(f"sqlite:///{tmp_path}/freshtap.db")
    with session_factory(engine)() as session:
        opted = {name: session.get(Household, hid).offers_opted_in for name, hid in made.items()}  # type: ignore[union-attr]
    engine.dispose()
    assert opted == {"Lin": True, "Wu": False}
