"""The streamed pipe through the real python-telegram-bot: a file is downloaded from the Bot
API's file server and uploaded to the host at once, whole or not at all."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import KEY
from tests.support.fakes.telegram_api import FakeTelegram, FileRef
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
from tests.support.telegram_harness import (
    ALICE_ID,
    all_answered,
    telegram_for,
    texts_to,
    user_ref,
)
from tests.support.waiting import eventually

SOURCE_NOTE = "I could not download the file from the chat; trying again"


async def post(core: Any, telegram: FakeTelegram, data: bytes, **kwargs: Any) -> FileRef:
    """Alice, who linked a key, sends ``data`` as a photo in private; the file she sent."""
    await core.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    ref = telegram.add_file(data, mime_type="image/png")
    telegram.push_update(
        telegram.message_update(telegram.private_chat(alice), alice, photo=ref, **kwargs)
    )
    return ref


async def answered(telegram: FakeTelegram) -> list[str]:
    """Alice's texts, once the delete link came."""
    await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))
    return texts_to(telegram, ALICE_ID)


async def test_the_host_stores_the_very_bytes_telegram_served(bot, telegram, chevereto, settings):
    """A 3 MB photo that spans many chunks: the host holds the same bytes (md5), downloaded once,
    and the bot keeps no file once it answered."""
    data = png(3 * MB + 12345)
    ref = await post(bot, telegram, data)
    texts = await answered(telegram)
    image = the_image(chevereto, data)
    assert_told_links(chevereto, image, texts)
    assert telegram.download_count(ref.file_id) == 1
    await eventually(lambda: kept_files(settings.data_dir) == [])


async def test_in_local_mode_the_host_stores_the_very_bytes_on_disk(telegram, chevereto, settings):
    """A local Bot API server hands a path on this machine: the file goes from there through
    the same pipe, whole (md5), with no download at all."""
    telegram.local_mode = telegram.local_file_paths = True
    data = png(3 * MB + 12345)
    async with running(settings, telegram_for(telegram, local_mode=True), tuning=QUICK) as bot:
        await post(bot, telegram, data)
        texts = await answered(telegram)
    image = the_image(chevereto, data)
    assert_told_links(chevereto, image, texts)
    assert telegram.transfers == []
    await eventually(lambda: kept_files(settings.data_dir) == [])


async def test_the_upload_starts_before_the_download_ends(bot, telegram, chevereto):
    """Both links at 4 MB/s, a 2 MB photo (about 0.5 s each way): the host had the request
    before the file server sent the file's last byte."""
    telegram.bandwidth = chevereto.bandwidth = BANDWIDTH
    data = png(BIG)
    await post(bot, telegram, data)
    await answered(telegram)
    (download,) = telegram.transfers
    (upload,) = chevereto.upload_requests
    assert_overlapped(download, upload, data)


async def test_a_download_cut_midway_stores_nothing_and_the_next_attempt_uploads_it(
    bot, telegram, chevereto, settings
):
    """The file server closes halfway: the host gets an incomplete body and stores nothing, the
    user hears the bot tries again, and the job's next attempt downloads and uploads it whole."""
    telegram.bandwidth = SLOW
    telegram.cut_next_download()
    data = png(SMALL)
    ref = await post(bot, telegram, data)
    texts = await answered(telegram)
    image = the_image(chevereto, data)
    assert_told_links(chevereto, image, texts)
    assert any(SOURCE_NOTE in text for text in texts)
    assert [t.cut for t in telegram.transfers] == [True, False]
    assert telegram.download_count(ref.file_id) == 2
    cut, whole = chevereto.upload_requests
    assert_none_whole([cut])
    assert whole.file_md5 == md5(data)
    await eventually(lambda: kept_files(settings.data_dir) == [])


@pytest.mark.parametrize("declared", [SMALL - 1000, SMALL + 1000], ids=["longer", "shorter"])
async def test_a_file_not_the_size_telegram_declared_is_refused(
    bot, telegram, chevereto, settings, declared
):
    """The file is longer or shorter than the update's file_size: the user hears it did not
    arrive whole, no image is stored, and it is not downloaded again."""
    data = png(SMALL)
    ref = await post(bot, telegram, data, declared_size=declared)
    await telegram.wait_for(lambda m: SIZE_MISMATCH in (m["text"] or ""))
    await eventually(lambda: all_answered(bot))
    assert chevereto.images == {}
    assert_none_whole(chevereto.upload_requests)
    assert telegram.download_count(ref.file_id) == 1
    assert all("/image/" not in text for text in texts_to(telegram, ALICE_ID))
    await eventually(lambda: kept_files(settings.data_dir) == [])


async def test_after_a_host_503_the_next_attempt_sends_the_kept_file(
    bot, telegram, chevereto, settings
):
    """The host answers 503 to the first upload: the next attempt sends the file kept on disk,
    and the file server served it once."""
    chevereto.fail_next(503)
    data = png(SMALL)
    ref = await post(bot, telegram, data)
    texts = await answered(telegram)
    image = the_image(chevereto, data)
    assert_told_links(chevereto, image, texts)
    assert telegram.download_count(ref.file_id) == 1
    failed, sent = chevereto.upload_requests
    assert (failed.file_md5, sent.file_md5) == (None, md5(data))
    await eventually(lambda: kept_files(settings.data_dir) == [])
