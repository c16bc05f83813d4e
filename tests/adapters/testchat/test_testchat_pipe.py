"""The streamed pipe through the test platform, built on ``bot.platform`` alone: a file is
downloaded from the chat service and uploaded to the host at once, whole or not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Core
from bot.domain import UserRef
from tests.conftest import KEY
from tests.support.chat_platform.settings import ChatSettings
from tests.support.fakes.chat_api import FakeChat
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.jobs import unfinished_jobs
from tests.support.piping import (
    BANDWIDTH,
    BIG,
    MB,
    SIZE_MISMATCH,
    SLOW,
    SMALL,
    assert_none_whole,
    assert_overlapped,
    assert_told_links,
    kept_files,
    md5,
    png,
    the_image,
)
from tests.support.running import QUICK, running
from tests.support.settings import core_settings
from tests.support.waiting import eventually

ALICE = "1001"
NAME = "photo.png"
SOURCE_NOTE = "I could not download the file from the chat; trying again"


@pytest.fixture
async def chat() -> AsyncIterator[FakeChat]:
    async with FakeChat() as fake:
        yield fake
        assert fake.leaks() == []


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def bot(
    chevereto: FakeChevereto, chat: FakeChat, data_dir: Path, database: str
) -> AsyncIterator[Core]:
    settings = core_settings(chevereto, data_dir, database)
    platform = ChatSettings(_env_file=None, url=chat.url)  # type: ignore[call-arg]
    async with running(settings, platform, tuning=QUICK) as core:
        await eventually(lambda: chat.polls > 0)
        yield core


async def post(core: Core, chat: FakeChat, data: bytes, declared_size: int | None = None) -> None:
    """Alice, who linked a key, posts ``data`` in her private chat with the bot."""
    await core.store.keys.link(UserRef("testchat", ALICE), KEY)
    alice = chat.user(ALICE)
    files = [(NAME, "image/png", data)]
    chat.post(alice, chat.private(alice), files=files, declared_size=declared_size)


async def answered(chat: FakeChat) -> list[str]:
    """Alice's texts (each as it reads now, and as it read before each edit), once the delete
    link came."""
    await chat.wait_for(lambda m: "/delete/" in m.text)
    return [text for m in chat.sent for text in [*m.edits, m.text]]


async def test_the_host_stores_the_very_bytes_the_chat_served(
    bot: Core, chat: FakeChat, chevereto: FakeChevereto, data_dir: Path
) -> None:
    """A 3 MB photo that spans many chunks: the host holds the same bytes (md5), downloaded
    once, and the bot keeps no file once it answered."""
    data = png(3 * MB + 12345)
    await post(bot, chat, data)
    texts = await answered(chat)
    image = the_image(chevereto, data)
    assert_told_links(chevereto, image, texts)
    assert chat.download_count(NAME) == 1
    await eventually(lambda: kept_files(data_dir) == [])


async def test_the_upload_starts_before_the_download_ends(
    bot: Core, chat: FakeChat, chevereto: FakeChevereto
) -> None:
    """Both links at 4 MB/s, a 2 MB photo (about 0.5 s each way): the host had the request
    before the chat service sent the file's last byte."""
    chat.bandwidth = chevereto.bandwidth = BANDWIDTH
    data = png(BIG)
    await post(bot, chat, data)
    await answered(chat)
    (download,) = chat.transfers
    (upload,) = chevereto.upload_requests
    assert_overlapped(download, upload, data)


async def test_a_download_cut_midway_stores_nothing_and_the_next_attempt_uploads_it(
    bot: Core, chat: FakeChat, chevereto: FakeChevereto, data_dir: Path
) -> None:
    """The chat service closes halfway: the host gets an incomplete body and stores nothing, the
    user hears the bot tries again, and the job's next attempt downloads and uploads it whole."""
    chat.bandwidth = SLOW
    chat.cut_next_download()
    data = png(SMALL)
    await post(bot, chat, data)
    texts = await answered(chat)
    image = the_image(chevereto, data)
    assert_told_links(chevereto, image, texts)
    assert any(SOURCE_NOTE in text for text in texts)
    assert [t.cut for t in chat.transfers] == [True, False]
    assert chat.download_count(NAME) == 2
    cut, whole = chevereto.upload_requests
    assert_none_whole([cut])
    assert whole.file_md5 == md5(data)
    await eventually(lambda: kept_files(data_dir) == [])


@pytest.mark.parametrize("declared", [SMALL - 1000, SMALL + 1000], ids=["longer", "shorter"])
async def test_a_file_not_the_size_the_chat_declared_is_refused(
    bot: Core, chat: FakeChat, chevereto: FakeChevereto, data_dir: Path, declared: int
) -> None:
    """The file is longer or shorter than the message declared: the user hears it did not
    arrive whole, no image is stored, and it is not downloaded again."""
    data = png(SMALL)
    await post(bot, chat, data, declared_size=declared)
    await chat.wait_for(lambda m: SIZE_MISMATCH in m.text)
    await eventually(lambda: _all_answered(bot))
    assert chevereto.images == {}
    assert_none_whole(chevereto.upload_requests)
    assert chat.download_count(NAME) == 1
    assert all("/image/" not in m.text for m in chat.sent)
    await eventually(lambda: kept_files(data_dir) == [])


async def test_after_a_host_503_the_next_attempt_sends_the_kept_file(
    bot: Core, chat: FakeChat, chevereto: FakeChevereto, data_dir: Path
) -> None:
    """The host answers 503 to the first upload: the next attempt sends the file kept on disk,
    and the chat service served it once."""
    chevereto.fail_next(503)
    data = png(SMALL)
    await post(bot, chat, data)
    texts = await answered(chat)
    image = the_image(chevereto, data)
    assert_told_links(chevereto, image, texts)
    assert chat.download_count(NAME) == 1
    failed, sent = chevereto.upload_requests
    assert (failed.file_md5, sent.file_md5) == (None, md5(data))
    await eventually(lambda: kept_files(data_dir) == [])


async def _all_answered(core: Core) -> bool:
    return await unfinished_jobs(core.store) == 0
