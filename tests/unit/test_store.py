"""The store keeps keys, preferences, chats and history, sealed where they are secret."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.crypto import DecryptionFailed, Vault, read_or_create_secret
from bot.domain import ChatKind, ChatRef, HostImage, Outcome, UserRef
from bot.payloads import FileRef, FileResult, JobResults, JobSpec
from bot.store import Store
from tests.conftest import ALICE, BOB, GROUP, KEY, PRIVATE
from tests.support.jobs import unfinished_jobs

DELETE_URL = "http://127.0.0.1:1/image/abc/delete/0123456789abcdef"
WINDOW = timedelta(seconds=1.5)


def job(user: UserRef = ALICE, caption: str | None = None) -> JobSpec:
    chat = ChatRef(user.platform, user.id, ChatKind.PRIVATE)
    return JobSpec(user, chat, "en", (FileRef("x.png", "image/png", 1, "x"),), caption)


def image() -> HostImage:
    return HostImage(
        "abc", "http://h/image/abc", "http://h/abc", DELETE_URL, datetime(2030, 1, 1, tzinfo=UTC)
    )


async def test_key_round_trip(store):
    """A linked key comes back as it was, per user and platform."""
    await store.keys.link(ALICE, KEY)
    assert await store.keys.of(ALICE) == KEY
    assert await store.keys.of(BOB) is None
    assert await store.keys.of(UserRef("discord", ALICE.id)) is None


async def test_unlink_forgets(store):
    """Unlinking removes the key and says whether there was one."""
    await store.keys.link(ALICE, KEY)
    assert await store.keys.unlink(ALICE) is True
    assert await store.keys.of(ALICE) is None
    assert await store.keys.unlink(ALICE) is False


async def test_preferences(store):
    """Expiration, NSFW, album and language are kept per user."""
    await store.prefs.set_expiration(ALICE, "P3D")
    await store.prefs.set_nsfw(ALICE, True)
    await store.prefs.set_album(ALICE, "4c")
    await store.prefs.remember_language(ALICE, "zh")
    prefs = await store.prefs.of(ALICE)
    assert (prefs.expiration, prefs.nsfw, prefs.album_id, prefs.language) == (
        "P3D",
        True,
        "4c",
        "zh",
    )
    assert (await store.prefs.of(BOB)).expiration is None


async def test_mirror_settings(store):
    """Mirroring is per chat and remembers who turned it on."""
    await store.chats.set_mirror(GROUP, True, ALICE)
    assert (await store.chats.of(GROUP)).mirror_by == ALICE.id
    assert (await store.chats.of(GROUP)).mirror
    await store.chats.set_mirror(GROUP, False, ALICE)
    assert not (await store.chats.of(GROUP)).mirror


async def test_history_is_newest_first(store):
    """History lists a user's uploads, newest first, with the delete link opened."""
    first = await store.uploads.record(ALICE, PRIVATE, "a.png", image())
    second = await store.uploads.record(ALICE, PRIVATE, "b.png", image())
    await store.uploads.record(BOB, PRIVATE, "c.png", image())
    history = await store.uploads.history(ALICE)
    assert [r.id for r in history] == [second.id, first.id]
    assert history[0] == second
    assert history[0].delete_url == DELETE_URL
    assert history[0].expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    await store.uploads.mark_deleted(second.id)
    assert [r.id for r in await store.uploads.history(ALICE)] == [first.id]


async def test_an_upload_without_usable_links_is_kept_without_them(store):
    """An upload whose host answer had no usable viewer, short or delete link is recorded, and
    read back with those links None."""
    bare = replace(image(), url_viewer=None, url_short=None, delete_url=None)
    kept = await store.uploads.record(ALICE, PRIVATE, "a.png", bare)
    (read,) = await store.uploads.history(ALICE)
    assert read == kept
    assert (read.url_viewer, read.url_short, read.delete_url) == (None, None, None)


async def test_rows_hold_no_secret_in_clear(store, database):
    """Neither the key nor the delete link is readable in any row of any table."""
    await store.keys.link(ALICE, KEY)
    await store.uploads.record(ALICE, PRIVATE, "a.png", image())
    await store.jobs.add(job(caption=DELETE_URL))
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
    await store.keys.link(ALICE, KEY)
    other = Store(database, Vault("another-secret"))
    with pytest.raises(DecryptionFailed):
        await other.keys.of(ALICE)
    await other.close()


async def test_jobs_are_claimed_once(store):
    """A claimed job is not claimed again while its lease runs, and is after it runs out."""
    platforms = frozenset({"telegram"})
    job_id = await store.jobs.add(job())
    claimed = await store.jobs.claim("w1", timedelta(seconds=30), platforms, WINDOW)
    assert claimed is not None
    assert (claimed.id, claimed.attempts, claimed.spec) == (job_id, 1, job())
    assert await store.jobs.claim("w2", timedelta(seconds=30), platforms, WINDOW) is None
    await store.jobs.renew_lease(job_id, "w1", timedelta(seconds=-1))
    again = await store.jobs.claim("w2", timedelta(seconds=30), platforms, WINDOW)
    assert again is not None
    assert again.attempts == 2


async def test_jobs_of_other_platforms_are_left(store):
    """A runner takes only jobs of the platforms it serves."""
    await store.jobs.add(job(UserRef("discord", ALICE.id)))
    assert (
        await store.jobs.claim("w", timedelta(seconds=30), frozenset({"telegram"}), WINDOW) is None
    )


async def test_finished_job_keeps_no_payload(store):
    """A finished job drops its payload and results."""
    job_id = await store.jobs.add(job())
    await store.jobs.save_results(job_id, JobResults({0: FileResult("x.png", Outcome.DUPLICATE)}))
    await store.jobs.finish(job_id)
    assert await unfinished_jobs(store) == 0


async def test_migrations_run_twice(store):
    """Migrating an up-to-date database changes nothing."""
    await store.migrate()
    await store.keys.link(ALICE, KEY)
    assert await store.keys.of(ALICE) == KEY


def test_secret_is_generated_once_with_mode_0600(tmp_path):
    """Without SECRET_KEY a secret is generated into DATA_DIR, mode 0600, and reused."""
    path = tmp_path / "data" / "secret.key"
    first = read_or_create_secret(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_or_create_secret(path) == first
    assert len(first) >= 32


@pytest.mark.postgres_only
async def test_replicas_starting_together_share_one_secret_check(postgres_database):
    """Replicas that start at the same moment on a new database each find, or write, the one
    sealed check value: none fails to start because another wrote it first."""
    stores = [Store(postgres_database, Vault("same-secret")) for _ in range(8)]
    try:
        await asyncio.gather(*(store.check_secret() for store in stores))
        other = Store(postgres_database, Vault("another-secret"))
        with pytest.raises(DecryptionFailed):
            await other.check_secret()
        await other.close()
    finally:
        for store in stores:
            await store.close()
