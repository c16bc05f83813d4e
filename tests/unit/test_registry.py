"""The registry finds the installed platforms through their entry points, without their SDKs."""

import subprocess
import sys

import pytest

from bot.platform import PlatformSettings
from bot.platform.registry import installed


def test_the_installed_platforms_are_found_in_name_order():
    """Telegram and Discord are installed; each entry is a PlatformSettings class."""
    found = installed()
    assert [kind.name for kind in found] == ["discord", "telegram"]
    assert all(issubclass(kind, PlatformSettings) for kind in found)
    assert [kind.enabling_variable for kind in found] == ["DISCORD_BOT_TOKEN", "TELEGRAM_BOT_TOKEN"]


@pytest.mark.slow
def test_finding_the_platforms_imports_no_sdk():
    """A platform that is not configured costs nothing: its SDK is not even imported."""
    probe = (
        "import sys; from bot.platform.registry import installed; installed(); "
        "print(sorted(m for m in ('telegram', 'discord', 'aiohttp') if m in sys.modules))"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
