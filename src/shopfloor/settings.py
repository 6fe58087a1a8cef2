"""Every setting of a shopfloor process, in one object read from the ``SHOPFLOOR_*`` environment variables.

The command line reads them once (``Settings()``), lets its options override them, and hands the object down:
to the application (``create_app(settings)``), the ingest, the scheduled reports.  No other module reads the
environment.  The README's settings table lists the same variables; ``tests/test_settings.py`` keeps the two
equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB = "shopfloor.db"
DEFAULT_MQTT = "mqtt://127.0.0.1:1883"


class Settings(BaseSettings):
    """A process's settings; each field is read from ``SHOPFLOOR_<FIELD>`` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="SHOPFLOOR_", frozen=True, extra="forbid")

    db: str = Field(
        DEFAULT_DB,
        description="The store: an SQLite file path, or postgresql://user@host/dbname (the --db option wins)",
    )
    secure: bool = Field(False, description="Served behind HTTPS: session cookies are marked Secure and HSTS is sent")
    hub: bool = Field(False, description="Serve the hub (programs, sponsors, shared outcomes) as well")
    assets: Path | None = Field(
        None, description="Folder of the browser libraries (default: web-assets/node_modules of the checkout)"
    )
    mqtt: str = Field(DEFAULT_MQTT, description="The broker of the simulated Sparkplug machines (demo, simulate)")
    smtp_url: SecretStr | None = Field(
        None,
        description="Mail server of scheduled reports: smtp://user:password@host:587 (STARTTLS when offered), "
        "smtps://host:465, or smtp://host:25 without login",
    )
    smtp_from: str | None = Field(None, description="Sender address of scheduled reports")
    hub_token: SecretStr | None = Field(None, description="A factory's token at the hub (shopfloor hub push)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="Lowest level of log lines written"
    )
    log_format: Literal["text", "json"] = Field("text", description="json: one JSON object per log line")
    breakdown_after_min: float = Field(
        15.0,
        gt=0,
        description="A machine down this many minutes gets a breakdown request for maintenance (shopfloor serve)",
    )

    # -- serving under load and attack: limits of `shopfloor serve` ----------------------------------------------
    max_body_kb: int = Field(
        1024, ge=1, description="Largest request body of a form or JSON request, in KiB (larger: 413)"
    )
    max_upload_mb: int = Field(
        50, ge=1, description="Largest uploaded file (master data, events, inspections), in MiB (larger: 413)"
    )
    max_unpacked_mb: int = Field(
        200, ge=1, description="Largest size a master-data workbook or zip may unpack to, in MiB"
    )
    max_import_rows: int = Field(200_000, ge=1, description="Most rows an imported file may have")
    header_timeout_s: float = Field(
        10.0, gt=0, description="A request's headers must arrive within this many seconds, else the connection closes"
    )
    body_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Longest pause between two parts of a request body, in seconds, else the connection closes",
    )
    keep_alive_s: float = Field(5.0, gt=0, description="An idle kept-alive connection closes after this many seconds")
    max_connections: int = Field(
        1000, ge=1, description="Most open connections to one serve process; more are closed as they arrive"
    )
    report_roots: str = Field(
        "",
        description="Folders under which scheduled reports may be written, separated by commas (none: folder "
        "delivery is refused)",
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object, info) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @property
    def report_folders(self) -> list[Path]:
        """The folders of ``report_roots``, resolved."""
        return [Path(p.strip()).expanduser().resolve() for p in self.report_roots.split(",") if p.strip()]

    def with_options(self, **options: object) -> Settings:
        """These settings with the command-line options that were given (None: not given) taking precedence."""
        given = {k: v for k, v in options.items() if v is not None}
        return self.model_copy(update=given) if given else self


def environment_variables() -> dict[str, str]:
    """``SHOPFLOOR_<FIELD>`` and its description, for every setting (the README's table)."""
    return {f"SHOPFLOOR_{name.upper()}": field.description or "" for name, field in Settings.model_fields.items()}
