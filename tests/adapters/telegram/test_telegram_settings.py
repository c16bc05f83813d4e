"""TELEGRAM_* are validated at start, naming the variable; the token stays secret."""

import subprocess
import sys

import pytest
from pydantic import ValidationError

from adapters.telegram.settings import TelegramSettings
from bot.settings import describe_error


def settings(**values):
    return TelegramSettings(_env_file=None, **values)


def bad(**values) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(**values)
    return describe_error(caught.value, "TELEGRAM_")


def test_defaults_follow_the_spec():
    """Unset variables take SPEC's defaults; Telegram's cloud limit caps MAX_UPLOAD_MB at 20."""
    s = settings()
    assert s.api_url == "https://api.telegram.org/bot"
    assert s.file_url == "https://api.telegram.org/file/bot"
    assert s.webhook_listen == "0.0.0.0:8443"
    assert s.limit_mb(50) == 20
    assert s.limit_mb(5) == 5


def test_local_mode_lifts_the_telegram_limit():
    """With a local Bot API server Telegram files may be as large as MAX_UPLOAD_MB, up to 2000."""
    assert settings(local_mode=True).limit_mb(1500) == 1500
    assert settings(local_mode=True).limit_mb(5000) == 2000


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"api_url": "ftp://x"}, "TELEGRAM_API_URL"),
        ({"file_url": "nope"}, "TELEGRAM_FILE_URL"),
        ({"webhook_url": "nope"}, "TELEGRAM_WEBHOOK_URL"),
        ({"webhook_listen": "8443"}, "TELEGRAM_WEBHOOK_LISTEN"),
    ],
)
def test_a_bad_value_names_its_variable(values, name):
    """A bad value fails when the settings are built, and the message names the variable."""
    assert name in bad(**values)


def test_the_token_enables_telegram_from_the_environment(monkeypatch):
    """TELEGRAM_BOT_TOKEN turns Telegram on; blank, it is unset."""
    assert not settings().enabled()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:secret-token")
    assert TelegramSettings(_env_file=None).enabled()
    assert not settings(bot_token="  ").enabled()


def test_tokens_are_secret():
    """The token and the webhook secret never show in the repr; ``secrets()`` lists them."""
    s = settings(bot_token="123:secret-token", webhook_secret="Ok_secret-1")
    assert "secret-token" not in repr(s)
    assert "Ok_secret-1" not in repr(s)
    assert set(s.secrets()) == {"123:secret-token", "Ok_secret-1"}


def test_webhook_secret_uses_only_the_characters_telegram_accepts():
    """TELEGRAM_WEBHOOK_SECRET with a space is refused at start, naming the variable."""
    assert "TELEGRAM_WEBHOOK_SECRET" in bad(webhook_secret="not allowed!")
    assert settings(webhook_secret="Ok_secret-1").webhook_secret is not None
    assert settings(webhook_secret="").webhook_secret is None


@pytest.mark.slow
def test_the_settings_import_no_sdk():
    """Reading TELEGRAM_* costs nothing when Telegram is not set: python-telegram-bot stays out."""
    code = "import sys, adapters.telegram.settings; print('telegram' in sys.modules)"
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
