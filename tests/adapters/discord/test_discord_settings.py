"""DISCORD_* are validated at start, naming the variable; the token stays secret."""

from __future__ import annotations

import string
import subprocess
import sys

import pytest
from pydantic import ValidationError

from adapters.discord.settings import DiscordSettings
from adapters.discord.texts import EN, ZH
from bot.settings import describe_error


def discord(**values: object) -> DiscordSettings:
    return DiscordSettings(_env_file=None, **values)  # type: ignore[arg-type]


def bad(**values: object) -> str:
    with pytest.raises(ValidationError) as caught:
        discord(**values)
    return describe_error(caught.value, "DISCORD_")


def test_defaults_follow_the_spec() -> None:
    """Unset, Discord is off, talks to discord.com and runs every shard Discord recommends."""
    s = discord()
    assert (s.enabled(), s.secrets()) == (False, [])
    assert s.api_url == "https://discord.com/api/v10"
    assert (s.shard_ids, s.shard_count) == (None, None)


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"api_url": "ftp://x"}, "DISCORD_API_URL"),
        ({"shard_ids": "0,x"}, "DISCORD_SHARD_IDS"),
        ({"shard_ids": "-1"}, "DISCORD_SHARD_IDS"),
        ({"shard_count": 0}, "DISCORD_SHARD_COUNT"),
    ],
)
def test_a_bad_value_names_its_variable(values: dict[str, object], name: str) -> None:
    """A bad value fails when the settings are built, and the message names the variable."""
    assert name in bad(**values)


def test_variables_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """DISCORD_BOT_TOKEN enables Discord; DISCORD_SHARD_IDS=0, 1 is read as shard numbers."""
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "token-from-env")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "0, 1")
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "4")
    s = discord()
    assert (s.enabled(), s.shard_ids, s.shard_count) == (True, (0, 1), 4)


def test_a_blank_token_leaves_discord_off() -> None:
    """DISCORD_BOT_TOKEN made of spaces is not set."""
    assert not discord(bot_token="   ").enabled()


def test_the_token_is_secret() -> None:
    """The token never shows in the settings' repr; ``secrets()`` lists it for the log filter."""
    s = discord(bot_token="discord-secret-token")
    assert "discord-secret-token" not in repr(s)
    assert s.secrets() == ["discord-secret-token"]


@pytest.mark.slow
def test_the_settings_do_not_load_discord_py() -> None:
    """Reading DISCORD_* imports no SDK: an unconfigured Discord costs nothing at start."""
    code = "import sys, adapters.discord.settings; assert 'discord' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603 - our own interpreter


def test_both_languages_have_the_same_sentences() -> None:
    """Every Discord sentence exists in English and Chinese, with the same placeholders."""
    assert set(EN) == set(ZH)
    for key, text in EN.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        assert fields == {f for _, f, _, _ in string.Formatter().parse(ZH[key]) if f}, key
