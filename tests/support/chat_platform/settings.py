"""The test platform's one variable, ``TESTCHAT_URL``; light to import, like the real ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from bot.platform import PlatformSettings
from bot.settings import http_url

if TYPE_CHECKING:
    from bot.platform import Platform
    from bot.platform.surface import PlatformCore


class ChatSettings(PlatformSettings):
    """TESTCHAT_URL (the fake chat service's base URL) turns the test platform on."""

    model_config = SettingsConfigDict(env_prefix="TESTCHAT_")  # merged with the base's

    name: ClassVar[str] = "testchat"
    enabling_variable: ClassVar[str] = "TESTCHAT_URL"

    url: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if not value else http_url(value)

    def enabled(self) -> bool:
        return self.url is not None

    def secrets(self) -> list[str]:
        """The fake service asks for no token."""
        return []

    def connect(self, core: PlatformCore) -> Platform:
        from tests.support.chat_platform.adapter import ChatAdapter

        return ChatAdapter(core, self)
