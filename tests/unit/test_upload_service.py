"""The upload service checks, picks the key and options, streams via disk, and says what became
of each file: uploaded, already on the host, or a typed failure. It records nothing."""

import asyncio
from dataclasses import replace

import pytest

from bot.chevereto.probe import probe_png
from bot.domain import ChatKind, ChatRef, MediaKind, UploadOptions, UserRef
from bot.errors import KeyRejected, MediaTooLarge, NotLinked, SizeMismatch, UnsupportedMedia
from bot.jobs.lanes import Lanes
from bot.ops.monitor import Monitor
from bot.texts import error_text
from bot.upload.outcomes import AlreadyThere, Failed, Uploaded
from bot.upload.progress import Transfer
from bot.upload.service import UploadService
from tests.conftest import (
    ADMIN_KEY,
    ALICE,
    BOB,
    GROUP,
    KEY,
    LIMITS_MB,
    OTHER_KEY,
    failed_with,
    media,
)
from tests.support.waiting import eventually

MB = 1024 * 1024


async def test_upload_answers_the_hosts_links(service, store, chevereto):
    """A photo is uploaded with the user's key and its links returned; nothing is recorded (the
    caller keeps the outcome)."""
    await store.keys.link(ALICE, KEY)
    outcome = await service.upload(media())
    assert isinstance(outcome, Uploaded)
    assert outcome.image.url_viewer is not None
    assert outcome.image.url_viewer.startswith(chevereto.url + "/image/")
    assert outcome.size > 0
    assert await store.uploads.history(ALICE) == []
    assert chevereto.upload_requests[0].headers["x-api-key"] == KEY


async def test_too_large_is_refused_before_download(service, store, chevereto):
    """A declared size over the limit fails with MediaTooLarge; nothing is fetched or sent."""
    await store.keys.link(ALICE, KEY)
    fetched = []

    async def fetch():
        fetched.append(True)
        yield b""

    outcome = await service.upload(media(kind=MediaKind.VIDEO, size=21 * MB, fetch=fetch))
    assert failed_with(outcome, MediaTooLarge).error.limit_mb == 20  # type: ignore[attr-defined]
    assert fetched == []
    assert chevereto.upload_requests == []


async def test_discord_has_its_own_limit(service, store, chevereto):
    """Discord files are checked against MAX_UPLOAD_MB, not Telegram's 20 MB."""
    user = UserRef("discord", "9")
    chat = ChatRef("discord", "9", ChatKind.PRIVATE)
    await store.keys.link(user, KEY)
    outcome = await service.upload(media(user=user, chat=chat, size=51 * MB))
    assert failed_with(outcome, MediaTooLarge).error.limit_mb == 50  # type: ignore[attr-defined]
    assert isinstance(await service.upload(media(user=user, chat=chat)), Uploaded)


@pytest.mark.parametrize("declared", [10, 19 * MB, 20 * MB])
async def test_a_declared_size_that_lies_is_refused(service, store, chevereto, temp_dir, declared):
    """A file longer or shorter than the platform declared is never sent with a wrong length:
    the upload is cut, the host stores nothing, the temp file is removed."""
    await store.keys.link(ALICE, KEY)
    outcome = await service.upload(media(b"\x89PNG" + b"0" * (20 * MB - 100), size=declared))
    failed_with(outcome, SizeMismatch)
    assert chevereto.images == {}
    assert list(temp_dir.iterdir()) == []


async def test_a_file_past_the_limit_is_cut_while_it_streams(service, store, chevereto, temp_dir):
    """A platform that says nothing of the size is cut at the limit as the bytes come."""
    await store.keys.link(ALICE, KEY)
    big = media(b"\x89PNG" + b"0" * (21 * MB))
    outcome = await service.upload(replace(big, file=replace(big.file, size=None)))
    failed_with(outcome, MediaTooLarge)
    assert chevereto.upload_requests == []
    assert list(temp_dir.iterdir()) == []


async def test_not_media_is_refused(service, store, chevereto):
    """A file that is neither image nor video fails with UnsupportedMedia before anything else."""
    outcome = await service.upload(media(b"%PDF", kind=None, content_type="application/pdf"))
    failed_with(outcome, UnsupportedMedia)
    assert chevereto.requests == []


async def test_no_key_is_not_linked(service, chevereto):
    """With no key of the user's, no mirror and no default key, the upload fails: NotLinked."""
    failed_with(await service.upload(media()), NotLinked)
    assert chevereto.requests == []


async def test_default_key_serves_users_without_one(client, store, temp_dir, chevereto):
    """DEFAULT_API_KEY is used for a user who linked none."""
    service = UploadService(
        client,
        store,
        monitor=Monitor(store),
        limit_mb=LIMITS_MB.__getitem__,
        temp_dir=temp_dir,
        lanes=Lanes.of(1, 4, 2),
        default_key=OTHER_KEY,
    )
    await service.upload(media())
    assert chevereto.upload_requests[0].headers["x-api-key"] == OTHER_KEY


async def test_own_key_beats_default(client, store, temp_dir, chevereto):
    """A user's own key is used even when a default key exists."""
    service = UploadService(
        client,
        store,
        monitor=Monitor(store),
        limit_mb=LIMITS_MB.__getitem__,
        temp_dir=temp_dir,
        lanes=Lanes.of(1, 4, 2),
        default_key=OTHER_KEY,
    )
    await store.keys.link(ALICE, KEY)
    await service.upload(media())
    assert chevereto.upload_requests[0].headers["x-api-key"] == KEY


async def test_mirrored_chat_falls_back_to_the_admins_key(service, store, chevereto):
    """In a mirrored chat, a poster without a key uploads with the enabling admin's key."""
    await store.keys.link(BOB, ADMIN_KEY)
    await store.chats.set_mirror(GROUP, True, BOB)
    await service.upload(media(chat=GROUP))
    assert chevereto.upload_requests[0].headers["x-api-key"] == ADMIN_KEY


async def test_mirrored_chat_prefers_the_posters_key(service, store, chevereto):
    """In a mirrored chat, a poster with a key uploads with their own."""
    await store.keys.link(BOB, ADMIN_KEY)
    await store.keys.link(ALICE, KEY)
    await store.chats.set_mirror(GROUP, True, BOB)
    await service.upload(media(chat=GROUP))
    assert chevereto.upload_requests[0].headers["x-api-key"] == KEY


async def test_unmirrored_group_does_not_borrow_a_key(service, store):
    """A group whose mirroring is off lends nobody's key."""
    await store.keys.link(BOB, ADMIN_KEY)
    await store.chats.set_mirror(GROUP, True, BOB)
    await store.chats.set_mirror(GROUP, False, BOB)
    failed_with(await service.upload(media(chat=GROUP)), NotLinked)


async def test_options_merge_defaults_caption_and_overrides(service, store, chevereto):
    """User defaults < caption < per-upload options, and each reaches the host."""
    await store.keys.link(ALICE, KEY)
    chevereto.add_album("alice", "4c")
    chevereto.add_album("alice", "9z")
    await store.prefs.set_expiration(ALICE, "P3D")
    await store.prefs.set_nsfw(ALICE, True)
    await store.prefs.set_album(ALICE, "4c")
    override = UploadOptions(album_id="9z", nsfw=False)
    await service.upload(media(caption="Cat nap #cat #sleep", options=override))
    form = chevereto.upload_requests[0].form
    assert form["title"] == "Cat nap"
    assert form["tags"] == "cat,sleep"
    assert form["expiration"] == "P3D"
    assert form["album_id"] == "9z"
    assert form.get("nsfw", "0") == "0"


async def test_per_upload_title_beats_caption(service, store, chevereto):
    """A title given with the upload wins over the caption."""
    await store.keys.link(ALICE, KEY)
    await service.upload(media(caption="from caption", options=UploadOptions(title="given")))
    assert chevereto.upload_requests[0].form["title"] == "given"


async def test_duplicate_is_a_result_not_an_error(service, store):
    """The same bytes twice: the second is "already on the host"."""
    await store.keys.link(ALICE, KEY)
    data = probe_png()
    assert isinstance(await service.upload(media(data)), Uploaded)
    assert isinstance(await service.upload(media(data)), AlreadyThere)


async def test_temp_file_is_removed_after_success_and_failure(service, store, chevereto, temp_dir):
    """No temp file stays behind, whether the upload worked or the host refused the key."""
    await store.keys.link(ALICE, KEY)
    await service.upload(media())
    await store.keys.link(ALICE, "chv_9_" + "x" * 128)
    failed_with(await service.upload(media()), KeyRejected)
    assert list(temp_dir.iterdir()) == []


async def test_failed_fetch_leaves_no_temp_file(service, store, temp_dir):
    """A download that breaks halfway leaves nothing on disk and fails that file only."""
    await store.keys.link(ALICE, KEY)

    async def broken():
        yield b"partial"
        raise ConnectionError("platform went away")

    outcome = await service.upload(media(fetch=broken))
    failed_with(outcome, ConnectionError)
    assert list(temp_dir.iterdir()) == []


async def test_progress_is_kept_in_the_transfer(service, store):
    """The transfer the caller hands in says how much of the body went: all of it at the end,
    and never less than an earlier reading (read while the upload runs)."""
    await store.keys.link(ALICE, KEY)
    transfer = Transfer()
    readings: list[int] = []
    big = probe_png() + b"\0" * (3 * MB)
    upload = asyncio.create_task(service.upload(media(big), transfer))
    while not upload.done():
        readings.append(transfer.sent)
        await asyncio.sleep(0)
    assert isinstance(upload.result(), Uploaded)
    assert transfer.sent == transfer.total > len(big)
    assert readings == sorted(readings)
    assert any(0 < reading < transfer.total for reading in readings)


async def test_uploads_in_flight_are_capped(client, store, temp_dir):
    """No more than UPLOAD_CONCURRENCY files are fetched and uploaded at once."""
    service = UploadService(
        client,
        store,
        monitor=Monitor(store),
        limit_mb=LIMITS_MB.__getitem__,
        temp_dir=temp_dir,
        lanes=Lanes.of(2, 4, 2),
    )
    await store.keys.link(ALICE, KEY)
    started, gate = [], asyncio.Event()

    def gated(data: bytes):
        async def fetch():
            started.append(data)
            await gate.wait()
            yield data

        return fetch

    photos = [probe_png() for _ in range(5)]
    tasks = [asyncio.create_task(service.upload(media(p, fetch=gated(p)))) for p in photos]
    await eventually(lambda: len(started) >= 2)
    await asyncio.sleep(0.2)
    assert len(started) == 2
    gate.set()
    outcomes = await asyncio.gather(*tasks)
    assert all(isinstance(outcome, Uploaded) for outcome in outcomes)


async def test_each_file_gets_one_outcome(service, store, chevereto):
    """An album's files each come back as an outcome: uploaded, already there and failed, each
    saying why, none of them a failure that passes."""
    await store.keys.link(ALICE, KEY)
    data = probe_png()
    await service.upload(media(data))
    batch = [
        media(filename="new.png"),
        media(data, filename="again.png"),
        media(b"not an image", filename="junk.png"),
        media(b"%PDF", kind=None, filename="doc.pdf", content_type="application/pdf"),
    ]
    outcomes = [await service.upload(one) for one in batch]
    assert [o.filename for o in outcomes] == ["new.png", "again.png", "junk.png", "doc.pdf"]
    assert [type(o) for o in outcomes] == [Uploaded, AlreadyThere, Failed, Failed]
    failed = [o for o in outcomes if isinstance(o, Failed)]
    assert failed[1].reason == error_text(UnsupportedMedia("application/pdf"))
    assert not any(o.passing for o in failed)
