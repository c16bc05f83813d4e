"""Transfers too slow, through the real python-telegram-bot against the fakes: each side is cut
once it moves under MIN_TRANSFER_KBPS over a window (0.3 s here, 256 KB/s: loopback moves far
more, the slow fakes far less), the job tries again, and the user hears which side was slow. A
side waiting on the other is not blamed, and a big upload at a healthy pace is never cut."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.chevereto.probe import probe_png
from bot.ops.transfer import KB
from tests.conftest import KEY
from tests.support.fakes.link_site import LinkSite
from tests.support.fakes.telegram_api import FakeTelegram, FileRef
from tests.support.piping import MB, assert_none_whole, png
from tests.support.running import FAST, QUICK, running
from tests.support.settings import core_settings
from tests.support.telegram_harness import (
    ALICE_ID,
    all_answered,
    telegram_for,
    texts_to,
    user_ref,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow  # each test waits out a transfer's window on purpose

WINDOWED = replace(QUICK, transfer_window_s=0.3)
"""A window of 0.3 s; the host's own timeouts stay long (30 s), so only the floor cuts."""
ANSWERED = replace(FAST, transfer_window_s=0.3, host_timeout=0.4)
"""The same window, and the host's answer due within 0.4 s (+ 0.5 s per MB) of the body's end."""
SLOW_FAKE = 16 * KB
"""Bytes a second of a slow fake: a sixteenth of the floor."""
LINK_SLOW = "The server of that link sent the file too slowly, so I stopped."
LINK_SLOW_NOTE = "The server of that link is sending too slowly; trying again"
HOST_SLOW = "The host was too slow taking the file or answering, so I stopped."
HOST_SLOW_NOTE = "The host is too slow taking the file or answering; trying again"
CHAT_SLOW = "The chat sent that file too slowly, so I stopped downloading it."
CHAT_SLOW_NOTE = "The chat is sending the file too slowly; trying again"


@pytest.fixture
def settings(chevereto, tmp_path, database):
    """A floor of 256 KB a second; links to loopback allowed, the linked files are served here."""
    floor = {"min_transfer_kbps": 256, "fetch_private_addresses": True}
    return core_settings(chevereto, tmp_path / "data", database, **floor)


@pytest.fixture
async def site():
    async with LinkSite().running() as site:
        yield site


async def send(core: Any, telegram: FakeTelegram, **kwargs: Any) -> None:
    """Alice, who linked a key, sends a private message made of ``kwargs``."""
    await core.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    telegram.push_update(telegram.message_update(telegram.private_chat(alice), alice, **kwargs))


async def told(core: Any, telegram: FakeTelegram, sentence: str, within: float = 30) -> list[str]:
    """Alice's texts, once ``sentence`` came and the job is over."""
    await telegram.wait_for(lambda m: sentence in (m["text"] or ""), timeout=within)
    await eventually(lambda: all_answered(core))
    return texts_to(telegram, ALICE_ID)


async def test_a_link_server_trickling_is_cut_and_the_user_told(
    settings, telegram, chevereto, site
):
    """A link whose server sends a PNG's first bytes, then a byte every 50 ms: each attempt is
    cut and its connection closed (the server sees it go), the user hears the bot tries again
    because the link's server is slow, then that it was too slow; the host stores nothing."""
    url = site.trickling("/slow.png", probe_png())
    async with running(settings, telegram_for(telegram), tuning=WINDOWED) as core:
        await send(core, telegram, text=url)
        texts = await told(core, telegram, LINK_SLOW)
    assert any(LINK_SLOW_NOTE in text for text in texts)
    await eventually(lambda: site.left == ["/slow.png"] * 3)
    assert chevereto.images == {}


async def test_a_host_reading_too_slowly_is_cut_and_the_user_told(settings, telegram, chevereto):
    """A host reading 16 KB a second: each attempt is cut, the user hears the host is slow,
    then that it was too slow. The download, waiting on the slow upload meanwhile, is not
    blamed: it went on to disk, once, and the next attempts sent that file."""
    chevereto.bandwidth = SLOW_FAKE
    async with running(settings, telegram_for(telegram), tuning=WINDOWED) as core:
        ref = telegram.add_file(png(16 * MB), mime_type="image/png")
        await send(core, telegram, photo=ref)
        texts = await told(core, telegram, HOST_SLOW)
    assert any(HOST_SLOW_NOTE in text for text in texts)
    assert telegram.download_count(ref.file_id) == 1
    assert len(chevereto.upload_requests) == 3
    assert chevereto.images == {}


async def test_a_host_trickling_its_answer_is_cut_at_the_answers_deadline(
    settings, telegram, chevereto
):
    """The body read whole each time, then an answer of a byte every 50 ms: each attempt's
    answer is cut at its one deadline (0.4 s here), its connection closed before the answer's
    end, and the user hears the host was too slow."""
    chevereto.trickle_answer_next(times=3)
    async with running(settings, telegram_for(telegram), tuning=ANSWERED) as core:
        await send(core, telegram, photo=telegram.add_file(png(64 * KB), mime_type="image/png"))
        texts = await told(core, telegram, HOST_SLOW)
    assert any(HOST_SLOW_NOTE in text for text in texts)
    requests = chevereto.upload_requests
    assert len(requests) == 3
    assert all(request.received is not None for request in requests)
    await eventually(lambda: all(request.answer_cut for request in requests))


async def test_a_duplicate_after_a_lost_answer_says_the_earlier_try_reached_the_host(
    settings, telegram, chevereto
):
    """The host keeps the file but its answer trickles and is cut; the next attempt meets
    "Duplicated upload": the user hears that an earlier try reached the host and its links are
    not known, never a bare "already on the host"."""
    chevereto.store_then_trickle_next()
    async with running(settings, telegram_for(telegram), tuning=ANSWERED) as core:
        await send(core, telegram, photo=telegram.add_file(png(64 * KB), mime_type="image/png"))
        texts = await told(core, telegram, "already on the host")
    final = texts[-1]
    assert "already on the host" in final
    assert "An earlier try sent it whole, but the host's answer was lost" in final
    assert any(HOST_SLOW_NOTE in text for text in texts)
    assert len(chevereto.images) == 1
    assert len(chevereto.upload_requests) == 2


async def test_a_slow_chat_download_is_cut_and_the_user_told(settings, telegram, chevereto):
    """Telegram's file server sending 16 KB a second: each attempt's download is cut (the
    upload it fed aborted, the host stores nothing), and the user hears the chat is slow, then
    that it was too slow; the host, waiting on the download, is not blamed."""
    telegram.bandwidth = SLOW_FAKE
    async with running(settings, telegram_for(telegram), tuning=WINDOWED) as core:
        ref = telegram.add_file(png(MB), mime_type="image/png")
        await send(core, telegram, photo=ref)
        texts = await told(core, telegram, CHAT_SLOW)
    assert any(CHAT_SLOW_NOTE in text for text in texts)
    assert not any("host" in text.lower() for text in texts)
    assert telegram.download_count(ref.file_id) == 3
    await eventually(lambda: len(chevereto.upload_requests) == 3)
    await eventually(lambda: assert_none_whole(chevereto.upload_requests) is None)


def write_png(path: Path, size: int) -> str:
    """Writes ``size`` bytes the fake host takes for a PNG, a MB at a time; their md5."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("wb") as out:
        head = b"\x89PNG\r\n\x1a\n" + os.urandom(MB - 8)
        for chunk in [head, *(os.urandom(MB) for _ in range(size // MB - 1))]:
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.parametrize(
    "size_mb",
    [pytest.param(5, id="5MB"), pytest.param(200, id="200MB")],
)
async def test_a_big_upload_at_a_healthy_pace_is_never_cut(
    telegram, chevereto, tmp_path, database, size_mb
):
    """A local-mode file read from disk, taken by the host at 5 MB a second (1 s, or 40 s for
    200 MB), against a floor of 1 MB a second over 1 s: uploaded whole in one attempt, never
    cut; the download, mostly waiting on the upload, is not blamed either."""
    settings = core_settings(
        chevereto,
        tmp_path / "data",
        database,
        max_upload_mb=size_mb + 1,
        min_transfer_kbps=1024,
    )
    chevereto.max_size_mb = size_mb + 1
    chevereto.bandwidth = 5 * MB
    telegram.local_mode = telegram.local_file_paths = True
    path = tmp_path / "big.png"
    digest = write_png(path, size_mb * MB)
    tuning = replace(QUICK, transfer_window_s=1.0)
    platform = telegram_for(telegram, local_mode=True)
    async with running(settings, platform, tuning=tuning) as core:
        ref: FileRef = telegram.add_file_path(path, file_name="big.png", mime_type="image/png")
        await send(core, telegram, document=ref)
        await told(core, telegram, "/delete/", within=30 + size_mb / 2)
    (request,) = chevereto.upload_requests
    assert request.file_md5 == digest
