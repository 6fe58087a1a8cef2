"""``shopfloor hub keygen``, ``hub org``, ``user add --org`` and ``hub push --dry-run``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from shopfloor.cli import app
from shopfloor.model.signing import verify
from shopfloor.store.db import open_store
from tests.hub.test_hub_loopback import _factory_store


def test_a_factory_makes_its_key_and_signs_a_month_that_verifies(tmp_path):
    key = tmp_path / "factory.pem"
    made = CliRunner().invoke(app, ["hub", "keygen", str(key)])
    assert made.exit_code == 0, made.output
    public_b64 = made.stdout.strip()
    assert CliRunner().invoke(app, ["hub", "keygen", str(key)]).exit_code == 2  # never overwritten
    db = tmp_path / "factory.db"
    _factory_store(db, 950, 50).dispose()
    result = CliRunner().invoke(
        app,
        ["hub", "push", "--hub", "https://hub.invalid", "--token", "x", "--key", str(key), "--factory", "FAC-1",
         "--sponsor", "SP-A", "--month", "2026-03", "--kpis", "ppm,output_per_hour", "--dry-run", "--db", str(db)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    envelope = json.loads(result.stdout)
    assert envelope["payload"]["kpis"]["ppm"] == 50_000.0
    import base64

    verify(base64.b64decode(public_b64), envelope["payload"], envelope["signature"])
    bad = CliRunner().invoke(
        app,
        ["hub", "push", "--hub", "https://hub.invalid", "--token", "x", "--key", str(key), "--factory", "FAC-1",
         "--sponsor", "SP-A", "--month", "2026-13", "--kpis", "ppm", "--db", str(db)],
    )  # fmt: skip
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output


def test_the_office_registers_organisations_and_their_users(tmp_path, monkeypatch):
    db = str(tmp_path / "hub.db")
    open_store(db).dispose()
    assert (
        CliRunner()
        .invoke(app, ["hub", "org", "SP-A", "--name", "Sponsor A", "--kind", "sponsor", "--db", db])
        .exit_code
        == 0
    )
    wrong = CliRunner().invoke(app, ["hub", "org", "X", "--name", "X", "--kind", "bank", "--db", db])
    assert (wrong.exit_code, wrong.output) == (2, "error: kind must be office, sponsor or factory, not bank\n")
    added = CliRunner().invoke(app, ["user", "add", "kim", "--role", "sponsor", "--org", "SP-A", "--db", db],
                               input="sponsor-password-1\nsponsor-password-1\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    mismatch = CliRunner().invoke(app, ["user", "add", "lee", "--role", "factory", "--org", "SP-A", "--db", db],
                                  input="factory-password-1\nfactory-password-1\n")  # fmt: skip
    assert mismatch.exit_code == 2 and "has the role sponsor" in mismatch.output
