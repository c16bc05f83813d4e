"""The test-only platform, like every platform, reaches the core only through the documented
inbound surface: what ``connect`` hands it is a ``PlatformCore``, and no platform package
imports the core's wiring."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.app import Core
from bot.platform.surface import PlatformCore
from tests.support.chat_platform.settings import ChatSettings
from tests.support.fakes.chat_api import FakeChat
from tests.support.plugin import ROOT
from tests.support.settings import core_settings

PLATFORMS = [ROOT / "adapters" / "telegram", ROOT / "adapters" / "discord"]
PLATFORMS.append(ROOT / "tests" / "support" / "chat_platform")


def imported(package: Path) -> set[str]:
    """Every module a package's files import."""
    names: set[str] = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
    return names


def test_no_platform_imports_the_core_itself():
    """``bot.app`` (the whole core) is nowhere in a platform's imports."""
    for package in PLATFORMS:
        assert "bot.app" not in imported(package), package


@pytest.fixture
async def chat():
    async with FakeChat() as fake:
        yield fake


async def test_the_test_platform_is_connected_to_the_surface_alone(chevereto, chat, tmp_path):
    """What the core hands ``connect`` is the surface: a frozen value of its documented fields,
    with nothing else of the core to reach."""
    settings = core_settings(chevereto, tmp_path / "data")
    handed: list[object] = []

    class Watching(ChatSettings):
        def connect(self, core):  # type: ignore[override]
            handed.append(core)
            return super().connect(core)

    core = await Core.start(settings)
    try:
        core.connect(Watching(_env_file=None, url=chat.url))  # type: ignore[call-arg]
    finally:
        await core.close()
    (surface,) = handed
    assert type(surface) is PlatformCore
    assert not hasattr(surface, "store")
    assert not hasattr(surface, "runner")
