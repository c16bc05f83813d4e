"""Telegram's own variables (``TELEGRAM_*``), read like the core's; light to import."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bot.platform import PlatformSettings
from bot.settings import empty_is_unset, host_port, http_url

if TYPE_CHECKING:
    from bot.platform import Platform
    from bot.platform.surface import PlatformCore

CLOUD_LIMIT_MB = 20
"""The Bot API's getFile limit for the cloud server."""
LOCAL_LIMIT_MB = 2000
"""A local telegram-bot-api server serves files up to 2000 MB."""
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{0,256}")
"""What Telegram accepts as a webhook's secret token."""


class TelegramSettings(PlatformSettings):
    """TELEGRAM_BOT_TOKEN turns Telegram on; the rest point it at a Bot API server or a webhook."""

    model_config = SettingsConfigDict(env_prefix="TELEGRAM_")  # merged with the base's

    name: ClassVar[str] = "telegram"
    enabling_variable: ClassVar[str] = "TELEGRAM_BOT_TOKEN"
    sdk_loggers: ClassVar[tuple[str, ...]] = ("telegram",)

    bot_token: SecretStr | None = None
    api_url: str = "https://api.telegram.org/bot"
    file_url: str = "https://api.telegram.org/file/bot"
    local_mode: bool = False
    local_root: Path | None = None
    """Local mode: the folder the Bot API server keeps its files in (its ``--dir``), the only
    one the bot reads files from."""
    webhook_url: str | None = None
    # a webhook server listens on every interface unless told otherwise
    webhook_listen: str = "0.0.0.0:8443"
    webhook_secret: SecretStr | None = None

    @field_validator("api_url", "file_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return http_url(value)

    @field_validator("webhook_url")
    @classmethod
    def _optional_url(cls, value: str | None) -> str | None:
        return None if not value else http_url(value)

    @field_validator("webhook_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return host_port(value)

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("may hold only A-Z, a-z, 0-9, _ and -, at most 256 characters")
        return empty_is_unset(value)

    @field_validator("local_root", mode="before")
    @classmethod
    def _empty_root_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("bot_token")
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return empty_is_unset(value)

    def enabled(self) -> bool:
        return self.bot_token is not None

    def secrets(self) -> list[str]:
        values = (self.bot_token, self.webhook_secret)
        return [value.get_secret_value() for value in values if value is not None]

    def limit_mb(self, max_upload_mb: int) -> int:
        """MAX_UPLOAD_MB, capped by what the Bot API server can hand out."""
        return min(max_upload_mb, LOCAL_LIMIT_MB if self.local_mode else CLOUD_LIMIT_MB)

    def connect(self, core: PlatformCore) -> Platform:
        from adapters.telegram.adapter import TelegramAdapter  # noqa: PLC0415

        return TelegramAdapter(core, self)
