"""``python -m bot`` with the test platform as a plug-in: found through the registry like
Telegram and Discord, and holding the promise that nothing accepted is lost."""

from __future__ import annotations

import pytest

from bot.chevereto.probe import probe_png
from bot.crypto import Vault
from bot.store import Store
from tests.conftest import KEY, SECRET
from tests.support.fakes.chat_api import FakeChat
from tests.support.plugin import plugin_pythonpath
from tests.support.process import BotProcess, run_bot
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
async def chat():
    async with FakeChat() as fake:
        yield fake
        assert fake.leaks() == []


@pytest.fixture
def env(tmp_path, chat, chevereto):
    """The environment of a bot that only the plug-in's variable enables."""
    return {
        "PYTHONPATH": plugin_pythonpath(tmp_path / "plugins"),
        "TESTCHAT_URL": chat.url,
        "CHEVERETO_URL": chevereto.url,
        "DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": SECRET,
    }


async def test_sigkilled_job_is_answered_once_after_restart(env, tmp_path, chat, chevereto):
    """A photo stored as a job, its upload hanging, the process SIGKILLed: the next process on
    the same DATA_DIR uploads it once and answers it once."""
    alice = chat.user("1001")
    here = chat.private(alice)
    async with BotProcess(env, tmp_path) as first:
        await eventually(lambda: chat.polls > 0, within=30)
        chat.post(alice, here, f"/link {KEY}")
        await chat.wait_for(lambda m: "is linked" in m.text, within=20)
        chevereto.hang_next(120)
        chat.post(alice, here, files=[("photo.png", "image/png", probe_png())])
        await eventually(lambda: len(chevereto.upload_requests) == 2 and not chat.unacknowledged)
        assert first.process is not None
        first.process.kill()
        await first.process.wait()
    assert not any("/image/" in m.text for m in chat.sent)
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'bot.sqlite3'}", Vault(SECRET))

    async def answered() -> bool:
        return await store.jobs.waiting_of("testchat", alice.id) == 0

    try:
        async with BotProcess(env, tmp_path) as second:
            await eventually(answered, within=30)
            assert await second.stop() == 0
    finally:
        await store.close()
    assert "started: testchat" in second.stderr
    assert "resuming 1 job(s)" in second.stderr
    (reply,) = [m for m in chat.sent if "/image/" in m.text]  # answered once: one message
    assert reply.text.count("/delete/") == 1
    assert reply.text.count("/image/") == 2  # the viewer link, and the delete link
    assert len(chevereto.images) == 1
    (upload,) = [r for r in chevereto.upload_requests if r.file_name == "photo.png"]
    assert upload.headers["x-api-key"] == KEY


@pytest.mark.parametrize(
    ("url", "line"),
    [
        (None, "set DISCORD_BOT_TOKEN and/or TELEGRAM_BOT_TOKEN and/or TESTCHAT_URL"),
        ("ftp://chat", "TESTCHAT_URL must be an http:// or https:// URL"),
    ],
)
async def test_settings_of_the_plugin_are_checked_at_start(env, tmp_path, url, line):
    """No TESTCHAT_URL names it beside the real platforms' tokens; a bad one stops the start."""
    del env["TESTCHAT_URL"]
    code, stderr = await run_bot({**env, **({"TESTCHAT_URL": url} if url else {})}, tmp_path)
    assert code == 2
    assert line in stderr
