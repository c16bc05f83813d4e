"""Settings: the only reader of the environment (and of an optional ``.env`` file).

Names are exactly those of SPEC.md's table. Every value is validated when the
settings are built, so a bad one fails at start and names its variable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TELEGRAM_CLOUD_LIMIT_MB = 20
"""The Bot API's getFile limit for the cloud server."""
TELEGRAM_LOCAL_LIMIT_MB = 2000
"""A local telegram-bot-api server serves files up to 2000 MB."""

LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be host:port, like 0.0.0.0:8443")
    return value


class Settings(BaseSettings):
    """Every setting of SPEC.md, read from the environment or ``.env``."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    chevereto_url: str
    default_api_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    data_dir: Path = Path("./data")
    database_url: SecretStr | None = None

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_file_url: str = "https://api.telegram.org/file/bot"
    telegram_local_mode: bool = False
    telegram_webhook_url: str | None = None
    # a webhook server listens on every interface unless told otherwise
    telegram_webhook_listen: str = "0.0.0.0:8443"
    telegram_webhook_secret: SecretStr | None = None

    discord_bot_token: SecretStr | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    discord_shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = None
    discord_shard_count: int | None = Field(default=None, gt=0)

    max_upload_mb: int = Field(default=50, gt=0)
    upload_concurrency: int = Field(default=4, gt=0, le=256)
    log_level: LogLevel = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("chevereto_url", "telegram_api_url", "telegram_file_url", "discord_api_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("telegram_webhook_url")
    @classmethod
    def _optional_url(cls, value: str | None) -> str | None:
        return None if not value else _http_url(value)

    @field_validator("telegram_webhook_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return _host_port(value)

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{0,256}", value.get_secret_value()
        ):
            raise ValueError("may hold only A-Z, a-z, 0-9, _ and -, at most 256 characters")
        return value

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

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _shards(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                ids = tuple(int(part) for part in value.split(",") if part.strip())
            except ValueError:
                raise ValueError("must be shard numbers separated by commas, like 0,1") from None
            if any(i < 0 for i in ids):
                raise ValueError("shard numbers are 0 or more")
            return ids or None
        return value

    @field_validator(
        "default_api_key",
        "secret_key",
        "telegram_bot_token",
        "telegram_webhook_secret",
        "discord_bot_token",
    )
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @property
    def telegram_max_upload_mb(self) -> int:
        """MAX_UPLOAD_MB, capped by what the Bot API server can hand out."""
        cap = TELEGRAM_LOCAL_LIMIT_MB if self.telegram_local_mode else TELEGRAM_CLOUD_LIMIT_MB
        return min(self.max_upload_mb, cap)

    @property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL, or the SQLite file in DATA_DIR."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'bot.sqlite3').resolve()}"


def describe_error(error: ValidationError) -> str:
    """One line naming each bad variable and why, without echoing any value."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        name = str(item["loc"][0]).upper() if item["loc"] else "settings"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "is required"
        parts.append(f"{name} {message}")
    return "invalid settings: " + "; ".join(parts)
