"""Secrets sweep: one ``python -m bot`` serving Telegram and Discord at LOG_LEVEL=DEBUG runs every
flow that handles a secret, then every place a secret could leak to is scanned.

Flows: /link in private (a rejected key, then a good one) and in a group (Telegram) or in a
guild and a DM (Discord), uploads in private and in a mirrored group or channel, /history,
and the Delete button flow. Places: the process's real stderr (through ``bot.ops.logs``' handler
and its filter), every file in DATA_DIR, every request the fake Chevereto, Telegram and
Discord received, every message the bot sent.

Neither an API key nor a bot token may appear anywhere, except the key in the X-API-Key
header of an upload and the tokens where the platforms require them (the Bot API URL path,
Discord's Authorization header). A delete link may appear only in a message to its uploader
alone (a Telegram private chat, a Discord DM or ephemeral response) with previews off.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.chevereto.probe import probe_png
from tests.support.discord_harness import (
    ALICE_ID as DC_ALICE,
)
from tests.support.discord_harness import (
    BOB_ID as DC_BOB,
)
from tests.support.discord_harness import (
    CHANNEL,
    EPHEMERAL,
    GUILD,
    OWNER_ID,
    SUPPRESS_EMBEDS,
    Harness,
    buttons,
)
from tests.support.fakes.chevereto import UPLOAD_PATH, FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord
from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.process import BotProcess
from tests.support.waiting import eventually

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

TG_TOKEN = "7301234570:AAH-sweep-telegram-token-0123456789abcdef"
DC_TOKEN = "MTEyMzQ1Njc4OTAxMjM0NTY3OA.GswEEp.sweep-discord-token-0123456789abcd"
TG_ALICE, TG_BOB, TG_GROUP = 5001, 5002, -1005005
TG_ALICE_KEY = "chv_11_" + "a1" * 64
TG_BOB_KEY = "5f1e0c9a8b7d6e5f4a3b2c1d0e9f8a7b"  # a key of an older site: no chv_ prefix
DC_ALICE_KEY = "chv_12_" + "b2" * 64
DC_BOB_KEY = "chv_13_" + "c3" * 64
DC_OWNER_KEY = "chv_14_" + "d4" * 64
KEYS = {
    TG_ALICE_KEY: ("telegram", TG_ALICE),
    TG_BOB_KEY: ("telegram", TG_BOB),
    DC_ALICE_KEY: ("discord", DC_ALICE),
    DC_BOB_KEY: ("discord", DC_BOB),
    DC_OWNER_KEY: ("discord", OWNER_ID),
}
WRONG_KEY = "0123456789abcdef0123456789abcdef"  # a key the host rejects
SECRETS = [*KEYS, WRONG_KEY, TG_TOKEN, TG_TOKEN.split(":")[1], DC_TOKEN]
DELETE_LINK = re.compile(r"https?://[^\s\"'\\]+/image/([A-Za-z0-9]+)/delete/([A-Za-z0-9]+)")
Owner = tuple[str, int]


@dataclass
class Sweep:
    """What the flows left behind, for the scans."""

    chevereto: FakeChevereto
    telegram: FakeTelegram
    discord: FakeDiscord
    stderr: str
    data_dir: Path
    owners: dict[str, Owner] = field(default_factory=dict)
    """Image id → (platform, user id) of its uploader."""
    interactions: dict[str, int] = field(default_factory=dict)
    """Interaction token → the user who caused it."""
    dms: dict[int, int] = field(default_factory=dict)
    """Discord DM channel id → its user."""


def leaked(text: str) -> list[str]:
    """The secrets (keys, tokens) found in ``text``."""
    return [secret for secret in SECRETS if secret in text]


def delete_links(text: str) -> list[tuple[str, str]]:
    return DELETE_LINK.findall(text)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sweep(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sweep]:
    root = tmp_path_factory.mktemp("sweep")
    async with (
        FakeChevereto() as chevereto,
        FakeTelegram(token=TG_TOKEN) as telegram,
        FakeDiscord(token=DC_TOKEN) as discord_,
    ):
        for key, (platform, user_id) in KEYS.items():
            chevereto.add_key(key, user=f"{platform}:{user_id}")
        members = [discord_.user(i, name=f"user{i % 1000}") for i in (DC_ALICE, DC_BOB, OWNER_ID)]
        discord_.add_guild(GUILD, owner_id=OWNER_ID, channels=[CHANNEL], members=members)
        env = {
            "CHEVERETO_URL": chevereto.url,
            "TELEGRAM_BOT_TOKEN": TG_TOKEN,
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_FILE_URL": telegram.file_url,
            "DISCORD_BOT_TOKEN": DC_TOKEN,
            "DISCORD_API_URL": discord_.api_url,
            "DATA_DIR": str(root / "data"),
            "LOG_LEVEL": "DEBUG",
        }
        async with BotProcess(env, root) as bot:
            await telegram.wait_for_call("getUpdates", timeout=30)
            await eventually(lambda: bool(discord_.identifies), within=30)
            swept = Sweep(chevereto, telegram, discord_, "", root / "data")
            await telegram_flows(swept)
            await discord_flows(swept)
            assert await bot.stop() == 0
        assert discord_.errors == []
        swept.stderr = bot.stderr
        yield swept


# --- the flows ---------------------------------------------------------------------------


def _snapshot_owners(sweep: Sweep) -> None:
    for image in sweep.chevereto.images.values():
        platform, _, user_id = image.owner.partition(":")
        sweep.owners[image.id] = (platform, int(user_id))


async def telegram_flows(sweep: Sweep) -> None:
    telegram = sweep.telegram
    alice = telegram.user(TG_ALICE, first_name="Alice")
    bob = telegram.user(TG_BOB, first_name="Bob")
    group = telegram.group_chat(TG_GROUP)
    telegram.set_chat_member(TG_GROUP, telegram.bot_id, "administrator")
    telegram.set_chat_member(TG_GROUP, TG_BOB, "administrator")

    async def say(chat: dict[str, Any], user: dict[str, Any], text: str, wait_in: int, needle: str):
        telegram.push_update(telegram.message_update(chat, user, text=text))
        return await to(wait_in, needle)

    async def to(chat_id: int, needle: str, count: int = 1) -> dict[str, Any]:
        """The ``count``-th message to ``chat_id`` holding ``needle``, once it was sent."""

        def matching() -> list[dict[str, Any]]:
            return [
                m for m in telegram.sent if m["chat_id"] == chat_id and needle in (m["text"] or "")
            ]

        await telegram.wait_for(lambda _: len(matching()) >= count, timeout=20)
        return matching()[count - 1]

    def photo(chat: dict[str, Any], user: dict[str, Any]) -> None:
        ref = telegram.add_file(probe_png(), mime_type="image/png")
        telegram.push_update(telegram.message_update(chat, user, photo=ref))

    await say(telegram.private_chat(alice), alice, f"/link {WRONG_KEY}", TG_ALICE, "not linked")
    await say(telegram.private_chat(alice), alice, f"/link {TG_ALICE_KEY}", TG_ALICE, "is linked")
    await say(group, bob, f"/link {TG_BOB_KEY}", TG_GROUP, "private chat")
    await say(telegram.private_chat(bob), bob, f"/link {TG_BOB_KEY}", TG_BOB, "is linked")
    await say(group, bob, "/mirror on", TG_GROUP, "Mirroring is on")
    photo(telegram.private_chat(alice), alice)
    await to(TG_ALICE, "/delete/")
    photo(group, alice)
    await to(TG_GROUP, "/image/")
    await to(TG_ALICE, "/delete/", 2)
    photo(telegram.private_chat(bob), bob)
    await to(TG_BOB, "/delete/")
    await say(telegram.private_chat(alice), alice, "/history", TG_ALICE, "Your last uploads")
    await say(group, alice, "/history", TG_GROUP, "I sent your history")
    await to(TG_ALICE, "Your last uploads", 2)
    _snapshot_owners(sweep)
    secret = next(m for m in telegram.sent if "/delete/" in (m["text"] or ""))
    delete = next(
        b for row in secret["reply_markup"]["inline_keyboard"] for b in row if "callback_data" in b
    )
    telegram.push_update(telegram.callback_query(alice, secret, delete["callback_data"]))
    ask = await to(TG_ALICE, "cannot be undone")
    confirm = next(
        b["callback_data"]
        for row in ask["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith("delok:")
    )
    telegram.push_update(telegram.callback_query(alice, ask, confirm))
    await to(TG_ALICE, "is deleted from the host")


async def discord_flows(sweep: Sweep) -> None:
    fake = sweep.discord
    bot = Harness(fake, sweep.chevereto, None, None)  # type: ignore[arg-type]
    for user_id in (DC_ALICE, DC_BOB):
        dm = fake.snowflake()
        fake.message_create(dm, bot.user(user_id), content="hello")  # opens the DM channel
        sweep.dms[dm] = user_id
    dm_bob = next(dm for dm, user in sweep.dms.items() if user == DC_BOB)

    async def slash(name: str, *options: Any, user_id: int, needle: str, **extra: Any) -> Any:
        payload = await bot.slash(name, *options, user_id=user_id, **extra)
        sweep.interactions[payload["token"]] = user_id
        return await bot.answer_of(payload, needle, timeout=20)

    def key(value: str) -> dict[str, Any]:
        return {"name": "api_key", "type": 3, "value": value}

    await slash("link", key(DC_ALICE_KEY), user_id=DC_ALICE, needle="is linked")
    await slash(
        "link",
        key(DC_BOB_KEY),
        user_id=DC_BOB,
        needle="is linked",
        channel_id=dm_bob,
        guild_id=None,
    )
    await slash("link", key(DC_OWNER_KEY), user_id=OWNER_ID, needle="is linked")
    on = {"name": "state", "type": 3, "value": "on"}
    await slash("mirror", on, user_id=OWNER_ID, needle="Mirroring is on")
    upload = fake.attachment_option("file", bot.image("upload.png"))
    await slash("upload", upload, user_id=DC_ALICE, needle="/delete/")
    await bot.post(dm_bob, bot.image("dm.png"), user_id=DC_BOB)
    await bot.answered(lambda r: r.path == f"/channels/{dm_bob}/messages" and _has_link(r.json))
    await bot.post(CHANNEL, bot.image("mirrored.png"), user_id=DC_ALICE)
    await bot.answered(
        lambda r: r.path == f"/channels/{CHANNEL}/messages" and "/image/" in str(r.json)
    )
    await eventually(lambda: _discord_secrets(sweep) >= 3, within=20)
    await slash("history", user_id=DC_ALICE, needle="Your last uploads")
    _snapshot_owners(sweep)
    secret = next(
        m
        for m in fake.messages.values()
        if "/delete/" in m["content"] and "upload.png" in m["content"]
    )
    click = await bot.click(buttons(secret)[0]["custom_id"], secret, user_id=DC_ALICE)
    sweep.interactions[click["token"]] = DC_ALICE
    question = await bot.answer_of(click, "This cannot be undone", timeout=20)
    confirm = next(b for b in buttons(question.json) if b["custom_id"].startswith("delok:"))
    asked = next(m for m in fake.messages.values() if "cannot be undone" in m["content"])
    done = await bot.click(confirm["custom_id"], asked, user_id=DC_ALICE)
    sweep.interactions[done["token"]] = DC_ALICE
    await bot.answer_of(done, "is deleted", timeout=20)


def _has_link(body: Any) -> bool:
    return "/delete/" in str(body)


def _discord_secrets(sweep: Sweep) -> int:
    return sum(_has_link(r.json) for r in sweep.discord.requests if r.method == "POST")


# --- the scans ---------------------------------------------------------------------------


def _lines_with_secrets(lines: Iterable[str]) -> list[str]:
    return [line for line in lines if leaked(line) or "/delete/" in line]


async def test_the_debug_log_holds_no_key_token_or_delete_link(sweep: Sweep) -> None:
    """Every line the bot logged at DEBUG is free of keys, tokens and delete links."""
    lines = sweep.stderr.splitlines()
    assert any(" DEBUG " in line for line in lines)  # DEBUG really was on
    assert _lines_with_secrets(lines) == []
    assert [h for h in _all_delete_hashes(sweep) if h in sweep.stderr] == []


def _all_delete_hashes(sweep: Sweep) -> list[str]:
    found = set()
    for request in sweep.discord.requests:
        found |= {h for _, h in delete_links(str(request.json))}
    for message in sweep.telegram.sent:
        found |= {h for _, h in delete_links(message["text"] or "")}
    assert found, "the flows sent no delete link: the sweep proves nothing"
    return sorted(found)


async def test_data_dir_holds_no_key_token_or_delete_link(sweep: Sweep) -> None:
    """No file in DATA_DIR (the database, its journals, the secret) holds a secret in clear."""
    files = [path for path in sweep.data_dir.rglob("*") if path.is_file()]
    assert files
    hashes = _all_delete_hashes(sweep)
    for path in files:
        content = path.read_bytes()
        assert [s for s in SECRETS if s.encode() in content] == [], path
        assert b"/delete/" not in content, path
        assert [h for h in hashes if h.encode() in content] == [], path


async def test_the_host_sees_keys_only_in_the_upload_header(sweep: Sweep) -> None:
    """Chevereto gets each key in X-API-Key of uploads, and nowhere else, and no token at all."""
    requests = sweep.chevereto.requests
    uploads = sweep.chevereto.upload_requests  # not the key-less start-up check
    assert {r.headers.get("x-api-key") for r in uploads} == {*KEYS, WRONG_KEY}
    for request in requests:
        headers = dict(request.headers)
        if request.path == UPLOAD_PATH:
            headers.pop("x-api-key", None)
        else:
            assert "x-api-key" not in headers
        seen = f"{request.path} {request.query} {headers} {request.form}"
        assert leaked(seen) == [], request
        assert not request.key_in_url
        assert "key" not in request.form


async def test_telegram_requests_hold_no_key_or_token(sweep: Sweep) -> None:
    """No call the bot made to Telegram (getUpdates aside) holds a key or the bot token."""
    calls = [c for c in sweep.telegram.calls if c["method"] != "getUpdates"]
    assert calls
    assert [c for c in calls if leaked(str(c["params"]))] == []


async def test_discord_requests_hold_no_key_and_the_token_only_in_authorization(
    sweep: Sweep,
) -> None:
    """No request to Discord holds a key; the token travels only in the Authorization header."""
    for request in sweep.discord.requests:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        seen = f"{request.path} {request.query} {headers} {request.json}"
        assert leaked(seen) == [], f"{request.method} {request.path}"
        authorization = request.headers.get("Authorization")
        assert authorization in (None, f"Bot {DC_TOKEN}")


async def test_telegram_delete_links_go_only_to_their_uploader_without_preview(
    sweep: Sweep,
) -> None:
    """Each Telegram message with a delete link is in its uploader's private chat, preview off."""
    linked = [
        m for m in sweep.telegram.sent if delete_links(str(m["text"]) + str(m["reply_markup"]))
    ]
    assert len(linked) >= 5  # three uploads' links and two /history lists
    for message in linked:
        for image_id, _ in delete_links(str(message["text"])):
            assert sweep.owners[image_id] == ("telegram", message["chat_id"]), message
        assert message["preview_disabled"], message


async def test_discord_delete_links_go_only_to_their_uploader_without_embeds(
    sweep: Sweep,
) -> None:
    """Each Discord message with a delete link is a DM to, or an ephemeral answer for, its
    uploader, with embeds suppressed."""
    linked = [r for r in sweep.discord.requests if delete_links(str(r.json))]
    assert len(linked) >= 4  # three uploads' links and a /history list
    for request in linked:
        assert request.method == "POST", request.path
        body = (
            request.json.get("data") or {} if request.path.endswith("/callback") else request.json
        )
        flags = body.get("flags") or 0
        recipient = _discord_recipient(sweep, request.path, flags)
        for image_id, _ in delete_links(str(request.json)):
            assert sweep.owners[image_id] == ("discord", recipient), request.path
        assert flags & SUPPRESS_EMBEDS, request.path


def _discord_recipient(sweep: Sweep, path: str, flags: int) -> int:
    """Who alone can see a message sent to ``path``: a DM's user, an ephemeral answer's caller."""
    dm = re.fullmatch(r"/channels/(\d+)/messages", path)
    if dm is not None:
        assert int(dm.group(1)) in sweep.dms, f"a delete link went to channel {dm.group(1)}"
        return sweep.dms[int(dm.group(1))]
    token = re.fullmatch(r"/(?:interactions/\d+|webhooks/\d+)/([^/]+)(?:/callback)?", path)
    assert token is not None, f"a delete link went to {path}"
    assert flags & EPHEMERAL, f"a delete link in a visible interaction answer: {path}"
    return sweep.interactions[token.group(1)]


async def test_no_message_the_bot_sent_holds_a_key_or_token(sweep: Sweep) -> None:
    """Every message the bot sent, on both platforms, as it reads now, holds no key nor token."""
    telegram = [f"{m['text']} {m['reply_markup']}" for m in sweep.telegram.sent]
    bot_id = str(sweep.discord.bot_id)
    discord_ = [
        f"{m['content']} {m['components']}"
        for m in sweep.discord.messages.values()
        if m["author"]["id"] == bot_id
    ]
    assert telegram
    assert discord_
    assert [text for text in [*telegram, *discord_] if leaked(text)] == []
