"""The store keeps keys, preferences, chats and history, sealed where they are secret."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.crypto import DecryptionFailed, Vault, read_or_create_secret
from bot.domain import HostImage, Platform, UserRef
from bot.store import Store
from tests.conftest import ALICE, BOB, GROUP, KEY, PRIVATE

DELETE_URL = "http://127.0.0.1:1/image/abc/delete/0123456789abcdef"


def image() -> HostImage:
    return HostImage(
        "abc", "http://h/image/abc", "http://h/abc", DELETE_URL, datetime(2030, 1, 1, tzinfo=UTC)
    )


async def test_key_round_trip(store):
    """A linked key comes back as it was, per user and platform."""
    await store.link_key(ALICE, KEY)
    assert await store.key_of(ALICE) == KEY
    assert await store.key_of(BOB) is None
    assert await store.key_of(UserRef(Platform.DISCORD, ALICE.id)) is None


async def test_unlink_forgets(store):
    """Unlinking removes the key and says whether there was one."""
    await store.link_key(ALICE, KEY)
    assert await store.unlink_key(ALICE) is True
    assert await store.key_of(ALICE) is None
    assert await store.unlink_key(ALICE) is False


async def test_preferences(store):
    """Expiration, NSFW, album and language are kept per user."""
    await store.set_expiration(ALICE, "P3D")
    await store.set_nsfw(ALICE, True)
    await store.set_album(ALICE, "4c")
    await store.remember_language(ALICE, "zh")
    prefs = await store.prefs(ALICE)
    assert (prefs.expiration, prefs.nsfw, prefs.album_id, prefs.language) == (
        "P3D",
        True,
        "4c",
        "zh",
    )
    assert (await store.prefs(BOB)).expiration is None


async def test_mirror_settings(store):
    """Mirroring is per chat and remembers who turned it on."""
    await store.set_mirror(GROUP, True, ALICE)
    assert (await store.chat(GROUP)).mirror_by == ALICE.id
    assert (await store.chat(GROUP)).mirror
    await store.set_mirror(GROUP, False, ALICE)
    assert not (await store.chat(GROUP)).mirror


async def test_history_is_newest_first(store):
    """History lists a user's uploads, newest first, with the delete link opened."""
    first = await store.record_upload(ALICE, PRIVATE, "a.png", image())
    second = await store.record_upload(ALICE, PRIVATE, "b.png", image())
    await store.record_upload(BOB, PRIVATE, "c.png", image())
    history = await store.history(ALICE)
    assert [r.id for r in history] == [second, first]
    assert history[0].delete_url == DELETE_URL
    assert history[0].expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    await store.mark_deleted(second)
    assert [r.id for r in await store.history(ALICE)] == [first]


async def test_rows_hold_no_secret_in_clear(store, database):
    """Neither the key nor the delete link is readable in any row of any table."""
    await store.link_key(ALICE, KEY)
    await store.record_upload(ALICE, PRIVATE, "a.png", image())
    await store.add_job(Platform.TELEGRAM, ALICE.id, {"note": DELETE_URL})
    engine = create_async_engine(database)
    dump = []
    async with engine.connect() as conn:
        for table in ("linked_keys", "preferences", "uploads", "jobs", "chat_settings"):
            rows = (await conn.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
            dump += [str(value) for row in rows for value in row]
    await engine.dispose()
    joined = "\n".join(dump)
    assert KEY not in joined
    assert DELETE_URL not in joined
    assert "0123456789abcdef" not in joined


async def test_another_secret_key_cannot_open_keys(store, database):
    """Keys sealed with one SECRET_KEY do not open with another."""
    await store.link_key(ALICE, KEY)
    other = Store(database, Vault("another-secret"))
    with pytest.raises(DecryptionFailed):
        await other.key_of(ALICE)
    await other.close()


async def test_jobs_are_claimed_once(store):
    """A claimed job is not claimed again while its lease runs, and is after it runs out."""
    platforms = frozenset({Platform.TELEGRAM})
    job = await store.add_job(Platform.TELEGRAM, ALICE.id, {"x": 1})
    claimed = await store.claim_job("w1", timedelta(seconds=30), platforms)
    assert claimed is not None
    assert (claimed.id, claimed.attempts, claimed.payload) == (job, 1, {"x": 1})
    assert await store.claim_job("w2", timedelta(seconds=30), platforms) is None
    await store.renew_lease(job, "w1", timedelta(seconds=-1))
    again = await store.claim_job("w2", timedelta(seconds=30), platforms)
    assert again is not None
    assert again.attempts == 2


async def test_jobs_of_other_platforms_are_left(store):
    """A runner takes only jobs of the platforms it serves."""
    await store.add_job(Platform.DISCORD, ALICE.id, {})
    assert await store.claim_job("w", timedelta(seconds=30), frozenset({Platform.TELEGRAM})) is None


async def test_finished_job_keeps_no_payload(store):
    """A finished job drops its payload and results."""
    job = await store.add_job(Platform.TELEGRAM, ALICE.id, {"file": "x"})
    await store.save_results(job, [{"index": 0}])
    await store.finish_job(job)
    assert await store.unfinished_jobs() == 0


async def test_migrations_run_twice(store):
    """Migrating an up-to-date database changes nothing."""
    await store.migrate()
    await store.link_key(ALICE, KEY)
    assert await store.key_of(ALICE) == KEY


def test_secret_is_generated_once_with_mode_0600(tmp_path):
    """Without SECRET_KEY a secret is generated into DATA_DIR, mode 0600, and reused."""
    path = tmp_path / "data" / "secret.key"
    first = read_or_create_secret(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_or_create_secret(path) == first
    assert len(first) >= 32
