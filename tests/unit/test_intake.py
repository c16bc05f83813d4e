"""Intake: explicit requests are always answered, mirrored chats upload media only, albums
are collected durably into one job."""

from bot.chevereto.probe import probe_png
from bot.intake import Intake
from bot.payloads import FileRef, JobSpec
from bot.texts import render
from tests.conftest import ALICE, BOB, GROUP, KEY, PRIVATE
from tests.support.job_handler import RecordingHandler, file
from tests.support.jobs import running, unfinished_jobs

MB = 1024 * 1024


def spec(*files: FileRef | str, chat=PRIVATE, caption=None) -> JobSpec:
    refs = tuple(f if isinstance(f, FileRef) else file(f) for f in files)
    return JobSpec(ALICE, chat, "en", refs, caption=caption)


async def test_private_non_media_is_answered_without_a_job(store, service, runner):
    """A lone file that is no image or video, in private, gets one sentence and no job."""
    reply = await Intake(store, service, runner).posted(spec(file("doc.pdf", "application/pdf")))
    assert reply is not None
    assert "not an image or a video" in render(reply.text, "en")
    assert await unfinished_jobs(store) == 0


async def test_private_too_large_names_the_limit(store, service, runner):
    """A lone file over the limit is refused at once, naming the limit."""
    reply = await Intake(store, service, runner).requested(
        spec(file("big.mp4", "video/mp4", size=30 * MB))
    )
    assert reply is not None
    assert "20 MB" in render(reply.text, "en")
    assert await unfinished_jobs(store) == 0


async def test_unmirrored_group_is_left_alone(store, service, runner):
    """Media posted in a group without mirroring makes no job and no answer."""
    assert await Intake(store, service, runner).posted(spec("a.png", chat=GROUP)) is None
    assert await unfinished_jobs(store) == 0


async def test_mirrored_group_uploads_media_and_ignores_the_rest(store, service, runner):
    """In a mirrored group, images become a job and other files are silently left out."""
    await store.keys.link(BOB, KEY)
    await store.chats.set_mirror(GROUP, True, BOB)
    intake = Intake(store, service, runner)
    assert await intake.posted(spec(file("doc.pdf", "application/pdf"), chat=GROUP)) is None
    assert await unfinished_jobs(store) == 0
    await intake.posted(spec("a.png", file("doc.pdf", "application/pdf"), chat=GROUP))
    assert await unfinished_jobs(store) == 1


async def test_album_items_become_one_job_with_any_items_caption(store, service, runner, chevereto):
    """Three items of one album, the caption on the second: one job, one summary, one title."""
    await store.keys.link(ALICE, KEY)
    files = {name: probe_png() for name in ("1.png", "2.png", "3.png")}
    handler = RecordingHandler(files)
    runner.register("telegram", handler)
    intake = Intake(store, service, runner)
    for name in files:
        caption = "Trip #holiday" if name == "2.png" else None
        await intake.posted(spec(name, caption=caption), group_key="tg:1:album9")
    assert await unfinished_jobs(store) == 1
    async with running(runner, store):
        (summary,) = await handler.wait_for_replies(1)
    assert "3 of 3 files uploaded" in render(summary.text, "en")
    assert len(summary.buttons) == 3
    assert len(handler.sent) == 1
    assert {r.form.get("title") for r in chevereto.upload_requests} == {"Trip"}


async def test_a_flooding_user_is_told_once_and_nothing_more_is_queued(store, service, runner):
    """Past the waiting-uploads limit new files are refused, with one notice per minute."""
    await store.keys.link(ALICE, KEY)
    intake = Intake(store, service, runner, max_waiting_jobs=3)
    replies = [await intake.posted(spec(f"{n}.png")) for n in range(10)]
    assert replies[:3] == [None, None, None]
    notices = [r for r in replies if r is not None]
    assert len(notices) == 1
    assert "too many files" in render(notices[0].text, "en")
    assert await unfinished_jobs(store) == 3


async def test_an_oversized_album_is_capped(store, service, runner):
    """An album past the item limit keeps the first items and refuses the rest, once."""
    await store.keys.link(ALICE, KEY)
    intake = Intake(store, service, runner, max_album_items=5)
    replies = [await intake.posted(spec(f"{n}.png"), group_key="tg:1:flood") for n in range(40)]
    assert sum(r is not None for r in replies) == 1
    assert await unfinished_jobs(store) == 1


async def test_the_limit_is_per_user(store, service, runner):
    """One user's flood does not refuse another user's upload."""
    intake = Intake(store, service, runner, max_waiting_jobs=1)
    await intake.posted(spec("a.png"))
    assert await intake.posted(spec("b.png")) is not None
    bob_spec = JobSpec(BOB, PRIVATE, "en", (file("c.png"),))
    assert await intake.posted(bob_spec) is None
