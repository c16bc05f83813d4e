"""Settings are validated at start, naming the variable; secrets stay secret."""

from datetime import timedelta

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
    assert s.upload_concurrency == 4
    assert s.max_host_answer_kb == 1024
    assert s.host_outage_patience == timedelta(hours=1)
    assert (s.min_transfer_kbps, s.link_deadline) == (16, 60)
    assert (s.log_level, s.log_format) == ("INFO", "text")


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"chevereto_url": "not a url"}, "CHEVERETO_URL"),
        ({"max_upload_mb": -1}, "MAX_UPLOAD_MB"),
        ({"upload_concurrency": 0}, "UPLOAD_CONCURRENCY"),
        ({"max_host_answer_kb": 0}, "MAX_HOST_ANSWER_KB"),
        ({"host_outage_patience": "soon"}, "HOST_OUTAGE_PATIENCE"),
        ({"host_outage_patience": "off"}, "HOST_OUTAGE_PATIENCE"),
        ({"min_transfer_kbps": 0}, "MIN_TRANSFER_KBPS"),
        ({"link_deadline": 0}, "LINK_DEADLINE"),
        ({"log_level": "LOUD"}, "LOG_LEVEL"),
        ({"log_format": "xml"}, "LOG_FORMAT"),
        ({"database_url": "mysql://x"}, "DATABASE_URL"),
    ],
)
def test_a_bad_value_names_its_variable(values, name):
    """A bad value fails when the settings are built, and the message names the variable."""
    assert name in bad(**values)


@pytest.mark.parametrize(
    ("text", "patience"),
    [
        ("PT1H30M", timedelta(minutes=90)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
    ],
)
def test_outage_patience_reads_as_expire_does(monkeypatch, text, patience):
    """HOST_OUTAGE_PATIENCE takes an ISO-8601 duration or a short form, from the environment."""
    monkeypatch.setenv("HOST_OUTAGE_PATIENCE", text)
    assert settings().host_outage_patience == patience


def test_missing_url_is_named():
    """CHEVERETO_URL is required."""
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert "CHEVERETO_URL is required" in describe_error(caught.value)


def test_errors_never_echo_values():
    """A bad DATABASE_URL holding a password is named, never shown."""
    message = bad(database_url="mysql://user:hunter2@db/x")
    assert "hunter2" not in message


def test_tokens_are_secret():
    """Keys never show in the settings' repr; ``secrets()`` lists them for the log filter."""
    s = settings(secret_key="the-secret-key", default_api_key="chv_secret")
    assert "the-secret-key" not in repr(s)
    assert "chv_secret" not in repr(s)
    assert set(s.secrets()) == {"the-secret-key", "chv_secret"}
