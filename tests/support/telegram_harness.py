"""The real Telegram adapter against the fake Bot API: its settings, and what every test checks."""

from __future__ import annotations

from typing import Any

from adapters.telegram.settings import TelegramSettings
from tests.support.fakes.telegram_api import TEST_TOKEN, FakeTelegram


def telegram_for(
    telegram: FakeTelegram, *, token: str = TEST_TOKEN, **extra: Any
) -> TelegramSettings:
    """TELEGRAM_* pointing at the fake Bot API; ``extra`` sets more (``webhook_url=...``)."""
    return TelegramSettings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=token,
        api_url=telegram.api_url,
        file_url=telegram.file_url,
        **extra,
    )


def assert_delete_links_private(fake: FakeTelegram) -> None:
    for message in fake.sent:
        if "/delete/" in (message.get("text") or ""):
            assert int(message["chat_id"]) > 0, "a delete link was sent to a group"
            assert message["preview_disabled"], "a delete link was sent with a link preview"
