"""Links as a job's files: the service fetches them itself, judges them by their bytes, sends
them through the same pipe as a platform's files, and keeps them for a retry.

The linked files are served on 127.0.0.1 by ``LinkSite``; the service's fetcher allows that
one address, and every connection the loop makes is watched (``watch_connections``).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.chevereto.probe import probe_png
from bot.errors import (
    AddressRefused,
    HostUnavailable,
    LinkIsPage,
    LinkUnreachable,
    MediaTooLarge,
    NotALink,
)
from bot.intake import Intake
from bot.jobs.lanes import Lanes
from bot.jobs.runner import JobRunner
from bot.jobs.status import retry_note
from bot.links.fetcher import LinkFetcher
from bot.ops.monitor import Monitor
from bot.payloads import FileRef, IncomingMedia, JobSpec, spec_of, spec_to_json
from bot.texts import render
from bot.tuning import Tuning
from bot.upload.outcomes import Uploaded
from bot.upload.service import UploadService
from tests.conftest import ALICE, BOB, GROUP, KEY, LIMITS_MB, PRIVATE, failed_with
from tests.support.fakes.link_site import PAGE, SECRET_QUERY, LinkSite, watch_connections
from tests.support.job_handler import RecordingHandler
from tests.support.jobs import running, unfinished_jobs

MB = 1024 * 1024
LOCAL = ipaddress.ip_address("127.0.0.1")


@pytest.fixture
async def site():
    async with LinkSite().running() as site:
        yield site


@pytest.fixture
async def connections(monkeypatch):
    return watch_connections(monkeypatch)


def fetcher(**overrides) -> LinkFetcher:
    """The site's one address allowed, every other private one refused; 1 MB at most."""
    options = {
        "allow_private": False,
        "limit_bytes": MB,
        "allowed": lambda address: address == LOCAL,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
    }
    return LinkFetcher(**{**options, **overrides})


@pytest.fixture
def links(client, store, temp_dir) -> UploadService:
    """The service with a fetcher that reaches the tests' site."""
    return UploadService(
        client,
        store,
        limit_mb=LIMITS_MB.__getitem__,
        temp_dir=temp_dir,
        lanes=Lanes.of(2, 4, 2),
        monitor=Monitor(store),
        links=fetcher(),
    )


def linked(url: str, *, spool: str | None = None) -> IncomingMedia:
    """Alice's request for the file at ``url``; its platform fetch must never be called."""

    async def no_platform():
        raise AssertionError("a link is fetched by the core, not by its platform")
        yield b""

    return IncomingMedia(ALICE, PRIVATE, FileRef.of_link(url), no_platform, spool=spool)


def host_saw_no_link(chevereto, url: str) -> bool:
    """No request to the host holds the link, nor its query."""
    seen = [str((r.path, r.query, r.headers, r.form, r.file_name)) for r in chevereto.requests]
    return all(url not in s and SECRET_QUERY not in s for s in seen)


async def test_a_link_is_fetched_then_sent_as_its_bytes_say(links, store, chevereto, site):
    """A file whose server says its size and another type: the host stores those very bytes,
    under the name and type its bytes and its link give."""
    await store.keys.link(ALICE, KEY)
    png = probe_png()
    url = site.serve("/pics/holiday.jpeg", png, "text/plain")

    outcome = await links.upload(linked(url))

    assert isinstance(outcome, Uploaded)
    (image,) = chevereto.images.values()
    assert image.path.read_bytes() == png
    (request,) = chevereto.upload_requests
    assert (request.file_name, request.file_type, request.file_size) == (
        "holiday.png",
        "image/png",
        len(png),
    )
    assert outcome.filename == "holiday.png"
    assert host_saw_no_link(chevereto, url)


async def test_a_link_without_its_size_is_fetched_to_disk_first(
    links, store, chevereto, site, temp_dir
):
    """A chunked answer (no Content-Length) is downloaded whole, then uploaded from disk; the
    kept file is gone afterwards."""
    await store.keys.link(ALICE, KEY)
    png = probe_png()
    url = site.stream("/cat", png)

    outcome = await links.upload(linked(url))

    assert isinstance(outcome, Uploaded)
    (image,) = chevereto.images.values()
    assert image.path.read_bytes() == png
    assert chevereto.upload_requests[0].file_name == "cat.png"
    assert list(temp_dir.iterdir()) == []


async def test_a_page_is_refused_and_nothing_is_sent(links, store, chevereto, site):
    """A link to a web page fails with "a page, not an image or a video"; the host sees nothing."""
    await store.keys.link(ALICE, KEY)
    url = site.serve("/gallery", PAGE, "text/html")

    outcome = failed_with(await links.upload(linked(url)), LinkIsPage)

    assert render(outcome.reason, "en") == "That link is a page, not an image or a video."
    assert not outcome.passing
    assert chevereto.upload_requests == []


async def test_a_file_over_max_upload_mb_is_cut(links, store, chevereto, site, temp_dir):
    """The link's own limit (MAX_UPLOAD_MB, here 1 MB) holds, not the platform's 20 MB: a bigger
    file streamed without its size is cut, nothing is stored, nothing is kept."""
    await store.keys.link(ALICE, KEY)
    url = site.stream("/big.png", probe_png() + b"\0" * (2 * MB))

    outcome = failed_with(await links.upload(linked(url)), MediaTooLarge)

    assert outcome.error.limit_mb == 1  # type: ignore[attr-defined]
    assert chevereto.images == {}
    assert list(temp_dir.iterdir()) == []


async def test_a_refused_address_is_refused_before_connecting(
    links, store, chevereto, connections, site
):
    """A link to an address the policy refuses (127.0.0.2: no test names an address off this
    machine) is refused as not fetched; no connection is attempted."""
    await store.keys.link(ALICE, KEY)

    failed_with(await links.upload(linked(f"http://127.0.0.2:{site.port}/x.png")), AddressRefused)

    assert connections == []
    assert chevereto.upload_requests == []


async def test_loopback_is_refused_by_default(client, store, temp_dir, chevereto, site):
    """The default policy (FETCH_PRIVATE_ADDRESSES off) refuses the tests' own site unasked."""
    await store.keys.link(ALICE, KEY)
    service = UploadService(
        client,
        store,
        limit_mb=LIMITS_MB.__getitem__,
        temp_dir=temp_dir,
        lanes=Lanes.of(1, 4, 2),
        monitor=Monitor(store),
    )
    url = site.serve("/a.png", probe_png())

    failed_with(await service.upload(linked(url)), AddressRefused)

    assert site.seen == []


async def test_an_unreachable_link_passes_and_says_it_will_try_again(links, store, unused_port):
    """A server that does not answer is a failure that passes; its retry note names the link."""
    await store.keys.link(ALICE, KEY)

    outcome = await links.upload(linked(f"http://127.0.0.1:{unused_port}/a.png"))

    failed = failed_with(outcome, LinkUnreachable)
    assert failed.passing
    note = render(retry_note(failed.reason, 5, 2, 3), "en")
    assert note.startswith("The server of that link is not answering; trying again in 5 s")


async def test_a_retry_sends_the_kept_file_without_fetching_again(
    links, store, chevereto, site, temp_dir
):
    """When the host fails, the link's file is kept with its name; the next attempt sends it
    from disk under the same name and type, and the link is not fetched again."""
    await store.keys.link(ALICE, KEY)
    png = probe_png()
    url = site.serve("/pics/sunset", png, "image/png")
    chevereto.fail_next(503)  # an upload is not tried again at once: the job does it later
    media = linked(url, spool="job-7-0")

    failed_with(await links.upload(media), HostUnavailable)
    assert (temp_dir / "job-7-0").read_bytes() == png
    kept = json.loads((temp_dir / "job-7-0.name").read_text())
    assert kept == {"filename": "sunset.png", "content_type": "image/png"}

    assert isinstance(await links.upload(media), Uploaded)
    assert len(site.seen) == 1
    assert (chevereto.upload_requests[-1].file_name, chevereto.upload_requests[-1].file_type) == (
        "sunset.png",
        "image/png",
    )
    (image,) = chevereto.images.values()
    assert image.path.read_bytes() == png
    assert list(temp_dir.iterdir()) == []


async def test_only_a_link_is_accepted(links):
    """A link item that is not one http(s) link is refused at the check, before any fetch."""
    with pytest.raises(NotALink):
        links.check("telegram", FileRef.of_link("two words"))
    links.check("telegram", FileRef.of_link("https://example.com/a.png"))


def test_a_link_survives_its_job_being_stored():
    """A link item goes to JSON and back, and its link stays out of its repr."""
    item = FileRef.of_link("https://example.com/a.png?x=1")
    spec = JobSpec(ALICE, PRIVATE, "en", (item,))
    assert spec_of(spec_to_json(spec)).items == (item,)
    assert "example.com" not in repr(item)


async def test_intake_admits_a_link_and_the_job_uploads_it(links, store, chevereto, site):
    """A requested link is not refused for its unknown type or size: it becomes a job, which
    fetches it and answers with its links."""
    await store.keys.link(ALICE, KEY)
    png = probe_png()
    url = site.serve("/a.png", png)
    tuning = Tuning(retry_delays=(0.05, 0.05), poll_s=0.05, album_window=timedelta(seconds=0.5))
    runner = JobRunner(store, links, tuning)
    handler = RecordingHandler()
    runner.register("telegram", handler)
    spec = JobSpec(ALICE, PRIVATE, "en", (FileRef.of_link(url),))

    async with running(runner, store):
        assert await Intake(store, links, runner).requested(spec) is None
        (answer,) = await handler.wait_for_replies(1)

    assert "/image/" in render(answer.text, "en")
    (image,) = chevereto.images.values()
    assert image.path.read_bytes() == png


async def test_a_mirrored_chat_does_not_fetch_links(links, store, runner, site):
    """In a mirrored group a link item is left out: only posted files are mirrored."""
    await store.keys.link(BOB, KEY)
    await store.chats.set_mirror(GROUP, True, BOB)
    spec = JobSpec(ALICE, GROUP, "en", (FileRef.of_link(site.url("/a.png")),))

    assert await Intake(store, links, runner).posted(spec) is None
    assert await unfinished_jobs(store) == 0


async def test_a_bad_link_is_refused_at_intake(links, store, runner):
    """A requested link that is not one gets one sentence at once, and no job."""
    spec = JobSpec(ALICE, PRIVATE, "en", (replace(FileRef.of_link("x"), locator="ftp://a/b"),))

    reply = await Intake(store, links, runner).requested(spec)

    assert reply is not None
    assert render(reply.text, "en") == "I fetch only http and https links."
    assert await unfinished_jobs(store) == 0


async def test_an_unreachable_link_is_tried_again_and_the_user_told(links, store, unused_port):
    """A job whose link's server does not answer says at once that it will try again; after
    its last attempt it answers why, once."""
    await store.keys.link(ALICE, KEY)
    tuning = Tuning(retry_delays=(0.05, 0.05), poll_s=0.05)
    runner = JobRunner(store, links, tuning)
    handler = RecordingHandler()
    runner.register("telegram", handler)
    spec = JobSpec(ALICE, PRIVATE, "en", (FileRef.of_link(f"http://127.0.0.1:{unused_port}/a"),))

    async with running(runner, store):
        await runner.submit(spec)
        (answer,) = await handler.wait_for_replies(1)

    assert {note.key for note in handler.progress_shown} == {"retry.link"}
    assert render(answer.text, "en") == (
        "The server of that link could not be reached. Try again later."
    )
