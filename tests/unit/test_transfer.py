"""Deadlines by progress (``bot.ops.transfer``): the rule on a clock the test turns, and the watch
that cuts, on the real loop with windows of a fraction of a second."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import errors
from bot.jobs.status import RETRY_NOTES
from bot.ops.transfer import Floor, Pace
from bot.texts import error_text
from bot.upload.pipe import QUEUED_CHUNKS, Pipe

FLOOR = Floor(bytes_per_s=1000, window_s=10.0)
STEP = 0.125
"""The test clock's step: a binary fraction, so that sums of steps are exact."""
TINY = Floor(bytes_per_s=1000, window_s=0.05)
"""A window the real loop runs out of at once when nothing moves."""


class Clock:
    """A clock that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Cut(Exception):
    """The error a test's pace raises when it is cut."""


def pace(clock: Clock, within_s: float | None = None) -> Pace:
    return Pace(FLOOR, Cut, within_s=within_s, clock=clock)


def runs_out(pace: Pace) -> bool:
    left = pace.left()
    return left is not None and left <= 0


def move(clock: Clock, side: Pace, steps: int, each: int) -> None:
    """``each`` bytes every step of the clock, ``steps`` times; the side never runs out."""
    for _ in range(steps):
        clock.advance(STEP)
        side.moved(each)
        assert not runs_out(side)


def test_moving_just_over_the_floor_is_never_cut():
    """1,100 bytes a second against a floor of 1,000, in steps of an eighth of a second, for
    ten windows: the pace never runs out."""
    clock = Clock()
    side = pace(clock)
    move(clock, side, steps=800, each=int(1100 * STEP))


def test_a_trickle_runs_out_once_its_first_window_ends():
    """Eight bytes a second from the start: time is left until the first window ends, and
    none once it has."""
    clock = Clock()
    side = pace(clock)
    move(clock, side, steps=79, each=1)
    clock.advance(STEP)
    assert runs_out(side)


def test_a_transfer_that_stops_runs_out_within_a_window():
    """A minute well over the floor, then nothing: the pace runs out no later than a window
    (and the sixteenth a note may lag) after the last bytes."""
    clock = Clock()
    side = pace(clock)
    move(clock, side, steps=480, each=500)
    left = side.left()
    assert left is not None
    assert 0 < left <= FLOOR.window_s * (1 + 1 / 16)


def test_waiting_on_the_other_side_does_not_count():
    """A side that waits an hour on the other one (a full queue, an empty one) has no time
    running out meanwhile, and afterwards exactly what it had before."""
    clock = Clock()
    side = pace(clock)
    clock.advance(2.0)
    side.moved(5000)
    before = side.left()
    with side.waiting():
        clock.advance(3600)
        assert side.left() is None
    assert side.left() == before


def test_the_whole_time_holds_however_fast_and_a_declared_size_extends_it():
    """A side allowed 5 s, moving far over the floor: its time is up at 5 s; told of 3 s more
    (a link's declared size), at 8 s."""
    clock = Clock()
    side = pace(clock, within_s=5.0)
    move(clock, side, steps=39, each=100_000)
    clock.advance(STEP)
    assert runs_out(side)
    side.allow(3.0)
    clock.advance(3.0 - STEP)
    assert not runs_out(side)
    clock.advance(STEP)
    assert runs_out(side)


def test_once_finished_only_the_time_left_counts():
    """All moved, then 20 s (two windows) for what follows: moving nothing is no cut before
    the 20 s are up, and a cut once they are."""
    clock = Clock()
    side = pace(clock)
    side.moved(50_000)
    side.finish(20.0)
    clock.advance(20.0 - STEP)
    assert not runs_out(side)
    clock.advance(STEP)
    assert runs_out(side)


async def test_a_stalled_transfer_is_cut_with_its_sides_error():
    """A block that moves nothing (a read that never returns) is cancelled, and its side's
    error raised in place of the cancellation."""
    side = Pace(TINY, lambda: Cut("too slow"))
    with pytest.raises(Cut):
        async with side.watch():
            await asyncio.sleep(3600)


async def test_a_watched_side_waiting_on_the_other_is_not_cut():
    """A side waiting ten windows on the other one, under its watch, ends the block unharmed."""
    side = Pace(TINY, lambda: Cut("too slow"))
    async with side.watch():
        with side.waiting():
            await asyncio.sleep(10 * TINY.window_s)


async def test_an_error_of_the_block_itself_passes_unchanged():
    """A TimeoutError the block raises (not a cut) comes out as it is."""
    side = Pace(FLOOR, lambda: Cut("too slow"))
    with pytest.raises(TimeoutError):
        async with side.watch():
            raise TimeoutError


async def test_a_body_is_not_blamed_for_waiting_on_its_source():
    """A request body whose source takes ten windows between chunks: sent whole under the
    watch, each chunk counted once it went out, and the pace finished at its end."""

    async def slow_source() -> AsyncIterator[bytes]:
        for _ in range(3):
            await asyncio.sleep(4 * TINY.window_s)
            yield b"x" * 10

    side = Pace(TINY, lambda: Cut("too slow"))
    async with side.watch():
        sent = [chunk async for chunk in side.sending(slow_source(), then_within=60.0)]
    assert sent == [b"x" * 10] * 3
    assert side.finished


async def test_a_download_waiting_on_a_slow_upload_is_not_cut(tmp_path: Path):
    """The pipe's upload taking a chunk every two windows (a slow host, within its own floor):
    the download, waiting on the full queue meanwhile, is never cut, and all of it comes."""
    data = [os.urandom(1024) for _ in range(2 * QUEUED_CHUNKS)]

    async def download() -> AsyncIterator[bytes]:
        for chunk in data:
            yield chunk

    side = Pace(TINY, lambda: Cut("too slow"))
    pipe = Pipe(download, tmp_path / "kept", declared=len(b"".join(data)), limit_mb=1, pace=side)
    await pipe.start()
    received = []
    async for chunk in pipe.body():
        received.append(chunk)
        await asyncio.sleep(2 * TINY.window_s)
    await pipe.finished()
    assert received == data


@pytest.mark.parametrize(
    ("cut", "passing"),
    [
        (errors.SourceTooSlow(), errors.SourceUnavailable()),
        (errors.LinkTooSlow("pics.test"), errors.LinkUnreachable("pics.test")),
        (errors.HostTooSlow(), errors.HostNotAnswering()),
    ],
    ids=lambda e: type(e).__name__,
)
def test_each_sides_cut_has_its_own_sentence_and_retry_note(cut, passing):
    """A cut is a failure that passes, told apart from its side's other failures: its own
    final sentence and its own retry note."""
    assert isinstance(cut, errors.SourceUnavailable | errors.HostUnavailable)  # tried again
    key = error_text(cut).key
    assert key != error_text(passing).key
    assert RETRY_NOTES[key] != RETRY_NOTES[error_text(passing).key]
