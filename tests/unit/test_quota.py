"""Shared-key quota: counted per user and UTC day in the database, never for the user's own key."""

import asyncio

import pytest
from sqlalchemy import select

from bot.crypto import Vault
from bot.errors import QuotaReached, UploadsDisabled
from bot.intake import Intake
from bot.jobs.lanes import Lanes
from bot.ops.monitor import Monitor
from bot.payloads import JobSpec
from bot.store import Store
from bot.store.quota import today
from bot.store.tables import SharedKeyUse
from bot.texts import render
from bot.upload.outcomes import AlreadyThere, Failed, Uploaded
from bot.upload.service import UploadService
from tests.conftest import ALICE, BOB, GROUP, KEY, LIMITS_MB, OTHER_KEY, PRIVATE, SECRET, media
from tests.support.job_handler import file
from tests.support.jobs import unfinished_jobs


async def used_today(store: Store, user) -> int:
    """Today's shared-key uploads of ``user``, as the table holds them."""
    async with store.db.engine.connect() as c:
        used = await c.scalar(
            select(SharedKeyUse.used).where(
                SharedKeyUse.platform == user.platform,
                SharedKeyUse.user_id == user.id,
                SharedKeyUse.day == today(),
            )
        )
    return used or 0


@pytest.fixture
def shared(client, store, temp_dir):
    """A service whose default key may be used three times a day per user."""
    return UploadService(
        client,
        store,
        limit_mb=LIMITS_MB.__getitem__,
        temp_dir=temp_dir,
        lanes=Lanes.of(4, 4, 2),
        monitor=Monitor(store),
        default_key=OTHER_KEY,
        shared_key_daily_limit=3,
    )


async def test_the_default_key_is_limited_per_user_and_day(shared, store, chevereto):
    """Three uploads with the shared key, then the fourth is refused and not sent."""
    for _ in range(3):
        assert isinstance(await shared.upload(media()), Uploaded)
    refused = await shared.upload(media())
    assert isinstance(refused, Failed)
    assert isinstance(refused.error, QuotaReached)
    assert len(chevereto.upload_requests) == 3
    assert await used_today(store, ALICE) == 3
    assert isinstance(await shared.upload(media(user=BOB)), Uploaded)


async def test_the_users_own_key_is_never_limited(shared, store, chevereto):
    """With their own key a user uploads past the shared limit; nothing is counted."""
    await store.keys.link(ALICE, KEY)
    for _ in range(5):
        await shared.upload(media())
    assert await used_today(store, ALICE) == 0
    assert not await shared.over_quota(ALICE)


async def test_an_upload_that_did_not_happen_is_given_back(shared, store, chevereto):
    """A failed upload and a duplicate do not use the quota."""
    chevereto.api_enabled = False
    refused = await shared.upload(media())
    assert isinstance(refused, Failed)
    assert isinstance(refused.error, UploadsDisabled)
    assert await used_today(store, ALICE) == 0
    chevereto.api_enabled = True
    same = media()
    await shared.upload(same)
    assert isinstance(await shared.upload(same), AlreadyThere)
    assert await used_today(store, ALICE) == 1


async def test_replicas_share_one_count(shared, store, database):
    """Two stores on one database taking at once never pass the limit together."""
    other = Store(database, Vault(SECRET))
    takes = [store.quota.take(ALICE, 3) for _ in range(4)]
    takes += [other.quota.take(ALICE, 3) for _ in range(4)]
    taken = await asyncio.gather(*takes)
    await other.close()
    assert sum(taken) == 3
    assert await used_today(store, ALICE) == 3


async def test_replicas_counting_at_once_are_all_counted(store, database):
    """Far below the limit, every take of two stores racing on a new day's row succeeds."""
    other = Store(database, Vault(SECRET))
    takes = [s.quota.take(BOB, 100) for _ in range(10) for s in (store, other)]
    taken = await asyncio.gather(*takes)
    await other.close()
    assert all(taken)
    assert await used_today(store, BOB) == 20


async def test_past_the_limit_nothing_is_stored(shared, store, runner):
    """Past the limit a private photo is refused with the sentence and no job is stored; in a
    mirrored chat the user is told once a day and the rest is silence."""
    intake = Intake(store, shared, runner)
    for _ in range(3):
        await store.quota.take(ALICE, 3)
    reply = await intake.posted(JobSpec(ALICE, PRIVATE, "en", (file("a.png"),)))
    assert reply is not None
    assert "/link" in render(reply.text, "en")
    await store.keys.link(BOB, KEY)
    await store.chats.set_mirror(GROUP, True, BOB)
    in_group = JobSpec(ALICE, GROUP, "en", (file("b.png"),))
    assert await intake.posted(in_group) is not None
    assert await intake.posted(in_group) is None
    assert await unfinished_jobs(store) == 0
