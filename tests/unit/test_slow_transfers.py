"""Each side of an upload cut when it is too slow, over real HTTP against the fakes: the host
taking the body, the host's answer, a link's server (its rate and its whole deadline), and a
platform's download that said no size. Windows are a fraction of a second."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chevereto import CheveretoClient, FileSource
from bot.chevereto.probe import probe_png
from bot.errors import HostNotAnswering, HostTooSlow, LinkTooSlow, SourceTooSlow
from bot.links.fetcher import LinkFetcher
from bot.ops.transfer import KB, Floor
from bot.payloads import FileRef, IncomingMedia
from bot.upload.spool import download_to
from tests.conftest import ALICE, KEY, PRIVATE, failed_with, upload_service
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.link_site import LinkSite
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow  # each test waits out a transfer's window on purpose

MB = 1024 * 1024
FLOOR = Floor(bytes_per_s=256 * KB, window_s=0.3)
"""A quarter MB a second over 0.3 s: loopback moves far more, a trickle far less."""
BIG = 16 * MB
"""More than twice what the sockets between the bot and the host hold (about 6.5 MB on
loopback): a host reading slowly holds the body back well before its end."""


def png_file(tmp_path: Path, size: int) -> FileSource:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(size - 8))
    return FileSource(path, path.name)


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.fixture
async def site() -> AsyncIterator[LinkSite]:
    async with LinkSite().running() as site:
        yield site


def fetcher(**overrides: object) -> LinkFetcher:
    options: dict[str, object] = {"allow_private": True, "limit_bytes": 50 * MB, "floor": FLOOR}
    return LinkFetcher(**{**options, **overrides})


async def fetch_to_disk(links: LinkFetcher, url: str, spool: Path) -> int:
    """The link's file to disk, read as the upload service reads one."""
    async with links.open(url) as download:
        return await download_to(spool, download.chunks, links.limit_mb, download.pace)


# --- the host ------------------------------------------------------------------------------


async def test_a_host_reading_too_slowly_is_cut_before_the_body_ends(
    chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """A host reading 16 KB a second: cut as too slow while the body is still going out, not
    after it."""
    chevereto.bandwidth = 16 * KB
    async with CheveretoClient(chevereto.url, floor=FLOOR) as client:
        with pytest.raises(HostTooSlow) as cut:
            await client.upload(KEY, png_file(tmp_path, BIG))
    assert not cut.value.after_body
    assert [r.received for r in chevereto.upload_requests] == [None]


async def test_an_answer_trickling_past_its_deadline_is_cut_after_the_body(
    chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """The body read whole, then an answer of a byte every 50 ms: cut at the answer's one
    deadline (0.5 s) as too slow, saying the body had gone out; the host saw the connection
    close before its answer's end."""
    chevereto.trickle_answer_next()
    async with CheveretoClient(chevereto.url, timeout=0.5, floor=FLOOR) as client:
        with pytest.raises(HostTooSlow) as cut:
            await client.upload(KEY, png_file(tmp_path, 100 * KB))
    assert cut.value.after_body
    (request,) = chevereto.upload_requests
    assert request.received is not None
    await eventually(lambda: request.answer_cut)


async def test_a_host_silent_after_the_body_is_not_answering_after_it(
    chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """The body read whole, then no answer at all: not answering (its own sentence), and the
    error says the body had gone out."""
    chevereto.delay = 30.0
    async with CheveretoClient(chevereto.url, timeout=0.3, floor=FLOOR) as client:
        with pytest.raises(HostNotAnswering) as cut:
            await client.upload(KEY, png_file(tmp_path, 100 * KB))
    assert not isinstance(cut.value, HostTooSlow)
    assert cut.value.after_body


# --- a link's server -----------------------------------------------------------------------


async def test_a_link_trickling_its_body_is_cut_and_its_connection_closed(
    site: LinkSite, tmp_path: Path
) -> None:
    """Its first bytes a PNG, then a byte every 50 ms: cut as too slow, nothing kept, and the
    server sees the connection close."""
    url = site.trickling("/slow.png", probe_png())
    spool = tmp_path / "kept"
    with pytest.raises(LinkTooSlow):
        await fetch_to_disk(fetcher(), url, spool)
    assert files_in(tmp_path) == []
    await eventually(lambda: site.left == ["/slow.png"])


async def test_a_link_trickling_its_first_bytes_is_cut(site: LinkSite, tmp_path: Path) -> None:
    """Eight bytes of a PNG signature, then a byte every 50 ms, so that the first bytes to judge
    never all come: cut as too slow before its type is known."""
    url = site.trickling("/slow.png", b"\x89PNG\r\n\x1a\n", declared=False)
    with pytest.raises(LinkTooSlow):
        await fetch_to_disk(fetcher(), url, tmp_path / "kept")
    await eventually(lambda: site.left == ["/slow.png"])


async def test_a_link_over_the_floor_ends_at_its_deadline(site: LinkSite, tmp_path: Path) -> None:
    """Half a MB at 64 KB a second, eight seconds, well over a floor of 8 KB a second: cut at
    its whole deadline (0.5 s, plus 0.5 s for the half MB it declared)."""
    url = site.paced("/slow.png", probe_png() + os.urandom(MB // 2), 64 * KB)
    links = fetcher(floor=Floor(8 * KB, 0.3), deadline_s=0.5)
    with pytest.raises(LinkTooSlow):
        await fetch_to_disk(links, url, tmp_path / "kept")
    await eventually(lambda: site.left == ["/slow.png"])


async def test_a_declared_size_gives_a_link_more_time(site: LinkSite, tmp_path: Path) -> None:
    """Four MB at 8 MB a second, with a deadline of 0.1 s: its server declared them, so the
    fetch has 4.1 s, and comes whole."""
    data = probe_png() + os.urandom(4 * MB)
    url = site.paced("/big.png", data, 8 * MB)
    spool = tmp_path / "kept"
    assert await fetch_to_disk(fetcher(deadline_s=0.1), url, spool) == len(data)
    assert spool.read_bytes() == data


# --- a platform's download -----------------------------------------------------------------


async def test_a_platform_download_without_a_size_is_cut_when_too_slow(
    client: CheveretoClient, store, temp_dir: Path, chevereto: FakeChevereto
) -> None:
    """A platform that said no size and stalls after its first chunk: cut as the chat platform
    being too slow; the host is never asked."""

    async def stalling() -> AsyncIterator[bytes]:
        yield probe_png()
        await asyncio.sleep(3600)
        yield b""

    service = upload_service(client, store, temp_dir, floor=FLOOR)
    await store.keys.link(ALICE, KEY)
    file = FileRef("photo.png", "image/png", None, "photo.png")
    failed_with(await service.upload(IncomingMedia(ALICE, PRIVATE, file, stalling)), SourceTooSlow)
    assert chevereto.upload_requests == []
