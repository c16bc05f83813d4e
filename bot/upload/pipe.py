"""The pipe between a platform's download and the host's upload: both at once, through disk.

The upload starts as soon as the download does. Each chunk the platform hands over is
written to the spool file and queued for the request body; the queue is bounded, so
memory stays flat whatever the file's size. The request's Content-Length is the size
the platform declared, so a file that turns out longer or shorter is refused and the
upload aborted (the host gets an incomplete body and stores nothing), never sent with a
wrong length. When the upload fails (the host down) the download goes on to the end:
the next attempt sends the spool file and downloads nothing again. When the download
fails, the upload is aborted and the spool dropped.

The download is watched by its own pace (``bot.ops.transfer``), which stops while the queue is full:
waiting for the upload is not the download's time. The upload's body waits for the download
in the same way, which the host's pace leaves out (``Pace.sending``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Final

from bot.errors import MediaTooLarge, SizeMismatch
from bot.ops.transfer import Pace
from bot.upload.spool_writer import SpoolWriter

QUEUED_CHUNKS: Final = 8
"""Chunks held between the download and the upload: a bounded buffer, so memory stays flat."""
_END: Final = b""


class Pipe:
    """One file's download, written to ``spool`` and fed to the upload as it arrives, at
    ``pace`` (its source's: the chat platform's, or a link's server's)."""

    def __init__(
        self,
        chunks: Callable[[], AsyncIterator[bytes]],
        spool: Path,
        *,
        declared: int,
        limit_mb: int,
        pace: Pace,
    ) -> None:
        self._chunks = chunks
        self._pace = pace
        self._spool = spool
        self._partial = spool.with_name(spool.name + ".part")
        self._declared = declared
        self._limit_mb = limit_mb
        self._queue: asyncio.Queue[bytes | BaseException] = asyncio.Queue(QUEUED_CHUNKS)
        self._feeding = True
        self._flowing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def declared(self) -> int:
        """The size the platform declared: the request's Content-Length."""
        return self._declared

    async def start(self) -> None:
        """Starts the download and returns once its first bytes came; a download that fails
        before any byte (the file gone, the platform down) raises here, and the host is never
        asked for anything."""
        self._task = asyncio.create_task(self._download(), name="download")
        flowing = asyncio.create_task(self._flowing.wait())
        await asyncio.wait({self._task, flowing}, return_when=asyncio.FIRST_COMPLETED)
        flowing.cancel()
        if not self._flowing.is_set():
            await self._task

    async def finished(self) -> None:
        """Waits for the download; raises what broke it. The spool is then whole."""
        assert self._task is not None
        self._feeding = False  # nobody reads the queue any more: the download goes to disk
        self._drain()
        await asyncio.shield(self._task)

    async def close(self) -> None:
        """Stops a download still running (the upload broke, the job was cancelled); drops a
        partial spool."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):  # its error is the upload's already
                await self._task
        self._drop_partial()

    async def body(self) -> AsyncIterator[bytes]:
        """The file's bytes for the request body, as they arrive; raises what broke the
        download, which aborts the request."""
        while True:
            item = await self._queue.get()
            if isinstance(item, BaseException):
                raise item
            if item is _END:
                return
            yield item

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def _feed(self, item: bytes | BaseException) -> None:
        self._flowing.set()
        if self._feeding:
            with self._pace.waiting():  # for the upload, when the queue is full
                await self._queue.put(item)

    async def _download(self) -> None:
        try:
            await self._write_all()
        except asyncio.CancelledError:
            self._drop_partial()
            raise
        except Exception as error:
            self._drop_partial()
            if self._flowing.is_set():  # else ``start`` raises it, before the upload
                await self._feed(error)
            raise
        os.replace(self._partial, self._spool)
        await self._feed(_END)

    def _drop_partial(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._partial.unlink()

    async def _write_all(self) -> None:
        """Feeds each chunk to the upload as it comes and hands it to the spool's writer, whose
        thread writes it to disk on the other core meanwhile."""
        limit = self._limit_mb * 1024 * 1024
        received = 0
        writer = SpoolWriter(self._partial, self._declared)
        try:
            async with self._pace.watch():
                async for chunk in self._chunks():
                    self._pace.moved(len(chunk))
                    received += len(chunk)
                    if received > limit:
                        raise MediaTooLarge(self._limit_mb)
                    if received > self._declared:
                        raise SizeMismatch()
                    await writer.write(chunk)
                    await self._feed(chunk)
        finally:
            await writer.close()
        if received != self._declared:
            raise SizeMismatch()
