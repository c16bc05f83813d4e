"""The core's settings: with each platform's own (``bot.platform.PlatformSettings``), the only
readers of the environment (and of an optional ``.env`` file).

Names are exactly those of the README's table. Every value is validated when the
settings are built, so a bad one fails at start and names its variable.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.chevereto.expiration import parse_duration
from bot.errors import InvalidExpiration

LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]
FROM_ENVIRONMENT = SettingsConfigDict(
    env_file=".env",
    env_file_encoding="utf-8",
    env_ignore_empty=True,
    extra="ignore",
    frozen=True,
)
"""How every settings class reads: the environment, then ``.env``; empty means unset."""


def http_url(value: str) -> str:
    """An http(s) URL with a host, without its trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


ENTRY = re.compile(r"([a-z][a-z0-9_]*):(-?[0-9]{1,20})")
"""One entry of an access list: a platform's name and a numeric id, like ``<platform>:123``."""
Entries = Annotated[frozenset[tuple[str, str]], NoDecode]


def access_entries(value: object) -> object:
    """``a:1, b:2`` → {("a", "1"), ("b", "2")}; blank is empty."""
    if not isinstance(value, str):
        return value
    entries = set()
    for part in value.split(","):
        if not part.strip():
            continue
        entry = ENTRY.fullmatch(part.strip())
        if entry is None:
            raise ValueError("must be platform:id entries separated by commas, like name:123")
        entries.add((entry.group(1), entry.group(2)))
    return frozenset(entries)


def host_port(value: str) -> str:
    """``host:port`` with a port number in range."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be host:port, like 0.0.0.0:8443")
    return value


class Settings(BaseSettings):
    """The core's settings, read from the environment or ``.env``."""

    model_config = FROM_ENVIRONMENT

    chevereto_url: str
    default_api_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    data_dir: Path = Path("./data")
    database_url: SecretStr | None = None

    max_upload_mb: int = Field(default=50, gt=0)
    upload_concurrency: int = Field(default=4, gt=0, le=256)
    """Uploads in flight at once, per process: the host never gets more from one process."""
    link_concurrency: int = Field(default=4, gt=0, le=256)
    """Link fetches at once, per process, in a lane of their own (two per user at most)."""
    backfill_concurrency: int = Field(default=2, ge=0, le=256)
    """How many upload slots background work (a backfill) may take, and only free ones."""
    max_host_answer_kb: int = Field(default=1024, gt=0)
    """The most of a host's answer the bot reads; a larger one is not the API."""
    host_outage_patience: timedelta = Field(default=timedelta(hours=1), gt=timedelta(0))
    """How long a file waits for a host that is down before it is answered as failed."""
    min_transfer_kbps: int = Field(default=16, gt=0)
    """A transfer (a download, a link's fetch, an upload's body) moving fewer KB per second over
    any ``Tuning.transfer_window_s`` (30 s) is cut."""
    link_deadline: float = Field(default=60.0, gt=0)
    """Seconds a link's whole fetch may take, plus 1 s per MB its server declares."""
    log_level: LogLevel = "INFO"
    log_format: Literal["text", "json"] = "text"

    allowed_users: Entries = frozenset()
    """Who may use the bot anywhere; with ALLOWED_CHATS empty too, everyone may."""
    allowed_chats: Entries = frozenset()
    """Chats (a platform's group or server id) whose members may use the bot there."""
    bot_admins: Entries = frozenset()
    """Who may use /stats."""
    shared_key_daily_limit: int = Field(default=100, ge=0)
    """Uploads per user and UTC day with a key not their own; 0 means no limit."""
    health_listen: str | None = None
    """``host:port`` serving /healthz and /metrics; unset, none is served."""
    fetch_private_addresses: bool = False
    """Links may lead to loopback, private, link-local and reserved addresses: for a bot whose
    users are trusted and whose files sit on its own network."""

    @field_validator("chevereto_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return http_url(value)

    @field_validator("allowed_users", "allowed_chats", "bot_admins", mode="before")
    @classmethod
    def _entries(cls, value: object) -> object:
        return access_entries(value)

    @field_validator("health_listen")
    @classmethod
    def _health(cls, value: str | None) -> str | None:
        return None if not value else host_port(value)

    @field_validator("host_outage_patience", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        """ISO-8601 (``PT1H``) or a short form (``1h``, ``30m``), as /expire takes them."""
        if not isinstance(value, str):
            return value
        try:
            return parse_duration(value)
        except InvalidExpiration:
            raise ValueError("must be a duration like 1h, 30m or PT1H") from None

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        scheme = value.get_secret_value().split("://", 1)[0]
        if scheme not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("default_api_key", "secret_key")
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return empty_is_unset(value)

    def secrets(self) -> list[str]:
        """Every secret value among these settings, so that logs can mask them."""
        values = (self.default_api_key, self.secret_key, self.database_url)
        return [value.get_secret_value() for value in values if value is not None]

    @property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL, or the SQLite file in DATA_DIR."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'bot.sqlite3').resolve()}"


def empty_is_unset(value: SecretStr | None) -> SecretStr | None:
    """A secret set to blanks is not set."""
    return value if value is not None and value.get_secret_value().strip() else None


def describe_error(error: ValidationError, prefix: str = "") -> str:
    """One line naming each bad variable (``prefix`` + field) and why, never echoing a value."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        name = (prefix + str(item["loc"][0])).upper() if item["loc"] else "settings"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "is required"
        parts.append(f"{name} {message}")
    return "invalid settings: " + "; ".join(parts)
