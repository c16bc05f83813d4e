"""Deadlines by progress: a transfer is cut when it moves too little, measured over the time its
own side is responsible for.

Each side of a transfer (a chat platform's download, a link's server, the host taking an upload)
has a ``Pace``: the bytes it moved, on a clock that stops while that side waits on the other one.
In the pipe the download waits for the upload when the queue is full, and the upload's body
waits for the download when it is empty: neither wait counts, so a slow host is never blamed on
the chat platform, nor the reverse. ``Pace.watch`` cuts the block that moves the bytes once its
side falls under the ``Floor`` (fewer than ``bytes_per_s`` over any ``window_s`` of its time) or
its whole time is up (a link's deadline; the host's answer once the body is sent), and raises
that side's error instead.

The cut is ``asyncio.timeout``'s cancellation: the request being read or written is cancelled,
which closes its connection, and no task polls. One timer per side stands at the earliest
moment the side could be due; bytes moving only ever make it due later, so they touch no
timer: when the timer comes, it looks again, and cuts or stands again where the side is now
due. It lives here, below ``chevereto``, ``links`` and ``upload``, which all use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Final

KB: Final = 1024
STEPS_PER_WINDOW: Final = 16
"""Moves closer together than a window's 16th are noted as one: a few dozen notes per side,
however fast it goes. Each note is exact when made; between two, the earlier one stands, so
the measure errs towards the transfer (it is cut at most a 16th of a window late)."""


@dataclass(frozen=True, slots=True)
class Floor:
    """The slowest a transfer may move: ``bytes_per_s`` over any ``window_s`` of its own time
    (MIN_TRANSFER_KBPS over ``Tuning.transfer_window_s``)."""

    bytes_per_s: float = 16 * KB
    window_s: float = 30.0

    def __post_init__(self) -> None:
        if self.bytes_per_s <= 0 or self.window_s <= 0:
            raise ValueError("a floor is a rate and a window, both above 0")


class Pace:
    """One side of a transfer: what it moved, over the time it was responsible for.

    ``too_slow`` makes the error a cut raises (that side's). ``within_s`` bounds the side's whole
    time too, however fast it moves (a link's deadline); ``allow`` extends it.
    """

    def __init__(
        self,
        floor: Floor,
        too_slow: Callable[[], Exception],
        *,
        within_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._floor = floor
        self._too_slow = too_slow
        self._budget = within_s
        self._clock = clock
        self._before = 0.0
        """Its time before the current stretch began."""
        self._since: float | None = clock()
        """When its current stretch began (``clock``); None while it waits on the other side."""
        self._moved = 0
        self._notes: deque[tuple[float, int]] = deque([(0.0, 0)])
        """(its time, bytes moved by then), oldest first, back to one a window old."""
        self._noted_at = -math.inf
        self._timeout: asyncio.Timeout | None = None
        self._check: asyncio.TimerHandle | None = None
        """The timer that looks again when the side may be due (loop time ``_check_at``)."""
        self._check_at = math.inf
        self.finished = False
        """Everything was moved (``finish``): only the time left counts now."""

    def moved(self, count: int) -> None:
        """``count`` more bytes went through."""
        now = self._elapsed()
        self._moved += count
        if now - self._noted_at < self._floor.window_s / STEPS_PER_WINDOW:
            self._notes[-1] = (now, self._moved)
        else:
            self._noted_at = now
            self._notes.append((now, self._moved))
            while len(self._notes) > 1 and self._notes[1][0] <= now - self._floor.window_s:
                self._notes.popleft()
        if self._check is None:  # else moving bytes only makes the side due later
            self._arm()

    def allow(self, more_s: float) -> None:
        """More time for the whole transfer (a link's server said how large its file is)."""
        if self._budget is not None:
            self._budget += more_s
            self._arm()

    def finish(self, within_s: float) -> None:
        """Everything is moved; what follows (the host's answer) must end within ``within_s``,
        however slowly it comes."""
        self.finished = True
        self._budget = self._elapsed() + within_s
        self._arm()

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """While this side waits on the other one: its clock stops, so it cannot be cut."""
        self._before, self._since = self._elapsed(), None
        self._arm()
        try:
            yield
        finally:
            self._since = self._clock()
            self._arm()

    def left(self) -> float | None:
        """Seconds of this side's time before it is cut if nothing more moves; None while it
        waits on the other side."""
        if self._since is None:
            return None
        ends = [] if self._budget is None else [self._budget]
        if not self.finished:
            ends.append(self._under_floor_at())
        return min(ends) - self._elapsed()

    @contextlib.asynccontextmanager
    async def watch(self) -> AsyncIterator[None]:
        """Cuts the block (cancels what it awaits) once this side is too slow, and raises its
        error instead. The block moves the bytes and says so (``moved``)."""
        try:
            async with asyncio.timeout(None) as timeout:
                self._timeout = timeout
                self._arm()
                try:
                    yield
                finally:
                    self._timeout = None
                    self._unset()
        except TimeoutError as error:
            if timeout.expired():
                raise self._too_slow() from error
            raise

    async def sending(
        self, chunks: AsyncIterator[bytes], *, then_within: float
    ) -> AsyncIterator[bytes]:
        """A request body sent at this pace: each chunk counted once it went out, the wait for
        the next one (the disk, the download) not this side's. Once the last byte is out, what
        follows must end within ``then_within`` s."""
        while True:
            with self.waiting():
                chunk = await anext(chunks, None)
            if chunk is None:
                break
            yield chunk
            self.moved(len(chunk))
        self.finish(then_within)

    def _elapsed(self) -> float:
        running = 0.0 if self._since is None else self._clock() - self._since
        return self._before + running

    def _under_floor_at(self) -> float:
        """When (its time) the last window would hold fewer bytes than the floor asks, if
        nothing more moves: a window after the first note past what that window must leave."""
        least = self._moved - self._floor.bytes_per_s * self._floor.window_s
        start = next(at for at, moved in self._notes if moved > least)
        return start + self._floor.window_s

    def _arm(self) -> None:
        """Sets the timer to when this side is due, as things stand now, unless it already
        stands earlier (it then looks again when it comes)."""
        timeout = self._timeout
        if timeout is None or timeout.expired():
            return
        left = self.left()
        if left is None:
            self._unset()
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + left
        if self._check is not None and self._check_at <= due:
            return
        self._unset()
        self._check, self._check_at = loop.call_at(due, self._due), due

    def _due(self) -> None:
        """The timer came: cut the side if it is due now, else stand again where it is due."""
        self._check, self._check_at = None, math.inf
        timeout = self._timeout
        if timeout is None or timeout.expired():
            return
        left = self.left()
        if left is not None and left <= 0:
            timeout.reschedule(asyncio.get_running_loop().time())
        else:
            self._arm()

    def _unset(self) -> None:
        if self._check is not None:
            self._check.cancel()
        self._check, self._check_at = None, math.inf
