"""Files served and read at a set bandwidth, each download recorded: what the fakes share.

A fake's ``bandwidth`` is in bytes per second (None: as fast as the loopback goes). A file
server sends its bytes at that pace (``serve``) and a host reads an upload's body at it
(``Pace``), so a test or a benchmark can give a transfer a known length in time. Each
download records when it started and when its last byte went out (``Transfer``), and one
may be cut in the middle: the server sends part of the body, then closes the connection,
so the client sees fewer bytes than the Content-Length it was promised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

CHUNK = 256 * 1024
PACED_STEPS_PER_S = 50
"""A paced stream moves in about this many steps a second: smooth enough, cheap enough."""


@dataclass
class Transfer:
    """One download a fake served (it got past every check and began sending)."""

    file: str
    """The file's id at the fake (Telegram's file_id, Discord's attachment id, the chat's)."""
    name: str
    size: int
    """The bytes its response declared (Content-Length): the whole file."""
    started: float = field(default_factory=time.monotonic)
    """When its first byte was about to go out (``time.monotonic``)."""
    finished: float | None = None
    """When its last byte was handed to the connection; None while it runs, or when cut."""
    sent: int = 0
    cut: bool = False
    """It was cut in the middle (``cut_next_download``): the connection closed after ``sent``."""


class Transfers:
    """A fake's downloads, and the cuts queued for the next ones."""

    def __init__(self) -> None:
        self.done: list[Transfer] = []
        self._cuts: list[int | None] = []

    def cut_next(self, at: int | None, times: int) -> None:
        self._cuts.extend([at] * times)

    def count(self, file: str) -> int:
        """How many times ``file`` (its id or its name) was downloaded, cut ones included."""
        return sum(file in (t.file, t.name) for t in self.done)

    async def serve(
        self,
        request: web.Request,
        transfer: Transfer,
        source: bytes | Path,
        headers: dict[str, str],
        bandwidth: float | None,
    ) -> web.StreamResponse:
        """Sends ``source`` as the answer at ``bandwidth``, recorded in ``transfer``; cut in
        the middle when a cut is queued."""
        self.done.append(transfer)
        cut = self._cuts.pop(0) if self._cuts else -1
        limit = transfer.size if cut == -1 else transfer.size // 2 if cut is None else cut
        response = web.StreamResponse(headers=headers)
        response.content_length = transfer.size
        await response.prepare(request)
        pace = Pace(bandwidth)
        async for chunk in _chunks(source, min(limit, transfer.size), pace.chunk_size()):
            await pace.until(transfer.sent + len(chunk))
            transfer.sent += len(chunk)
            if transfer.sent == transfer.size:  # noted first: the client may act on it at once
                transfer.finished = time.monotonic()
            await response.write(chunk)
        if cut != -1:
            transfer.cut = True
            assert request.transport is not None
            request.transport.close()  # what was written goes out first, then the FIN
            return response
        await response.write_eof()
        return response


class Pace:
    """Keeps a stream at ``bandwidth`` bytes per second from its start."""

    def __init__(self, bandwidth: float | None) -> None:
        if bandwidth is not None and bandwidth <= 0:
            raise ValueError("bandwidth is a number of bytes per second, above 0")
        self._bandwidth = bandwidth
        self._start = time.monotonic()

    def chunk_size(self, most: int = CHUNK) -> int:
        """How many bytes to move at once: ``most``, or smaller when paced."""
        if self._bandwidth is None:
            return most
        return max(1024, min(most, int(self._bandwidth / PACED_STEPS_PER_S)))

    async def until(self, total: int) -> None:
        """Waits until ``total`` bytes are due since the start: a sender calls it before
        sending up to ``total``, a reader after reading that far."""
        if self._bandwidth is None:
            return
        delay = self._start + total / self._bandwidth - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def _chunks(source: bytes | Path, limit: int, size: int) -> AsyncIterator[bytes]:
    """The first ``limit`` bytes of ``source`` in chunks of ``size``; a file is read a chunk
    at a time, so a huge one never sits in memory."""
    if isinstance(source, bytes):
        for start in range(0, limit, size):
            yield source[start : min(start + size, limit)]
        return
    with source.open("rb") as handle:
        left = limit
        while left > 0 and (chunk := handle.read(min(size, left))):
            left -= len(chunk)
            yield chunk
