"""Hostile input at Telegram's edge, through the real python-telegram-bot: what getFile names,
what a document is called, what /link and an inline query carry. Each gets one clear answer,
and nothing of the bot's own files, nor a request, goes where it should not."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from bot.chevereto.probe import probe_png
from tests.conftest import KEY
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.running import QUICK, running
from tests.support.telegram_harness import ALICE_ID, all_answered, telegram_for, user_ref
from tests.support.waiting import eventually

SECRET_BYTES = b"not a picture: the bot's own secret"
REFUSED = "put that file where I may not read it"
DOWNLOAD_FAILED = "could not download that file from the chat"
OURS = ("bot", "adapters")


async def send_document(
    core: Any, telegram: FakeTelegram, data: bytes, name: str, **kwargs: Any
) -> str:
    """Alice, who linked a key, sends ``data`` as a PNG document called ``name``; its file id."""
    await core.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    ref = telegram.add_file(data, file_name=name, mime_type="image/png")
    update = telegram.message_update(telegram.private_chat(alice), alice, document=ref, **kwargs)
    telegram.push_update(update)
    return ref.file_id


async def final_text(core: Any, telegram: FakeTelegram, needle: str) -> str:
    message = await telegram.wait_for(lambda m: needle in (m["text"] or ""), timeout=20)
    await eventually(lambda: all_answered(core))
    return str(message["text"])


def host_got(chevereto: FakeChevereto, data: bytes) -> bool:
    digest = hashlib.md5(data).hexdigest()  # noqa: S324 - the fake's fingerprint, not security
    return any(r.file_md5 == digest for r in chevereto.upload_requests)


def secret_file(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "secret.key"
    path.write_bytes(SECRET_BYTES)
    return path


# --- what getFile names ----------------------------------------------------------------------


async def test_without_local_mode_an_absolute_path_is_never_read(
    bot, telegram, chevereto, settings
):
    """getFile names a file of the bot's own DATA_DIR: without local mode the bot asks the file
    URL for it (which serves no such file) and never reads the disk; the host gets nothing."""
    path = secret_file(settings.data_dir)
    file_id = await send_document(bot, telegram, probe_png(), "x.png")
    telegram.file_paths[file_id] = str(path)
    text = await final_text(bot, telegram, DOWNLOAD_FAILED)
    assert "could not download" in text
    assert chevereto.upload_requests == []
    assert any(str(path).lstrip("/") in asked for asked in telegram.paths_asked)


@pytest.fixture
def local_root(tmp_path: Path) -> Path:
    root = tmp_path / "bot-api-files"
    root.mkdir()
    return root


async def local_bot(telegram: FakeTelegram, settings: Any, local_root: Path | None) -> Any:
    telegram.local_mode = True
    platform = telegram_for(telegram, local_mode=True, local_root=local_root)
    return running(settings, platform, tuning=QUICK)


async def test_local_mode_reads_a_file_under_the_local_root(
    telegram, chevereto, settings, local_root
):
    """TELEGRAM_LOCAL_ROOT set: a path inside it is read and uploaded, with no download."""
    data = probe_png()
    inside = local_root / "documents" / "file_1.png"
    inside.parent.mkdir()
    inside.write_bytes(data)
    async with await local_bot(telegram, settings, local_root) as core:
        file_id = await send_document(core, telegram, data, "x.png")
        telegram.file_paths[file_id] = str(inside)
        await final_text(core, telegram, "/delete/")
    assert host_got(chevereto, data)
    assert telegram.transfers == []


@pytest.mark.parametrize("escape", ["outside", "dotdot", "symlink"])
async def test_local_mode_refuses_a_path_that_leaves_the_local_root(
    telegram, chevereto, settings, local_root, escape
):
    """A path outside TELEGRAM_LOCAL_ROOT, one that climbs out with ``..``, and a symlink inside
    it that points out: each refused in one sentence, nothing read nor sent to the host."""
    outside = secret_file(local_root.parent / "elsewhere")
    if escape == "outside":
        named = str(outside)
    elif escape == "dotdot":
        named = f"{local_root}/../elsewhere/secret.key"
    else:
        link = local_root / "innocent.png"
        os.symlink(outside, link)
        named = str(link)
    async with await local_bot(telegram, settings, local_root) as core:
        file_id = await send_document(core, telegram, probe_png(), "x.png")
        telegram.file_paths[file_id] = named
        text = await final_text(core, telegram, REFUSED)
    assert "Tell the bot's admin" in text
    assert chevereto.upload_requests == []


async def test_local_mode_without_a_root_warns_and_never_reads_data_dir(
    telegram, chevereto, settings, tmp_path, caplog
):
    """No TELEGRAM_LOCAL_ROOT: a WARNING at start names it; a file elsewhere is still read (local
    set-ups of before keep working); DATA_DIR's own files are refused."""
    caplog.set_level(logging.WARNING, logger="adapters.telegram.files")
    data = probe_png()
    elsewhere = tmp_path / "bot-api" / "photo.png"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(data)
    secret = secret_file(settings.data_dir)
    async with await local_bot(telegram, settings, None) as core:
        assert any("TELEGRAM_LOCAL_ROOT" in r.getMessage() for r in caplog.records)
        first = await send_document(core, telegram, data, "x.png")
        telegram.file_paths[first] = str(elsewhere)
        await final_text(core, telegram, "/delete/")
        second = await send_document(core, telegram, probe_png(), "y.png")
        telegram.file_paths[second] = str(secret)
        await final_text(core, telegram, REFUSED)
    assert host_got(chevereto, data)
    assert not any(r.file_size == len(SECRET_BYTES) for r in chevereto.upload_requests)


# --- what a document is called ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "arrives"),
    [
        ("../../../../tmp/x.png", "x.png"),
        ("C:\\Users\\me\\shot.png", "shot.png"),
        ("bad\x00name\x07.png", "badname.png"),
        ("快照 2024.png", "快照 2024.png"),
        ('say "cheese".png', "say %22cheese%22.png"),
        ("../", "image.png"),
        ("a" * 300 + ".png", "a" * 196 + ".png"),
    ],
)
async def test_a_document_name_reaches_the_host_as_a_safe_base_name(
    bot, telegram, chevereto, sent, arrives
):
    """Folders, drive letters and control characters go, every script's letters and quotes stay
    (escaped in the header), a long name is cut to 200 keeping its ending, an empty one gets a
    default: the upload goes through under that name, and the answer names it so."""
    await send_document(bot, telegram, probe_png(), sent)
    text = await final_text(bot, telegram, "/delete/")
    (request,) = chevereto.upload_requests
    assert request.file_name == arrives
    assert arrives.replace("%22", '"') in text


# --- /link and inline queries ----------------------------------------------------------------


async def test_a_link_argument_over_200_characters_is_no_key(bot, telegram, chevereto):
    """/link with 10 KB: refused at once as not an API key, and the host is never asked."""
    alice = telegram.user(ALICE_ID)
    update = telegram.message_update(
        telegram.private_chat(alice), alice, text="/link " + "k" * 10_000
    )
    telegram.push_update(update)
    answer = await telegram.wait_for(lambda m: "not an API key" in (m["text"] or ""))
    assert "at most 200 characters" in answer["text"]
    assert chevereto.upload_requests == []
    assert await bot.store.keys.of(user_ref(ALICE_ID)) is None


async def test_a_huge_inline_query_is_cut_to_256_characters(bot, telegram, chevereto, caplog):
    """5,000 words after "cat": only the first 256 characters are searched (the upload titled
    "cat" is found; with "dog" at the end it would not be), and no log line holds the rest (the
    libraries' DEBUG lines aside, which the bot keeps off)."""
    telegram.inline_mode = True
    caplog.set_level(logging.DEBUG)
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    photo = telegram.add_file(probe_png(), mime_type="image/png")
    chat = telegram.private_chat(alice)
    telegram.push_update(telegram.message_update(chat, alice, photo=photo, caption="cat"))
    await final_text(bot, telegram, "/delete/")
    query = "cat" + " " * 300 + " ".join(["dog"] * 5000)
    update = telegram.inline_query_update(alice, query)
    telegram.push_update(update)
    answer = await telegram.inline_answer(update)
    assert len(answer["results"]) == 1
    shown = [r for r in caplog.records if r.name.startswith(OURS) or r.levelno >= logging.INFO]
    assert all("dog dog" not in record.getMessage() for record in shown)
