"""Operations: readiness, and logs that are structured on request and never carry a secret."""

from __future__ import annotations

import json
import logging

from fastapi.testclient import TestClient

from shopfloor import logs
from shopfloor.app import create_app
from shopfloor.settings import Settings
from shopfloor.store.db import open_engine, open_store


def test_readiness_names_what_is_missing(tmp_path, app):
    raw = open_engine(str(tmp_path / "raw.db"))  # not migrated
    assert (
        TestClient(create_app(Settings(), engine=raw)).get("/readyz").json()["reason"] == "the schema is not migrated"
    )
    empty = open_store(str(tmp_path / "empty.db"))
    answer = TestClient(create_app(Settings(), engine=empty)).get("/readyz")
    assert answer.status_code == 503 and answer.json()["reason"] == "no plant imported"
    ready = TestClient(app).get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_secrets_are_masked_in_every_log_format(capsys, monkeypatch):
    for fmt in ("text", "json"):
        logs.configure(level="INFO", fmt=fmt)
        log = logging.getLogger("shopfloor.test")
        log.info("sign-in with password=hunter2-secret and Authorization: Bearer abcdef123456")
        log.warning("token %s used from postgresql://app:db-pass-9@10.0.0.5/mes", "sf_abcdefghijklmnop")
        log.info("received", extra={"machine": "WLD-01", "note": "pin: 4821"})
        err = capsys.readouterr().err
        for secret in ("hunter2-secret", "abcdef123456", "db-pass-9", "sf_abcdefghijklmnop", "4821"):
            assert secret not in err, (fmt, secret)
        assert "***" in err
        if fmt == "json":  # the extra fields travel as fields of the JSON object
            assert "WLD-01" in err
            lines = [json.loads(line) for line in err.strip().splitlines()]
            assert (
                lines[-1]["machine"] == "WLD-01"
                and lines[-1]["level"] == "info"
                and lines[0]["logger"] == "shopfloor.test"
            )
    logging.getLogger().handlers.clear()
