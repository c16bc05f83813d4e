"""``/backfill`` through the real discord.py against the fakes: a channel's past re-hosted once,
its CSV row by row, the refusals, and the run's life (start, status, stop, pause, resume, a
second run after the first, live uploads first)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.chevereto.probe import probe_png
from bot.domain import ChatKind, ChatRef
from bot.store.backfills import BackfillRecord
from bot.tuning import Tuning
from tests.conftest import KEY, OTHER_KEY
from tests.support.discord_harness import (
    ALICE_ID,
    BOB_ID,
    EPHEMERAL,
    OWNER_ID,
    Harness,
    discord_for,
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
    running,
    settings_for,
)
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import HISTORY_PATH, FakeDiscord, RecordedRequest
from tests.support.fakes.discord_history import READ_MESSAGE_HISTORY
from tests.support.running import QUICK
from tests.support.waiting import eventually

JSON = dict[str, Any]
# Ids as long as Discord's: discord.py writes mentions as names only for ids of 15 to 20 digits.
GUILD = 1_300_000_000_000_000_000
TEXT = 1_300_000_000_000_000_001
ADULT = 1_300_000_000_000_000_002
QUIET = 1_300_000_000_000_000_003
MIA = 1_300_000_000_000_000_100
SINCE = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
COLUMNS = [
    "message_url",
    "posted_at",
    "attachment_id",
    "filename",
    "original_url",
    "outcome",
    "viewer_url",
    "file_url",
    "thumbnail_url",
]


@pytest.fixture(name="bot")
async def bot_fixture(
    request: pytest.FixtureRequest, fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> AsyncIterator[Harness]:
    """The bot on a guild with #art, an age-restricted #after-dark and #quiet (where the bot may
    not read the history); the owner's key linked. ``param``: extra core settings."""
    add_guild(fake)
    settings = settings_for(chevereto, tmp_path / "data", **getattr(request, "param", {}))
    tuning = Tuning(status_after_s=0.5, progress_every_s=0.5, backfill_progress_s=0.2)
    async with running(settings, discord_for(fake), tuning=tuning) as (core, adapter):
        await core.store.keys.link(discord_user(OWNER_ID), KEY)
        yield Harness(fake, chevereto, core, adapter)


def add_guild(fake: FakeDiscord) -> None:
    people = [fake.user(i, name=f"user{i % 1000}") for i in (ALICE_ID, BOB_ID, OWNER_ID)]
    people.append(fake.user(MIA, name="mia"))
    channels = [
        {"id": TEXT, "name": "art"},
        {"id": ADULT, "name": "after-dark", "nsfw": True},
        {"id": QUIET, "name": "quiet"},
    ]
    fake.add_guild(GUILD, owner_id=OWNER_ID, channels=channels, members=people)
    fake.overwrite(QUIET, fake.bot_id, deny=READ_MESSAGE_HISTORY)


def image(fake: FakeDiscord, name: str = "cat.png", **options: Any) -> JSON:
    return fake.add_attachment(probe_png(), filename=name, content_type="image/png", **options)


def video(fake: FakeDiscord, name: str = "clip.mp4") -> JSON:
    data = b"\x00\x00\x00\x18ftypmp42" + secrets.token_bytes(64)
    return fake.add_attachment(data, filename=name, content_type="video/mp4")


def said(
    fake: FakeDiscord,
    channel: int,
    user_id: int,
    content: str = "",
    *attachments: JSON,
    minute: int = 0,
) -> JSON:
    """A message posted in the past, ``minute`` minutes after SINCE."""
    author = (
        fake.bot_user if user_id == fake.bot_id else fake.user(user_id, f"user{user_id % 1000}")
    )
    at = SINCE + dt.timedelta(minutes=minute)
    return fake.history_message(channel, author, content=content, attachments=attachments, at=at)


async def backfill(
    bot: Harness, action: str, *options: JSON, user_id: int = OWNER_ID, channel: int = TEXT
) -> JSON:
    """``/backfill <action>`` in ``channel``; returns the interaction."""
    sub = {"name": action, "type": 1, "options": list(options)}
    return await bot.slash("backfill", sub, user_id=user_id, channel_id=channel, guild_id=GUILD)


def option(name: str, value: object) -> JSON:
    return {"name": name, "type": 4 if isinstance(value, int) else 3, "value": value}


def chat(channel: int = TEXT) -> ChatRef:
    return ChatRef("discord", str(channel), ChatKind.CHANNEL, str(GUILD))


async def record_of(bot: Harness, channel: int = TEXT) -> BackfillRecord:
    record = await bot.core.store.backfills.latest(chat(channel))
    assert record is not None
    return record


async def ended(bot: Harness, channel: int = TEXT, timeout: float = 20) -> BackfillRecord:
    """The channel's backfill, once it is finished or stopped."""

    async def over() -> bool:
        record = await bot.core.store.backfills.latest(chat(channel))
        return record is not None and not record.active

    await eventually(over, within=timeout)
    return await record_of(bot, channel)


def dms(fake: FakeDiscord, user_id: int = OWNER_ID) -> list[str]:
    return [m["content"] for m in fake.dms_to(user_id)]


async def csv_sent(bot: Harness, user_id: int = OWNER_ID, timeout: float = 20) -> list[JSON]:
    """The rows of the CSV the bot sent to the user's DM (waited for), as dicts."""
    request = await bot.fake.wait_for(
        lambda r: r.method == "POST" and r.path.endswith("/messages") and bool(r.files),
        timeout=timeout,
    )
    return rows_of(request)


def rows_of(request: RecordedRequest) -> list[JSON]:
    (file,) = request.files
    assert file.filename is not None
    assert file.filename.endswith(".csv")
    text = file.data.decode("utf-8")
    assert text.startswith("\ufeff")
    reader = csv.reader(io.StringIO(text[1:]))
    header, *rows = list(reader)
    assert header == COLUMNS
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def history_reads(fake: FakeDiscord, channel: int = TEXT) -> list[dict[str, str]]:
    return [
        dict(r.query)
        for r in fake.requests
        if r.method == "GET" and r.path == f"/channels/{channel}/messages"
    ]


def ephemeral(bot: Harness, payload: JSON) -> bool:
    """Whether the interaction's response (a deferral, here) was ephemeral."""
    (callback,) = [
        r
        for r in bot.fake.requests
        if r.path.endswith(f"{payload['id']}/{payload['token']}/callback")
    ]
    return bool(callback.json["data"]["flags"] & EPHEMERAL)


def link_of(message: JSON) -> str:
    return f"https://discord.com/channels/{GUILD}/{message['channel_id']}/{message['id']}"


def bare(attachment: JSON) -> str:
    return str(attachment["url"]).split("?", 1)[0]


async def test_a_mixed_history_is_rehosted_once_each_and_mapped_row_by_row(bot: Harness) -> None:
    """Images, a video, a text file, the bot's own message, a stale link, a deleted file, a
    spoiler, a text-only message and a name a spreadsheet would run: each attachment goes up
    once with the owner's key (titles from the text, mentions as names; the message's link
    and date as description), and the CSV lists every attachment seen, in order; nothing is
    posted in the channel."""
    fake = bot.fake
    first = image(fake, "a.png")
    clip = video(fake)
    notes = fake.add_attachment(b"hello", filename="notes.txt", content_type="text/plain")
    stale = image(fake, "stale.png", expires_at=SINCE)
    gone = image(fake, "gone.png")
    fake.delete_attachment(gone["id"])
    hidden = image(fake, "secret.png", spoiler=True)
    formula, second = image(fake, "=SUM(A1).png"), image(fake, "b.png")
    big = fake.add_attachment(
        b"\0" * 16, filename="big.mp4", content_type="video/mp4", declared_size=600 * 1024 * 1024
    )
    text = f"look <@{MIA}> in <#{TEXT}>\nsecond line"
    messages = [
        said(fake, TEXT, ALICE_ID, text, first, minute=0),
        said(fake, TEXT, BOB_ID, "", clip, minute=1),
        said(fake, TEXT, ALICE_ID, "notes", notes, minute=2),
        said(fake, TEXT, fake.bot_id, "mine", image(fake, "bot.png"), minute=3),
        said(fake, TEXT, ALICE_ID, "old link", stale, minute=4),
        said(fake, TEXT, ALICE_ID, "gone", gone, minute=5),
        said(fake, TEXT, ALICE_ID, "", hidden, minute=6),
        said(fake, TEXT, ALICE_ID, "just words", minute=7),
        said(fake, TEXT, ALICE_ID, "two", formula, second, minute=8),
        said(fake, TEXT, BOB_ID, "huge", big, minute=9),
    ]

    payload = await backfill(bot, "start")
    answer = await bot.answer_of(payload, "Backfill started")
    rows = await csv_sent(bot)

    assert ephemeral(bot, payload)
    assert answer.method == "PATCH"
    expected = [
        (messages[0], first, "uploaded"),
        (messages[1], clip, "uploaded"),
        (messages[2], notes, "skipped: "),
        (messages[4], stale, "uploaded"),
        (messages[5], gone, "failed: "),
        (messages[6], hidden, "uploaded"),
        (messages[8], formula, "uploaded"),
        (messages[8], second, "uploaded"),
        (messages[9], big, "skipped: "),
    ]
    assert [(r["message_url"], r["attachment_id"]) for r in rows] == [
        (link_of(m), a["id"]) for m, a, _ in expected
    ]
    for row, (message, attachment, outcome) in zip(rows, expected, strict=True):
        assert row["outcome"].startswith(outcome), row
        assert row["original_url"] == bare(attachment)
        assert "?" not in row["original_url"]
        assert dt.datetime.fromisoformat(row["posted_at"]) == dt.datetime.fromisoformat(
            message["timestamp"]
        )
    assert rows[2]["outcome"] == "skipped: That is not an image or a video"
    assert rows[4]["outcome"].startswith("failed: ")
    assert rows[6]["filename"] == "'=SUM(A1).png"
    assert rows[8]["outcome"] == "skipped: That file is larger than 50 MB, the most I accept"

    uploads = bot.chevereto.upload_requests
    assert len(uploads) == 6
    assert {u.headers["x-api-key"] for u in uploads} == {KEY}
    by_name = {u.file_name: u for u in uploads}
    assert by_name["a.png"].form["title"] == "look @Mia in #art"
    assert by_name["a.png"].form["description"] == f"{link_of(messages[0])}\n2024-03-01 12:00 UTC"
    assert by_name["clip.mp4"].form["title"] == "clip.mp4"
    assert by_name["SPOILER_secret.png"].form.get("nsfw") == "1"
    assert by_name["a.png"].form.get("nsfw") in (None, "0")
    assert by_name["b.png"].form["title"] == "two"
    stored = {image.id: image for image in bot.chevereto.images.values()}
    uploaded_rows = [r for r in rows if r["outcome"] == "uploaded"]
    assert len(stored) == 6
    for row in uploaded_rows:
        assert row["viewer_url"].startswith(bot.chevereto.url)
        assert row["file_url"].startswith(bot.chevereto.url)
    assert "/delete/" not in str(rows)

    record = await record_of(bot)
    assert record.state == "finished"
    counts = record.counts
    assert (counts.messages, counts.uploaded, counts.skipped, counts.failed) == (10, 6, 2, 1)
    assert [r for r in bot.fake.requests if r.method != "GET" and str(TEXT) in r.path] == []
    summary = dms(fake)[-1]
    assert "The backfill of #art is finished." in summary
    assert "10 messages read: 6 uploaded, 0 already re-hosted" in summary
    for refreshed in (messages[4], messages[5]):  # the stale link, then a fresh one, once
        (attachment,) = refreshed["attachments"]
        asked = [r for r in fake.downloads if f"/{attachment['id']}/" in r.path]
        assert [r.status for r in asked] == [404, 200 if refreshed is messages[4] else 404]
        message_path = f"/channels/{TEXT}/messages/{refreshed['id']}"
        assert len([r for r in fake.requests if r.path == message_path]) == 1


async def test_history_is_read_a_page_of_100_at_a_time_oldest_first(bot: Harness) -> None:
    """250 messages, every tenth with a file: three reads of 100 (the last one short: the
    end), each after the last message read; the files uploaded in the history's order."""
    author = bot.fake.user(ALICE_ID, "user0")

    def files(n: int) -> list[JSON]:
        return [image(bot.fake, f"p{n}.png")] if n % 10 == 0 else []

    bot.fake.seed_history(TEXT, author, 250, since=SINCE, attachments=files)
    payload = await backfill(bot, "start")
    await bot.answer_of(payload, "Backfill started")
    rows = await csv_sent(bot, timeout=60)

    reads = history_reads(bot.fake)
    assert [int(r["limit"]) for r in reads] == [100, 100, 100]
    assert all("after" in r for r in reads)
    assert [r["filename"] for r in rows] == [f"p{n}.png" for n in range(0, 250, 10)]
    assert len(bot.chevereto.images) == 25
    assert (await record_of(bot)).counts.messages == 250


async def test_a_member_without_manage_server_is_refused(bot: Harness) -> None:
    """Alice (no Manage Server) hears that only admins may, for each subcommand; nothing is
    read or stored."""
    said(bot.fake, TEXT, ALICE_ID, "", image(bot.fake), minute=0)
    for action in ("start", "status", "stop"):
        payload = await backfill(bot, action, user_id=ALICE_ID)
        await bot.answer_of(payload, "admins")
    assert history_reads(bot.fake) == []
    assert await bot.core.store.backfills.latest(chat()) is None


async def test_a_missing_permission_is_named_before_anything_is_read(bot: Harness) -> None:
    """In #quiet the bot may not read the history: the owner hears which permission to give,
    no history is read and no backfill stored."""
    payload = await backfill(bot, "start", channel=QUIET)
    await bot.answer_of(payload, "Read Message History")
    assert history_reads(bot.fake, QUIET) == []
    assert await bot.core.store.backfills.latest(chat(QUIET)) is None


@pytest.mark.parametrize("fake", [{"privileged_intents": 0}], indirect=True, ids=["no-intent"])
async def test_without_the_message_content_intent_nothing_starts(bot: Harness) -> None:
    """Discord refused the Message Content intent (the bot runs on without it): a backfill
    would see no attachments, so the owner hears how to enable it and nothing is read."""
    payload = await backfill(bot, "start")
    await bot.answer_of(payload, "Message Content intent")
    assert history_reads(bot.fake) == []
    assert await bot.core.store.backfills.latest(chat()) is None


async def test_without_a_key_of_their_own_nothing_starts(bot: Harness) -> None:
    """An admin with no linked key (the bot's shared key set or not) is told to link one."""
    await bot.core.store.keys.unlink(discord_user(OWNER_ID))
    payload = await backfill(bot, "start")
    await bot.answer_of(payload, "link it first with /link")
    assert await bot.core.store.backfills.latest(chat()) is None
    assert history_reads(bot.fake) == []


async def test_bad_options_are_refused_in_one_sentence(bot: Harness) -> None:
    """A date that is not one, or in the future: one sentence, nothing stored."""
    for since in ("yesterday", "2999-01-01", "2024-02-30"):
        payload = await backfill(bot, "start", option("since", since))
        await bot.answer_of(payload, "since must be a date")
    assert await bot.core.store.backfills.latest(chat()) is None


async def test_since_starts_at_that_day(bot: Harness) -> None:
    """``since`` 2024-03-02: the messages of 1 March are not read."""
    said(bot.fake, TEXT, ALICE_ID, "", image(bot.fake, "old.png"), minute=0)
    said(bot.fake, TEXT, ALICE_ID, "", image(bot.fake, "new.png"), minute=24 * 60)
    payload = await backfill(bot, "start", option("since", "2024-03-02"))
    await bot.answer_of(payload, "Backfill started")
    rows = await csv_sent(bot)
    assert [r["filename"] for r in rows] == ["new.png"]


async def test_an_age_restricted_channel_sends_every_file_nsfw(bot: Harness) -> None:
    said(bot.fake, TEXT, ALICE_ID, "", image(bot.fake, "x.png"), minute=0)
    said(bot.fake, ADULT, ALICE_ID, "", image(bot.fake, "y.png"), minute=0)
    payload = await backfill(bot, "start", channel=ADULT)
    await bot.answer_of(payload, "Backfill started")
    await csv_sent(bot)
    (upload,) = bot.chevereto.upload_requests
    assert (upload.file_name, upload.form.get("nsfw")) == ("y.png", "1")


async def test_the_admins_defaults_do_not_shape_a_backfill_but_its_album_does(
    bot: Harness,
) -> None:
    """The owner's own default expiration and width are for their uploads, not for a faithful
    copy of the channel; the run's ``album`` reaches the host."""
    owner = discord_user(OWNER_ID)
    await bot.core.store.prefs.set_expiration(owner, "PT5M")
    await bot.core.store.prefs.set_width(owner, 10)
    bot.chevereto.add_album("alice", "4c")
    said(bot.fake, TEXT, ALICE_ID, "", image(bot.fake, "x.png"), minute=0)
    payload = await backfill(bot, "start", option("album", "4c"))
    await bot.answer_of(payload, "Backfill started")
    await csv_sent(bot)
    (upload,) = bot.chevereto.upload_requests
    assert upload.form.get("album_id") == "4c"
    assert "expiration" not in upload.form
    assert "width" not in upload.form


async def test_start_while_one_runs_shows_its_progress_and_stop_sends_the_csv(
    bot: Harness,
) -> None:
    """A slow host: a second start shows the run's progress and starts nothing; stop ends it,
    what was uploaded stays, and the DM holds the summary with the CSV of what was done."""
    bot.chevereto.delay = 0.3
    for n in range(20):
        said(bot.fake, TEXT, ALICE_ID, "", image(bot.fake, f"p{n}.png"), minute=n)
    payload = await backfill(bot, "start")
    await bot.answer_of(payload, "Backfill started")
    await eventually(lambda: len(bot.chevereto.images) >= 2, within=10)
    first = await record_of(bot)

    again = await backfill(bot, "start")
    answer = await bot.answer_of(again, "already on its way")
    assert "Backfill of #art: running." in str(answer.json)
    assert (await record_of(bot)).id == first.id

    stop = await backfill(bot, "stop")
    await bot.answer_of(stop, "Backfill stopped")
    rows = await csv_sent(bot)
    record = await record_of(bot)
    assert record.state == "stopped"
    await asyncio.sleep(1)
    assert 2 <= len(bot.chevereto.images) < 20
    uploaded = {r["filename"] for r in rows if r["outcome"] == "uploaded"}
    hosted = {image.filename for image in bot.chevereto.images.values()}
    assert uploaded <= hosted
    assert "is stopped; what was uploaded stays" in dms(bot.fake)[-1]

    again = await backfill(bot, "stop")
    await bot.answer_of(again, "No backfill is running")


async def test_status_shows_progress_then_the_summary_with_its_csv(bot: Harness) -> None:
    """Before any run: none. After one: the summary, with the CSV, in an ephemeral answer."""
    payload = await backfill(bot, "status")
    await bot.answer_of(payload, "No backfill has run")
    said(bot.fake, TEXT, ALICE_ID, "", image(bot.fake, "x.png"), minute=0)
    start = await backfill(bot, "start")
    await bot.answer_of(start, "Backfill started")
    await ended(bot)
    status = await backfill(bot, "status")
    answer = await bot.answer_of(status, "is finished")
    assert ephemeral(bot, status)
    assert [r["filename"] for r in rows_of(answer)] == ["x.png"]


async def test_closed_dms_leave_the_reports_to_status(bot: Harness) -> None:
    """The owner's DMs are closed: start says how to open them, and status gives the summary
    and the CSV that a DM would have."""
    bot.fake.close_dms(OWNER_ID)
    said(bot.fake, TEXT, ALICE_ID, "", image(bot.fake, "x.png"), minute=0)
    start = await backfill(bot, "start")
    await bot.answer_of(start, "cannot write to you privately")
    await ended(bot)
    status = await backfill(bot, "status")
    answer = await bot.answer_of(status, "is finished")
    assert [r["outcome"] for r in rows_of(answer)] == ["uploaded"]


async def test_progress_is_one_dm_edited_in_place(bot: Harness) -> None:
    """The DM's progress message is edited as pages are read (one message, not many), then
    the summary comes as a message of its own."""
    author = bot.fake.user(ALICE_ID, "user0")

    def files(n: int) -> list[JSON]:
        return [image(bot.fake, f"p{n}.png")] if n % 5 == 0 else []

    bot.fake.seed_history(TEXT, author, 120, since=SINCE, attachments=files)
    payload = await backfill(bot, "start")
    await bot.answer_of(payload, "Backfill started")
    await csv_sent(bot, timeout=60)
    progress, summary = dms(bot.fake)
    assert "Backfill of #art: running." in progress
    assert "100 messages read: 20 uploaded" in progress
    assert "120 messages read: 24 uploaded" in summary
    edits = [
        r for r in bot.fake.requests if r.method == "PATCH" and "100 messages read" in str(r.json)
    ]
    assert len(edits) == 1


async def test_a_second_run_goes_on_after_the_first(bot: Harness) -> None:
    """A run without ``since`` after a finished one reads only what was posted since."""
    said(bot.fake, TEXT, ALICE_ID, "", image(bot.fake, "one.png"), minute=0)
    await bot.answer_of(await backfill(bot, "start"), "Backfill started")
    first = await ended(bot)
    await csv_sent(bot)
    later = bot.fake.message_create(
        TEXT, bot.fake.user(ALICE_ID, "user0"), attachments=[image(bot.fake, "two.png")]
    )
    reads_before = len(history_reads(bot.fake))

    await bot.answer_of(await backfill(bot, "start"), "Backfill started")
    second = await bot.fake.wait_for(
        lambda r: bool(r.files) and "two.png" in r.files[0].data.decode(), timeout=20
    )
    assert [r["filename"] for r in rows_of(second)] == ["two.png"]
    assert history_reads(bot.fake)[reads_before]["after"] == first.cursor
    assert (await record_of(bot)).cursor == later["id"]
    assert len(bot.chevereto.images) == 2


@pytest.mark.parametrize(
    "bot", [{"default_api_key": OTHER_KEY}], indirect=True, ids=["shared-key-set"]
)
async def test_files_already_mirrored_are_listed_with_their_links(bot: Harness) -> None:
    """A photo mirrored when it was posted is not sent again: its row says already-rehosted
    and carries the links of that upload."""
    await bot.core.store.keys.link(discord_user(ALICE_ID), OTHER_KEY)
    await bot.core.store.chats.set_mirror(chat(), True, discord_user(OWNER_ID))
    attachment = image(bot.fake, "live.png")
    message = bot.fake.message_create(
        TEXT, bot.fake.user(ALICE_ID, "user0"), attachments=[attachment]
    )
    await bot.fake.dispatch("MESSAGE_CREATE", message)
    await eventually(lambda: len(bot.chevereto.images) == 1, within=10)
    (mirrored,) = bot.chevereto.images.values()
    await eventually(lambda: _recorded(bot), within=10)

    await bot.answer_of(await backfill(bot, "start"), "Backfill started")
    (row,) = await csv_sent(bot)
    assert row["outcome"] == "already-rehosted"
    assert row["viewer_url"] == f"{bot.chevereto.url}/image/{mirrored.id}"
    assert len(bot.chevereto.upload_requests) == 1


async def _recorded(bot: Harness) -> bool:
    return bool(await bot.core.store.uploads.by_source("discord", _sources(bot)))


def _sources(bot: Harness) -> list[str]:
    return [
        f"{m['id']}:{a['id']}" for m in bot.fake.history(TEXT) for a in m.get("attachments", [])
    ]


@pytest.mark.parametrize("bot", [{"backfill_concurrency": 1}], indirect=True, ids=["one-lane"])
async def test_the_flood_limit_pauses_once_and_start_resumes(bot: Harness) -> None:
    """The host's flood limit: the backfill pauses (the owner hears it once, no row failed),
    and start again goes on where it paused, to the end."""
    for n in range(4):
        said(bot.fake, TEXT, ALICE_ID, "", image(bot.fake, f"p{n}.png"), minute=n)
    bot.chevereto.error_next(130, "Flooding detected. Try again later.")
    payload = await backfill(bot, "start")
    await bot.answer_of(payload, "Backfill started")

    async def paused() -> bool:
        return (await record_of(bot)).state == "paused"

    await eventually(paused, within=10)
    await asyncio.sleep(0.5)
    assert len([d for d in dms(bot.fake) if "flood limit" in d]) == 1
    record = await record_of(bot)
    assert (record.counts.messages, record.counts.failed) == (0, 0)
    assert bot.chevereto.images == {}

    resumed = await backfill(bot, "start")
    await bot.answer_of(resumed, "goes on where it paused")
    rows = await csv_sent(bot)
    assert [r["outcome"] for r in rows] == ["uploaded"] * 4
    assert len(bot.chevereto.images) == 4


@pytest.mark.parametrize(
    "bot", [{"upload_concurrency": 2, "backfill_concurrency": 2}], indirect=True, ids=["2-of-2"]
)
async def test_a_live_upload_goes_before_the_backfills_next(bot: Harness) -> None:
    """The backfill holds both upload slots of a slow host; Alice's /upload waits for the first
    slot that frees and takes it: it reaches the host before the backfill's third file."""
    bot.chevereto.delay = 1.0
    for n in range(6):
        said(bot.fake, TEXT, BOB_ID, "", image(bot.fake, f"p{n}.png"), minute=n)
    await bot.answer_of(await backfill(bot, "start"), "Backfill started")
    await eventually(lambda: len(bot.chevereto.upload_requests) == 2, within=10)

    await bot.core.store.keys.link(discord_user(ALICE_ID), OTHER_KEY)
    live = bot.fake.attachment_option("file", image(bot.fake, "live.png"))
    payload = await bot.slash("upload", live, channel_id=TEXT, guild_id=GUILD)
    await bot.answer_of(payload, "Short link", timeout=20)

    names = [r.file_name for r in bot.chevereto.upload_requests]
    assert sorted(names[:2]) == ["p0.png", "p1.png"]
    assert names[2] == "live.png"


@pytest.mark.parametrize("bot", [{"backfill_concurrency": 1}], indirect=True, ids=["one-lane"])
async def test_a_rejected_key_pauses_and_start_resumes_with_the_new_one(bot: Harness) -> None:
    """The owner's key stopped working: the backfill pauses at once (no row failed) and says
    to link a valid one; after /link, start goes on."""
    owner = discord_user(OWNER_ID)
    await bot.core.store.keys.link(owner, "chv_9_" + "x" * 128)
    for n in range(3):
        said(bot.fake, TEXT, ALICE_ID, "", image(bot.fake, f"p{n}.png"), minute=n)
    await bot.answer_of(await backfill(bot, "start"), "Backfill started")

    async def paused() -> bool:
        return (await record_of(bot)).state == "paused"

    await eventually(paused, within=10)
    assert [d for d in dms(bot.fake) if "refused your key" in d]
    assert (await record_of(bot)).counts.failed == 0

    await bot.core.store.keys.link(owner, KEY)
    await bot.answer_of(await backfill(bot, "start"), "goes on where it paused")
    rows = await csv_sent(bot)
    assert [r["outcome"] for r in rows] == ["uploaded"] * 3


async def test_discords_rate_limit_on_history_is_waited_out(bot: Harness) -> None:
    """Two 429s on the history read: discord.py waits them out and the backfill ends whole."""
    said(bot.fake, TEXT, ALICE_ID, "", image(bot.fake, "x.png"), minute=0)
    bot.fake.fail("GET", HISTORY_PATH, status=429, retry_after=0.05, times=2)
    await bot.answer_of(await backfill(bot, "start"), "Backfill started")
    rows = await csv_sent(bot)
    assert [r["outcome"] for r in rows] == ["uploaded"]
    statuses = [
        r.status
        for r in bot.fake.requests
        if r.path == f"/channels/{TEXT}/messages" and r.method == "GET"
    ]
    assert statuses[:3] == [429, 429, 200]


async def test_a_thread_is_its_own_channel_with_an_estimate(bot: Harness) -> None:
    """In a thread, the backfill reads that thread (not its parent) and its progress gives the
    thread's message count as an estimate."""
    thread = bot.fake.add_thread(TEXT, name="sketches", at=SINCE)
    await bot.fake.dispatch("THREAD_CREATE", bot.fake.channel(int(thread["id"])))
    said(bot.fake, TEXT, ALICE_ID, "", image(bot.fake, "parent.png"), minute=0)
    said(bot.fake, int(thread["id"]), ALICE_ID, "", image(bot.fake, "in-thread.png"), minute=1)
    said(bot.fake, int(thread["id"]), BOB_ID, "words", minute=2)

    payload = await backfill(bot, "start", channel=int(thread["id"]))
    await bot.answer_of(payload, "Backfill started")
    rows = await csv_sent(bot)
    assert [r["filename"] for r in rows] == ["in-thread.png"]
    assert "2 messages read of about 2" in dms(bot.fake)[-1]
    assert history_reads(bot.fake, TEXT) == []


async def test_the_outage_rule_pauses_and_the_hosts_return_resumes(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """The host is cut off: no row fails, the owner hears once that the backfill waits for
    the host, and when the host is back the backfill goes on by itself, to its end."""
    add_guild(fake)
    settings = settings_for(chevereto, tmp_path / "data", backfill_concurrency=1)
    tuning = replace(QUICK, host_probe_s=0.1, backfill_progress_s=0.2)
    async with running(settings, discord_for(fake), tuning=tuning) as (core, adapter):
        bot = Harness(fake, chevereto, core, adapter)
        await core.store.keys.link(discord_user(OWNER_ID), KEY)
        for n in range(3):
            said(fake, TEXT, ALICE_ID, "", image(fake, f"p{n}.png"), minute=n)
        chevereto.outage = "cut"
        await bot.answer_of(await backfill(bot, "start"), "Backfill started")

        async def paused() -> bool:
            return (await record_of(bot)).state == "paused"

        await eventually(paused, within=20)
        assert (await record_of(bot)).counts.failed == 0
        chevereto.outage = None
        rows = await csv_sent(bot, timeout=30)
    assert [r["outcome"] for r in rows] == ["uploaded"] * 3
    assert len([d for d in dms(fake) if "the host is down" in d]) == 1
    assert len(chevereto.images) == 3
