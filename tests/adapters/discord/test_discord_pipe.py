"""The streamed pipe through the real discord.py: an attachment is downloaded from the CDN and
uploaded to the host at once, whole or not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import KEY
from tests.support.discord_harness import (
    ALICE_ID,
    JSON,
    Harness,
    discord_for,
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
    running,
    settings_for,
)
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord
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
from tests.support.running import QUICK
from tests.support.waiting import eventually

SOURCE_NOTE = "I could not download the file from the chat; trying again"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(name="bot")
async def bot_fixture(
    fake: FakeDiscord, chevereto: FakeChevereto, data_dir: Path, database: str
) -> AsyncIterator[Harness]:
    settings = settings_for(chevereto, data_dir, database=database)
    async with running(settings, discord_for(fake), tuning=QUICK) as (core, adapter):
        yield Harness(fake, chevereto, core, adapter)


async def post(bot: Harness, data: bytes, declared_size: int | None = None) -> JSON:
    """Alice, who linked a key, sends ``data`` to the bot by DM; the attachment she sent."""
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
    attachment = bot.fake.add_attachment(
        data, filename="photo.png", content_type="image/png", declared_size=declared_size
    )
    await bot.post(bot.fake.snowflake(), attachment, user_id=ALICE_ID)
    return attachment


def said(bot: Harness) -> list[str]:
    """Everything the bot sent or edited, as text."""
    return [str(r.json) for r in bot.fake.requests if r.method in ("POST", "PATCH")]


async def answered(bot: Harness) -> list[str]:
    """What the bot said, once the delete link came."""
    await bot.answered(lambda r: "/delete/" in str(r.json))
    return said(bot)


async def test_the_host_stores_the_very_bytes_the_cdn_served(bot: Harness, data_dir: Path) -> None:
    """A 3 MB image that spans many chunks: the host holds the same bytes (md5), downloaded
    once, and the bot keeps no file once it answered."""
    data = png(3 * MB + 12345)
    attachment = await post(bot, data)
    texts = await answered(bot)
    image = the_image(bot.chevereto, data)
    assert_told_links(bot.chevereto, image, texts)
    assert bot.fake.download_count(attachment["id"]) == 1
    await eventually(lambda: kept_files(data_dir) == [])


async def test_the_upload_starts_before_the_download_ends(bot: Harness) -> None:
    """Both links at 4 MB/s, a 2 MB image (about 0.5 s each way): the host had the request
    before the CDN sent the file's last byte."""
    bot.fake.bandwidth = bot.chevereto.bandwidth = BANDWIDTH
    data = png(BIG)
    await post(bot, data)
    await answered(bot)
    (download,) = bot.fake.transfers
    (upload,) = bot.chevereto.upload_requests
    assert_overlapped(download, upload, data)


async def test_a_download_cut_midway_stores_nothing_and_the_next_attempt_uploads_it(
    bot: Harness, data_dir: Path
) -> None:
    """The CDN closes halfway: the host gets an incomplete body and stores nothing, the user
    hears the bot tries again, and the job's next attempt downloads and uploads it whole."""
    bot.fake.bandwidth = SLOW
    bot.fake.cut_next_download()
    data = png(SMALL)
    attachment = await post(bot, data)
    texts = await answered(bot)
    image = the_image(bot.chevereto, data)
    assert_told_links(bot.chevereto, image, texts)
    assert any(SOURCE_NOTE in text for text in texts)
    assert [t.cut for t in bot.fake.transfers] == [True, False]
    assert bot.fake.download_count(attachment["id"]) == 2
    cut, whole = bot.chevereto.upload_requests
    assert_none_whole([cut])
    assert whole.file_md5 == md5(data)
    await eventually(lambda: kept_files(data_dir) == [])


@pytest.mark.parametrize("declared", [SMALL - 1000, SMALL + 1000], ids=["longer", "shorter"])
async def test_a_file_not_the_size_discord_declared_is_refused(
    bot: Harness, data_dir: Path, declared: int
) -> None:
    """The file is longer or shorter than the attachment's size: the user hears it did not
    arrive whole, no image is stored, and it is not downloaded again."""
    data = png(SMALL)
    attachment = await post(bot, data, declared_size=declared)
    await bot.answered(lambda r: SIZE_MISMATCH in str(r.json))
    await eventually(lambda: _all_answered(bot))
    assert bot.chevereto.images == {}
    assert_none_whole(bot.chevereto.upload_requests)
    assert bot.fake.download_count(attachment["id"]) == 1
    assert all("/image/" not in text for text in said(bot))
    await eventually(lambda: kept_files(data_dir) == [])


async def test_after_a_host_503_the_next_attempt_sends_the_kept_file(
    bot: Harness, data_dir: Path
) -> None:
    """The host answers 503 to the first upload: the next attempt sends the file kept on disk,
    and the CDN served it once."""
    bot.chevereto.fail_next(503)
    data = png(SMALL)
    attachment = await post(bot, data)
    texts = await answered(bot)
    image = the_image(bot.chevereto, data)
    assert_told_links(bot.chevereto, image, texts)
    assert bot.fake.download_count(attachment["id"]) == 1
    failed, sent = bot.chevereto.upload_requests
    assert (failed.file_md5, sent.file_md5) == (None, md5(data))
    await eventually(lambda: kept_files(data_dir) == [])


async def _all_answered(bot: Harness) -> bool:
    return await unfinished_jobs(bot.core.store) == 0
