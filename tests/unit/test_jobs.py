"""Durable jobs: answered once, resumed without uploading twice, retried, then given up."""

import asyncio
from collections import Counter

import pytest

from bot.chevereto.probe import probe_png
from bot.crypto import Vault
from bot.domain import ChatKind, ChatRef, UserRef, Visibility
from bot.errors import HostUnavailable
from bot.jobs.runner import JobRunner
from bot.payloads import JobSpec
from bot.store import Store
from bot.texts import render
from bot.tuning import Tuning
from tests.conftest import ALICE, GROUP, KEY, PRIVATE, SECRET
from tests.support.job_handler import RecordingHandler, file
from tests.support.jobs import running, unfinished_jobs
from tests.support.waiting import eventually


def spec(*names: str, chat=PRIVATE, caption=None) -> JobSpec:
    return JobSpec(ALICE, chat, "en", tuple(file(n) for n in names), caption=caption)


def text(reply) -> str:
    return render(reply.text, "en")


async def test_a_photo_gets_links_and_a_private_delete_link(runner, store, chevereto):
    """One photo in a private chat: one message, for the user alone and with previews off, that
    holds the links, then the delete link and its Delete button."""
    await store.keys.link(ALICE, KEY)
    handler = RecordingHandler({"a.png": probe_png()})
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png"))
        (reply,) = await handler.wait_for_replies(1)
    (image,) = chevereto.images.values()
    shown = text(reply)
    assert f"/image/{image.id}" in shown
    assert "/delete/" in shown
    assert shown.index(f"/image/{image.id}") < shown.index("/delete/")
    assert reply.secret
    assert reply.visibility is Visibility.USER_ONLY
    assert reply.buttons[0].url.endswith(f"/image/{image.id}")
    assert reply.buttons[-1].action.startswith("del:")
    assert await unfinished_jobs(store) == 0
    assert len(handler.sent) == 1


async def test_in_a_group_the_delete_link_goes_private(runner, store, chevereto):
    """In a group, the public answer holds the links only; the delete link is sent to the
    uploader privately, with previews off."""
    await store.keys.link(ALICE, KEY)
    handler = RecordingHandler({"a.png": probe_png()})
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png", chat=GROUP))
        public, secret = await handler.wait_for_replies(2)
    (image,) = chevereto.images.values()
    assert public.visibility is Visibility.PUBLIC
    assert f"/image/{image.id}" in text(public)
    assert public.buttons[0].url.endswith(f"/image/{image.id}")
    assert "/delete/" not in text(public)
    assert not any(b.action for b in public.buttons)
    assert secret.visibility is Visibility.PRIVATE_TO_USER
    assert secret.secret
    assert "/delete/" in text(secret)
    assert secret.buttons[0].action.startswith("del:")


async def test_closed_private_chat_says_use_history(runner, store):
    """When the uploader cannot be messaged privately, the group hears how to get the link."""
    await store.keys.link(ALICE, KEY)
    handler = RecordingHandler({"a.png": probe_png()}, dm_open=False)
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png", chat=GROUP))
        _, fallback = await handler.wait_for_replies(2)
    assert "/history" in text(fallback)
    assert "/delete/" not in text(fallback)


async def test_an_album_gets_one_summary(runner, store):
    """An album: one summary with every uploaded file and each failure's reason."""
    await store.keys.link(ALICE, KEY)
    files = {"a.png": probe_png(), "b.png": probe_png(), "bad.png": b"not an image"}
    handler = RecordingHandler(files)
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png", "b.png", "bad.png"))
        (summary,) = await handler.wait_for_replies(1)
    shown = text(summary)
    assert "2 of 3 files uploaded" in shown
    assert "Some files could not be uploaded" in shown
    assert "bad.png: The host refused that file" in shown
    assert shown.count("/delete/") == 2
    assert summary.secret
    assert len(summary.buttons) == 2
    assert all((b.action or "").startswith("del:") for b in summary.buttons)
    await asyncio.sleep(0.1)
    assert len(handler.sent) == 1


async def test_not_linked_is_one_clear_answer(runner, store):
    """A user with no key gets one sentence saying how to link."""
    handler = RecordingHandler({"a.png": probe_png()})
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png"))
        (reply,) = await handler.wait_for_replies(1)
    assert "/link" in text(reply)


async def test_host_down_is_retried_then_answered_once(runner, store, chevereto):
    """A host that fails the first attempt is tried again later; one answer."""
    await store.keys.link(ALICE, KEY)
    chevereto.fail_next(503)
    handler = RecordingHandler({"a.png": probe_png()})
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png"))
        (answer,) = await handler.wait_for_replies(1)
    assert "/image/" in text(answer)
    assert len(chevereto.images) == 1
    await asyncio.sleep(0.1)
    assert len(handler.sent) == 1


async def test_host_down_for_good_gives_up_with_a_clear_answer(runner, store, chevereto):
    """After its last attempt a job answers once that the host cannot be reached."""
    await store.keys.link(ALICE, KEY)
    chevereto.close_next(times=9)
    handler = RecordingHandler({"a.png": probe_png()})
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png"))
        (reply,) = await handler.wait_for_replies(1)
    assert "cannot be reached" in text(reply)
    assert await unfinished_jobs(store) == 0


async def test_a_retried_album_does_not_upload_twice(runner, store, chevereto):
    """Files uploaded in an earlier attempt are not sent again when the job is retried."""
    await store.keys.link(ALICE, KEY)
    handler = RecordingHandler({"a.png": probe_png(), "b.png": probe_png()})
    runner.register("telegram", handler)
    real_fetch = handler.fetch
    attempts = Counter()

    async def fetch(ref):
        attempts[ref.locator] += 1
        if ref.locator == "b.png" and attempts["b.png"] == 1:
            raise HostUnavailable("platform file server down")
        async for chunk in real_fetch(ref):
            yield chunk

    handler.fetch = fetch
    async with running(runner, store):
        await runner.submit(spec("a.png", "b.png"))
        (summary,) = await handler.wait_for_replies(1)
    assert attempts == {"a.png": 1, "b.png": 2}
    assert "2 of 2" in text(summary)
    assert len(chevereto.upload_requests) == 2
    assert len(chevereto.images) == 2


async def test_a_broken_handler_is_retried_then_answered(runner, store):
    """A job whose adapter keeps failing is answered, after its last attempt, with a reference."""
    await store.keys.link(ALICE, KEY)
    handler = RecordingHandler({"a.png": probe_png()})
    real_deliver = handler.deliver

    async def broken(job, reply, status):
        if reply.text.key != "error.unexpected":
            raise RuntimeError("adapter bug")
        return await real_deliver(job, reply, status)

    handler.deliver = broken
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png"))
        (reply,) = await handler.wait_for_replies(1)
    assert "reference" in text(reply)
    assert await unfinished_jobs(store) == 0


async def test_a_job_is_stored_before_it_runs(store, service):
    """Submitting writes the job: a runner that starts later still finds and answers it."""
    await store.keys.link(ALICE, KEY)
    first = JobRunner(store, service, Tuning(poll_s=0.05))
    await first.submit(spec("a.png"))
    assert await unfinished_jobs(store) == 1
    later = JobRunner(store, service, Tuning(poll_s=0.05))
    handler = RecordingHandler({"a.png": probe_png()})
    later.register("telegram", handler)
    async with running(later, store):
        (answer,) = await handler.wait_for_replies(1)
    assert "/image/" in text(answer)


@pytest.mark.slow
async def test_two_workers_run_each_of_200_jobs_once(database, service, store, chevereto):
    """Two runners with their own connections share one database; each job runs exactly once."""
    users = [UserRef("telegram", str(2000 + i)) for i in range(20)]
    for user in users:
        await store.keys.link(user, KEY)
    files = {f"{n}.png": probe_png() for n in range(200)}
    handlers = [RecordingHandler(files), RecordingHandler(files)]
    second_store = Store(database, Vault(SECRET))
    runners = [
        JobRunner(store, service, Tuning(poll_s=0.02)),
        JobRunner(second_store, service, Tuning(poll_s=0.02)),
    ]
    for runner, handler in zip(runners, handlers, strict=True):
        runner.register("telegram", handler)
    for n in range(200):
        user = users[n % 20]
        chat = ChatRef("telegram", user.id, ChatKind.PRIVATE)
        await store.jobs.add(JobSpec(user, chat, "en", (file(f"{n}.png"),)))
    async with running(runners[0], store), running(runners[1], second_store):
        await eventually(lambda: len(handlers[0].sent) + len(handlers[1].sent) >= 200, within=120)
        await asyncio.sleep(0.2)
    await second_store.close()
    assert len(chevereto.images) == 200
    assert len(chevereto.upload_requests) == 200
    answered = Counter(spec_.items[0].locator for h in handlers for spec_, _ in h.sent)
    assert set(answered.values()) == {1}
    assert len(answered) == 200
    if store.db.dialect == "postgresql":
        assert handlers[0].sent
        assert handlers[1].sent
    assert await unfinished_jobs(store) == 0


@pytest.mark.parametrize("caption", ["Cat #cute"])
async def test_caption_reaches_the_host_from_a_job(runner, store, chevereto, caption):
    """A job's caption becomes the title and tags at the host."""
    await store.keys.link(ALICE, KEY)
    handler = RecordingHandler({"a.png": probe_png()})
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png", caption=caption))
        await handler.wait_for_replies(1)
    form = chevereto.upload_requests[0].form
    assert (form["title"], form["tags"]) == ("Cat", "cute")
