"""Who gets the next slot: a fair share of uploads per user while others wait, background work
only in slots no live upload waits for, and a hard cap on one user's link fetches."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.jobs.lanes import FairSlots, Lanes


class Holder:
    """Takes slots for owners and records the order they were granted in."""

    def __init__(self, slots: FairSlots) -> None:
        self.slots = slots
        self.granted: list[str] = []
        self._release: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def ask(self, name: str, owner: str, *, background: bool = False) -> None:
        self._release[name] = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._hold(name, owner, background)))

    async def _hold(self, name: str, owner: str, background: bool) -> None:
        async with self.slots.slot(owner, background=background):
            self.granted.append(name)
            await self._release[name].wait()

    async def release(self, name: str) -> None:
        self._release[name].set()
        await settle()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def holding(slots: FairSlots):
    holder = Holder(slots)
    try:
        yield holder
    finally:
        await holder.close()


async def test_a_user_alone_may_take_every_slot():
    """Nobody else waits: one user's uploads fill all four slots."""
    async with holding(Lanes.of(4, 4, 2).uploads) as h:
        for n in range(5):
            h.ask(f"a{n}", "alice")
        await settle()
        assert h.granted == ["a0", "a1", "a2", "a3"]


async def test_a_second_user_goes_before_the_first_users_next():
    """Alice holds both slots and has more waiting; Bob's one upload gets the next free slot."""
    async with holding(Lanes.of(2, 4, 1).uploads) as h:
        for n in range(5):
            h.ask(f"a{n}", "alice")
        await settle()
        h.ask("b0", "bob")
        await settle()
        await h.release("a0")
        assert h.granted == ["a0", "a1", "b0"]
        await h.release("a1")
        assert h.granted[-1] == "a2"


async def test_a_user_over_the_share_waits_while_another_waits():
    """With four slots, Alice keeps at most two while Bob and Carol wait their turn."""
    async with holding(Lanes.of(4, 4, 1).uploads) as h:
        for n in range(4):
            h.ask(f"a{n}", "alice")
        await settle()
        h.ask("b0", "bob")
        h.ask("c0", "carol")
        await settle()
        await h.release("a0")
        await h.release("a1")
        assert h.granted[-2:] == ["b0", "c0"]


async def test_background_takes_only_slots_no_live_upload_waits_for():
    """A backfill gets a free slot, up to its limit; once a live upload waits, the next free
    slot goes to it, not to the backfill's next."""
    async with holding(Lanes.of(3, 4, 2).uploads) as h:
        for n in range(4):
            h.ask(f"bg{n}", "backfill", background=True)
        await settle()
        assert h.granted == ["bg0", "bg1"]
        h.ask("a0", "alice")
        h.ask("a1", "alice")
        await settle()
        assert h.granted == ["bg0", "bg1", "a0"]
        await h.release("bg0")
        assert h.granted[-1] == "a1"
        await h.release("a0")
        assert h.granted[-1] == "bg2"


async def test_one_user_fetches_at_most_two_links_at_once():
    """Four of Alice's links: two fetch, two wait, though the lane has room; Bob's goes on."""
    async with holding(Lanes.of(4, 4, 1).links) as h:
        for n in range(4):
            h.ask(f"a{n}", "alice")
        h.ask("b0", "bob")
        await settle()
        assert h.granted == ["a0", "a1", "b0"]
        await h.release("a0")
        assert h.granted[-1] == "a2"


async def test_a_request_cancelled_while_waiting_takes_no_slot():
    """A job stopped while it waited leaves the queue; the slot goes to the next."""
    slots = FairSlots(1)
    async with holding(slots) as h:
        h.ask("a0", "alice")
        await settle()
        waiting = asyncio.create_task(_take(slots, "bob"))
        await settle()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        h.ask("c0", "carol")
        await h.release("a0")
        assert h.granted == ["a0", "c0"]
        assert slots.held("bob") == 0


async def _take(slots: FairSlots, owner: str) -> None:
    async with slots.slot(owner):
        await asyncio.Event().wait()
