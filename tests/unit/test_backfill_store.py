"""The store's backfills: one per channel at a time, one worker at a time, rows and cursor
written together, pauses and their ends; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.crypto import Vault
from bot.domain import ChatKind, ChatRef, HostImage, UserRef
from bot.store import Store
from bot.store.backfills import BackfillOptions, Counts, Row
from tests.conftest import SECRET

ADMIN = UserRef("discord", "7")
CHANNEL = ChatRef("discord", "100", ChatKind.CHANNEL, "1")
OTHER = ChatRef("discord", "200", ChatKind.CHANNEL, "1")
LEASE = timedelta(seconds=60)
WHEN = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def row(n: int, outcome: str = "uploaded") -> Row:
    return Row(
        f"https://discord.com/channels/1/100/{n}",
        WHEN,
        str(n),
        f"p{n}.png",
        f"https://cdn/{n}/p{n}.png",
        outcome,
        f"http://h/image/{n}",
        f"http://h/images/{n}.png",
        None,
    )


async def started(store: Store, channel: ChatRef = CHANNEL, after: str | None = None):
    record = await store.backfills.start(
        ADMIN, channel, "en", BackfillOptions("#art"), after_id=after, until_id="999"
    )
    assert record is not None
    return record


async def rows_of(store: Store, backfill_id: int) -> list[Row]:
    return [r async for r in store.backfills.rows(backfill_id)]


async def test_one_active_backfill_per_channel(store):
    """A second start in the same channel is refused while the first runs or is paused, and
    allowed once it ended; another channel is free all along."""
    first = await started(store)
    assert (
        await store.backfills.start(
            ADMIN, CHANNEL, "en", BackfillOptions(), after_id=None, until_id="1000"
        )
        is None
    )
    assert await started(store, OTHER)
    claimed = await store.backfills.claim("w1", LEASE, ["discord"])
    assert claimed is not None
    await store.backfills.pause(first.id, "w1", "backfill.paused.flooding")
    assert (
        await store.backfills.start(
            ADMIN, CHANNEL, "en", BackfillOptions(), after_id=None, until_id="1000"
        )
        is None
    )
    assert await store.backfills.stop(first.id) is not None
    assert await started(store)


async def test_one_worker_holds_it_until_its_lease_runs_out(store):
    """Claimed by one worker, not by another until the lease ran out; the loser's writes
    change nothing."""
    record = await started(store)
    assert (await store.backfills.claim("w1", LEASE, ["discord"])).id == record.id
    assert await store.backfills.claim("w2", LEASE, ["discord"]) is None
    assert not await store.backfills.advance(
        record.id, "w2", LEASE, rows=[row(1)], cursor="1", counts=Counts(messages=1)
    )
    assert await store.backfills.renew(record.id, "w1", timedelta(seconds=-1))
    taken = await store.backfills.claim("w2", LEASE, ["discord"])
    assert taken is not None
    assert taken.id == record.id
    assert not await store.backfills.renew(record.id, "w1", LEASE)
    assert await rows_of(store, record.id) == []


async def test_only_its_platforms_are_claimed(store):
    await started(store)
    assert await store.backfills.claim("w1", LEASE, ["telegram"]) is None


async def test_rows_and_cursor_move_together(store):
    """Each advance writes its rows and the cursor past them; a record read later goes on
    after the cursor, with the counts so far."""
    record = await started(store, after="5")
    await store.backfills.claim("w1", LEASE, ["discord"])
    assert record.read_from == "5"
    await store.backfills.advance(
        record.id,
        "w1",
        LEASE,
        rows=[row(6), row(6, "duplicate")],
        cursor="6",
        counts=Counts(messages=1, uploaded=1, duplicate=1),
    )
    await store.backfills.advance(
        record.id, "w1", LEASE, rows=[], cursor="7", counts=Counts(messages=2, uploaded=1)
    )
    again = await store.backfills.get(record.id)
    assert again is not None
    assert (again.cursor, again.read_from, again.counts.messages) == ("7", "7", 2)
    assert [r.outcome for r in await rows_of(store, record.id)] == ["uploaded", "duplicate"]
    assert (await rows_of(store, record.id))[0] == row(6)


async def test_rows_are_read_back_in_order_a_few_at_a_time(store):
    """More rows than one read holds come back whole, in the order written."""
    record = await started(store)
    await store.backfills.claim("w1", LEASE, ["discord"])
    for n in range(3):
        rows = [row(n * 1000 + i) for i in range(400)]
        await store.backfills.advance(
            record.id, "w1", LEASE, rows=rows, cursor=str(n), counts=Counts(messages=n + 1)
        )
    read = await rows_of(store, record.id)
    assert [r.attachment_id for r in read] == [
        str(n * 1000 + i) for n in range(3) for i in range(400)
    ]


async def test_a_pause_waits_for_resume_and_an_outage_for_the_hosts_return(store):
    """Paused, it is claimed by no one; ``resume`` (a start again) or, for its reason,
    ``resume_paused_for`` (the host is back) makes it claimable again."""
    flood = await started(store)
    down = await started(store, OTHER)
    await store.backfills.claim("w1", LEASE, ["discord"])
    await store.backfills.claim("w1", LEASE, ["discord"])
    assert await store.backfills.pause(flood.id, "w1", "backfill.paused.flooding")
    assert await store.backfills.pause(down.id, "w1", "backfill.paused.down")
    assert await store.backfills.claim("w2", LEASE, ["discord"]) is None
    await store.backfills.resume_paused_for("backfill.paused.down")
    assert (await store.backfills.claim("w2", LEASE, ["discord"])).id == down.id
    assert await store.backfills.claim("w2", LEASE, ["discord"]) is None
    assert await store.backfills.resume(flood.id)
    assert not await store.backfills.resume(flood.id)
    assert (await store.backfills.claim("w2", LEASE, ["discord"])).id == flood.id


async def test_a_new_run_goes_on_after_the_last_finished_one(store):
    """read_up_to: the cursor of the channel's last finished backfill, not of a stopped
    one nor of another channel."""
    assert await store.backfills.read_up_to(CHANNEL) is None
    first = await started(store, after="3")
    await store.backfills.claim("w1", LEASE, ["discord"])
    assert await store.backfills.read_up_to(CHANNEL) is None
    await store.backfills.advance(
        first.id, "w1", LEASE, rows=[], cursor="40", counts=Counts(messages=1)
    )
    assert await store.backfills.finish(first.id, "w1")
    assert await store.backfills.read_up_to(CHANNEL) == "40"
    second = await started(store, after="40")
    await store.backfills.stop(second.id)
    assert await store.backfills.read_up_to(CHANNEL) == "40"
    assert await store.backfills.read_up_to(OTHER) is None


async def test_stop_ends_it_once_and_its_worker_cannot_write_after(store):
    record = await started(store)
    await store.backfills.claim("w1", LEASE, ["discord"])
    stopped = await store.backfills.stop(record.id)
    assert stopped is not None
    assert stopped.state == "stopped"
    assert await store.backfills.stop(record.id) is None
    assert not await store.backfills.advance(
        record.id, "w1", LEASE, rows=[row(1)], cursor="1", counts=Counts(messages=1)
    )
    assert not await store.backfills.finish(record.id, "w1")


async def test_two_stores_claim_one_backfill_once(database):
    """Two processes' stores on one database claim at the same moment: one gets it."""
    stores = [Store(database, Vault(SECRET)) for _ in range(2)]
    try:
        await started(stores[0])
        claims = await asyncio.gather(
            *(s.backfills.claim(f"w{n}", LEASE, ["discord"]) for n, s in enumerate(stores))
        )
        assert len([c for c in claims if c is not None]) == 1
    finally:
        for store in stores:
            await store.close()


async def test_uploads_are_found_by_their_source(store):
    """An upload recorded with its source (message, attachment) is found by it, on its
    platform only."""
    uploaded = HostImage("abc", "http://h/image/abc", "http://h/abc", None)
    await store.uploads.record(ADMIN, CHANNEL, "p.png", uploaded, source="10:11")
    found = await store.uploads.by_source("discord", ["10:11", "10:12"])
    assert list(found) == ["10:11"]
    assert found["10:11"].url_viewer == "http://h/image/abc"
    assert await store.uploads.by_source("telegram", ["10:11"]) == {}
