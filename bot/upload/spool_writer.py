"""The spool files' writes in one thread beside the event loop.

Every spool file's chunks go to one long-lived thread, in order per file, so the kernel's
copy into the page cache runs on the other core while the loop goes on feeding the upload.
A chunk is handed over as it came (no copy); at most ``QUEUED_CHUNKS`` of one file wait for
the disk, so memory stays flat when the disk is the slow side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

QUEUED_CHUNKS: Final = 8
"""Chunks of one file that may wait for the disk."""
INLINE_BYTES: Final = 256 * 1024
"""A file no larger is written on the loop itself: a few page-cache copies cost less than
handing them to the thread and being told it is done."""


class _Disk:
    """The one thread that writes, started when first needed."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def submit(self, work: Callable[[], None]) -> None:
        if self._thread is None:
            with self._starting:
                if self._thread is None:
                    thread = threading.Thread(target=self._run, name="spool-disk", daemon=True)
                    thread.start()
                    self._thread = thread
        self._work.put(work)

    def _run(self) -> None:
        while True:
            work = self._work.get()
            try:
                work()
            except Exception:  # one file's surprise must not stop every other file's writes
                log.exception("a spool write failed")


_DISK = _Disk()


class SpoolWriter:
    """One file written in order on the disk thread (or, when its ``size`` is known to be at
    most ``INLINE_BYTES``, on the loop); a write that fails (the disk full) is raised by the
    next ``write`` or by ``close``."""

    def __init__(self, path: Path, size: int | None = None) -> None:
        self._handle = path.open("wb")
        self._inline = size is not None and size <= INLINE_BYTES
        self._room = threading.Semaphore(QUEUED_CHUNKS)
        self._error: OSError | None = None
        self._done = asyncio.get_running_loop().create_future()

    async def write(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        if self._inline:
            self._handle.write(chunk)
            return
        if not self._room.acquire(blocking=False):  # the disk is behind: wait for it
            await asyncio.to_thread(self._room.acquire)
        _DISK.submit(lambda: self._write(chunk))

    async def close(self) -> None:
        """Every chunk written and the file closed; raises what a write met."""
        if self._inline:
            self._handle.close()
            return
        _DISK.submit(self._close)
        await asyncio.shield(self._done)
        if self._error is not None:
            raise self._error

    def _write(self, chunk: bytes) -> None:
        try:
            if self._error is None:
                self._handle.write(chunk)
        except OSError as error:
            self._error = error
        finally:
            self._room.release()

    def _close(self) -> None:
        try:
            self._handle.close()
        except OSError as error:
            self._error = self._error or error
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            self._done.get_loop().call_soon_threadsafe(_set_done, self._done)


def _set_done(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)
