"""Settings are validated at start, naming the variable; secrets stay secret."""

import pytest
from pydantic import ValidationError

from bot.settings import Settings, describe_error

URL = "http://127.0.0.1:9"


def settings(**values):
    return Settings(_env_file=None, chevereto_url=values.pop("chevereto_url", URL), **values)


def bad(**values) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(**values)
    return describe_error(caught.value)


def test_defaults_follow_the_spec():
    """Unset variables take SPEC's defaults."""
    s = settings()
    assert s.max_upload_mb == 50
    assert s.telegram_max_upload_mb == 20
    assert s.upload_concurrency == 4
    assert s.telegram_api_url == "https://api.telegram.org/bot"
    assert s.telegram_webhook_listen == "0.0.0.0:8443"
    assert s.discord_api_url == "https://discord.com/api/v10"
    assert (s.log_level, s.log_format) == ("INFO", "text")


def test_local_mode_lifts_the_telegram_limit():
    """With a local Bot API server Telegram files may be as large as MAX_UPLOAD_MB, up to 2000."""
    assert settings(telegram_local_mode=True, max_upload_mb=1500).telegram_max_upload_mb == 1500
    assert settings(telegram_local_mode=True, max_upload_mb=5000).telegram_max_upload_mb == 2000


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"chevereto_url": "not a url"}, "CHEVERETO_URL"),
        ({"telegram_api_url": "ftp://x"}, "TELEGRAM_API_URL"),
        ({"telegram_webhook_url": "nope"}, "TELEGRAM_WEBHOOK_URL"),
        ({"telegram_webhook_listen": "8443"}, "TELEGRAM_WEBHOOK_LISTEN"),
        ({"max_upload_mb": -1}, "MAX_UPLOAD_MB"),
        ({"upload_concurrency": 0}, "UPLOAD_CONCURRENCY"),
        ({"discord_shard_ids": "0,x"}, "DISCORD_SHARD_IDS"),
        ({"discord_shard_count": 0}, "DISCORD_SHARD_COUNT"),
        ({"log_level": "LOUD"}, "LOG_LEVEL"),
        ({"log_format": "xml"}, "LOG_FORMAT"),
        ({"database_url": "mysql://x"}, "DATABASE_URL"),
    ],
)
def test_a_bad_value_names_its_variable(values, name):
    """A bad value fails when the settings are built, and the message names the variable."""
    assert name in bad(**values)


def test_missing_url_is_named():
    """CHEVERETO_URL is required."""
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert "CHEVERETO_URL is required" in describe_error(caught.value)


def test_errors_never_echo_values():
    """A bad DATABASE_URL holding a password is named, never shown."""
    message = bad(database_url="mysql://user:hunter2@db/x")
    assert "hunter2" not in message


def test_shard_ids_from_the_environment(monkeypatch):
    """DISCORD_SHARD_IDS=0,1 is read as shard numbers."""
    monkeypatch.setenv("CHEVERETO_URL", URL)
    monkeypatch.setenv("DISCORD_SHARD_IDS", "0, 1")
    assert Settings(_env_file=None).discord_shard_ids == (0, 1)


def test_tokens_are_secret():
    """Tokens and keys never show in the settings' repr."""
    s = settings(telegram_bot_token="123:secret-token", default_api_key="chv_secret")
    assert "secret-token" not in repr(s)
    assert "chv_secret" not in repr(s)


def test_webhook_secret_uses_only_the_characters_telegram_accepts():
    """TELEGRAM_WEBHOOK_SECRET with a space is refused at start, naming the variable."""
    assert "TELEGRAM_WEBHOOK_SECRET" in bad(telegram_webhook_secret="not allowed!")
    assert settings(telegram_webhook_secret="Ok_secret-1").telegram_webhook_secret is not None
