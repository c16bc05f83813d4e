"""Discord's own variables, ``DISCORD_*``, read like the core's (environment or ``.env``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from bot.platform import Platform, PlatformSettings
from bot.settings import empty_is_unset, http_url

if TYPE_CHECKING:
    from bot.platform.surface import PlatformCore


class DiscordSettings(PlatformSettings):
    """DISCORD_BOT_TOKEN enables Discord; the shard variables split a large bot across processes."""

    # Merged with the base's: the same .env, empty values unset, frozen.
    model_config = SettingsConfigDict(env_prefix="DISCORD_")

    name: ClassVar[str] = "discord"
    enabling_variable: ClassVar[str] = "DISCORD_BOT_TOKEN"
    sdk_loggers: ClassVar[tuple[str, ...]] = ("discord",)

    bot_token: SecretStr | None = None
    api_url: str = "https://discord.com/api/v10"
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = None
    """The shards this process runs; all of them when unset."""
    shard_count: int | None = Field(default=None, gt=0)
    """The bot's shard count; Discord's recommendation (``GET /gateway/bot``) when unset."""

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        return empty_is_unset(value)

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _shards(cls, value: object) -> object:
        """``0,1`` → ``(0, 1)``; blank is unset."""
        if not isinstance(value, str):
            return value
        try:
            ids = tuple(int(part) for part in value.split(",") if part.strip())
        except ValueError:
            raise ValueError("must be shard numbers separated by commas, like 0,1") from None
        if any(i < 0 for i in ids):
            raise ValueError("shard numbers are 0 or more")
        return ids or None

    def enabled(self) -> bool:
        return self.bot_token is not None

    def secrets(self) -> list[str]:
        return [] if self.bot_token is None else [self.bot_token.get_secret_value()]

    def connect(self, core: PlatformCore) -> Platform:
        from adapters.discord.adapter import DiscordAdapter  # noqa: PLC0415 - loads discord.py

        return DiscordAdapter(core, self)
