"""Each side of an upload cut when it is too slow, over real HTTP against the fakes: the host
taking the body, and the host's answer. Windows are a fraction of a second."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.chevereto import CheveretoClient, FileSource
from bot.errors import HostNotAnswering, HostTooSlow
from bot.transfer import KB, Floor
from tests.conftest import KEY
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.waiting import eventually

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
