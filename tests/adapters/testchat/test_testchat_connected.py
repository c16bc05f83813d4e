"""The test platform's ``connected()``: true while its polls succeed, false once they fail."""

from __future__ import annotations

from tests.support.chat_platform.settings import ChatSettings
from tests.support.fakes.chat_api import FakeChat
from tests.support.running import FAST, running
from tests.support.settings import core_settings
from tests.support.waiting import eventually


async def test_connected_follows_the_polls(chevereto, tmp_path) -> None:
    """Connected after the first poll; not once the service has gone away."""
    async with FakeChat() as chat:
        platform = ChatSettings(_env_file=None, url=chat.url)  # type: ignore[call-arg]
        settings = core_settings(chevereto, tmp_path / "data")
        async with running(settings, platform, tuning=FAST) as core:
            adapter = core.platforms["testchat"]
            # Within 10 s, though a long poll with nothing to hand out lasts 20: the first one
            # did not wait.
            await eventually(adapter.connected, within=10)
            await chat.stop()
            await eventually(lambda: not adapter.connected())
