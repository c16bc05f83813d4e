"""The fake Discord serves a channel's past as Discord does, and discord.py reads it unchanged:
history pages, fresh and stale attachment links, permissions, threads, forums and files."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord.http import Route

from tests.support.discord_client import (
    CHANNEL,
    GUILD_A,
    USER,
    Bot,
    bot_fixture,  # noqa: F401 - a fixture
    fake_fixture,  # noqa: F401 - a fixture
    running,
)
from tests.support.fakes.discord_api import HISTORY_PATH, FakeDiscord
from tests.support.fakes.discord_history import READ_MESSAGE_HISTORY, VIEW_CHANNEL

JSON = dict[str, Any]
GUILD = 1002 << 22
# Ids as long as Discord's: discord.py only parses mentions of 15 to 20 digits.
TEXT = 1_100_000_000_000_000_000
FORUM = 1_100_000_000_000_000_010
ROLE = 1_100_000_000_000_000_020
SINCE = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def alice(fake: FakeDiscord) -> JSON:
    return fake.user(USER, name="alice")


def add_guild(fake: FakeDiscord, *channels: int | JSON, bot_roles: tuple[int, ...] = ()) -> None:
    """Guild GUILD with TEXT and ``channels``, alice, and the bot: with ``bot_roles`` only when
    given, else with its managed role."""
    members = [fake.member(alice(fake))]
    if bot_roles:
        members.append(fake.member(fake.bot_user, roles=bot_roles))
    roles = [{"id": role, "name": f"role-{role}"} for role in bot_roles]
    fake.add_guild(
        GUILD, owner_id=USER + 1, channels=[TEXT, *channels], members=members, roles=roles
    )


@pytest.fixture(name="client")
async def client_fixture(fake: FakeDiscord) -> AsyncIterator[Bot]:
    """A client connected after guild GUILD (TEXT only) was added."""
    add_guild(fake)
    async with running(Bot()) as client:
        yield client


def text_channel(client: discord.Client, channel_id: int = TEXT) -> discord.TextChannel:
    channel = client.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


def history_reads(fake: FakeDiscord) -> list[dict[str, str]]:
    """The queries of the history reads made so far."""
    return [
        dict(r.query)
        for r in fake.requests
        if r.method == "GET" and re.match(HISTORY_PATH, r.path) and r.status == 200
    ]


def image(fake: FakeDiscord, name: str = "cat.png", **options: Any) -> JSON:
    return fake.add_attachment(PNG, filename=name, content_type="image/png", **options)


# -- history pages ---------------------------------------------------------


async def test_history_after_a_date_pages_oldest_first_in_three_reads(
    fake: FakeDiscord, client: Bot
) -> None:
    """history(after=..., oldest_first=True) reads 250 messages in order, 100 at a time."""
    seeded = fake.seed_history(TEXT, alice(fake), 250, since=SINCE)
    after = SINCE - dt.timedelta(seconds=1)
    history = text_channel(client).history(limit=None, after=after, oldest_first=True)
    read = [m async for m in history]
    assert [m.id for m in read] == [int(m["id"]) for m in seeded]
    assert [(q["limit"], q["after"]) for q in history_reads(fake)] == [
        ("100", str(discord.utils.time_snowflake(after, high=True))),
        ("100", seeded[99]["id"]),
        ("100", seeded[199]["id"]),
    ]


async def test_history_without_anchor_pages_newest_first_with_before(
    fake: FakeDiscord, client: Bot
) -> None:
    """history(limit=120) reads the newest 100, then the 20 before the oldest of those."""
    seeded = fake.seed_history(TEXT, alice(fake), 150, since=SINCE)
    read = [m.id async for m in text_channel(client).history(limit=120)]
    assert read == [int(m["id"]) for m in reversed(seeded[30:])]
    assert [q.get("before") for q in history_reads(fake)] == [None, seeded[50]["id"]]


async def test_history_around_a_message_holds_it_and_its_neighbours(
    fake: FakeDiscord, client: Bot
) -> None:
    """around=message with limit 5 answers two newer messages, the message and two older."""
    seeded = fake.seed_history(TEXT, alice(fake), 20, since=SINCE)
    middle = discord.Object(id=int(seeded[10]["id"]))
    read = [m.id async for m in text_channel(client).history(limit=5, around=middle)]
    assert read == [int(m["id"]) for m in reversed(seeded[8:13])]


async def test_history_holds_seeded_posted_and_bot_messages_by_date(
    fake: FakeDiscord, client: Bot
) -> None:
    """A user's post, older seeded messages and the bot's own post come back in date order."""
    posted = fake.message_create(TEXT, alice(fake), content="now")
    old = fake.history_message(TEXT, alice(fake), content="old", at=SINCE)
    own = await text_channel(client).send("mine")
    read = [m.id async for m in text_channel(client).history(limit=None, oldest_first=True)]
    assert read == [int(old["id"]), int(posted["id"]), own.id]


async def test_seeded_ids_encode_their_dates_and_grow_within_a_millisecond(
    fake: FakeDiscord,
) -> None:
    """Messages seeded at one instant get distinct, growing ids whose time is that instant."""
    first, second = fake.seed_history(TEXT, alice(fake), 2, since=SINCE, every=dt.timedelta(0))
    ids = [int(first["id"]), int(second["id"])]
    assert ids[0] < ids[1]
    assert {discord.utils.snowflake_time(i) for i in ids} == {SINCE}
    assert first["timestamp"] == SINCE.isoformat()


@pytest.mark.parametrize("limit", [0, 101])
async def test_a_limit_out_of_range_is_refused(fake: FakeDiscord, bot: Bot, limit: int) -> None:
    """A history read with a limit outside 1..100 is a 400 Invalid Form Body."""
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.logs_from(CHANNEL, limit)
    assert (caught.value.status, caught.value.code) == (400, 50035)


async def test_a_read_without_limit_answers_fifty(fake: FakeDiscord, bot: Bot) -> None:
    """Without ``limit`` a history read answers the 50 newest messages."""
    seeded = fake.seed_history(CHANNEL, alice(fake), 60, since=SINCE)
    page = await bot.http.request(
        Route("GET", "/channels/{channel_id}/messages", channel_id=CHANNEL)
    )
    assert [m["id"] for m in page] == [m["id"] for m in reversed(seeded[10:])]


async def test_two_anchors_in_one_read_are_refused(fake: FakeDiscord, bot: Bot) -> None:
    """before and after together are a 400, since Discord takes only one of them."""
    route = Route("GET", "/channels/{channel_id}/messages", channel_id=CHANNEL)
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.request(route, params={"before": 5 << 22, "after": 1 << 22})
    assert (caught.value.status, caught.value.code) == (400, 50035)


async def test_a_rate_limited_history_read_is_waited_out(fake: FakeDiscord, client: Bot) -> None:
    """Two 429s on history reads make discord.py wait retry_after and read again."""
    seeded = fake.seed_history(TEXT, alice(fake), 3, since=SINCE)
    fake.fail("GET", HISTORY_PATH, status=429, retry_after=0.05, times=2)
    read = [m.id async for m in text_channel(client).history(limit=10)]
    assert read == [int(m["id"]) for m in reversed(seeded)]
    statuses = [r.status for r in fake.requests if re.match(HISTORY_PATH, r.path)]
    assert statuses == [429, 429, 200]


# -- attachment links ------------------------------------------------------


async def test_a_fetched_message_has_fresh_links(fake: FakeDiscord, client: Bot) -> None:
    """GET of a message signs its attachment links anew: another ex/is/hm, and they serve."""
    seeded = fake.history_message(TEXT, alice(fake), attachments=[image(fake)], at=SINCE)
    fetched = await text_channel(client).fetch_message(int(seeded["id"]))
    old, new = seeded["attachments"][0]["url"], fetched.attachments[0].url
    assert (old.split("?")[0], old != new) == (new.split("?")[0], True)
    assert await fetched.attachments[0].read() == PNG


async def test_a_stale_link_is_refused_and_the_refreshed_one_serves(
    fake: FakeDiscord, client: Bot
) -> None:
    """After the links expire, a read link answers 404; the message's fresh link serves."""
    fake.history_message(TEXT, alice(fake), attachments=[image(fake)], at=SINCE)
    (message,) = [m async for m in text_channel(client).history(limit=1)]
    fake.expire_attachment_urls()
    with pytest.raises(discord.NotFound):
        await message.attachments[0].read()
    fresh = await text_channel(client).fetch_message(message.id)
    assert await fresh.attachments[0].read() == PNG


async def test_a_link_made_stale_from_the_start_is_refused(fake: FakeDiscord, bot: Bot) -> None:
    """add_attachment(expires_at=...) in the past gives a link the CDN answers with 404."""
    attachment = image(fake, expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    message = fake.history_message(CHANNEL, alice(fake), attachments=[attachment])
    (read,) = [m async for m in text_channel(bot, CHANNEL).history(limit=1)]
    with pytest.raises(discord.NotFound):
        await read.attachments[0].read()
    assert message["attachments"][0]["url"] == read.attachments[0].url


async def test_a_deleted_file_is_refused_even_through_a_fresh_link(
    fake: FakeDiscord, bot: Bot
) -> None:
    """delete_attachment makes the CDN answer 404 to every link, the fetched one included."""
    attachment = image(fake)
    message = fake.history_message(CHANNEL, alice(fake), attachments=[attachment])
    fake.delete_attachment(attachment["id"])
    fetched = await text_channel(bot, CHANNEL).fetch_message(int(message["id"]))
    with pytest.raises(discord.NotFound):
        await fetched.attachments[0].read()


async def test_a_link_with_a_forged_signature_is_refused(fake: FakeDiscord, bot: Bot) -> None:
    """A link whose hm does not sign its ex and is answers 404, as an unsigned one does."""
    url = image(fake)["url"]
    forged = re.sub(r"hm=[0-9a-f]+", "hm=" + "0" * 64, url)
    with pytest.raises(discord.NotFound):
        await bot.http.get_from_cdn(forged)
    assert await bot.http.get_from_cdn(url) == PNG


# -- channel kinds and permissions ---------------------------------------------


async def test_an_nsfw_channel_is_nsfw_to_discord_py(fake: FakeDiscord) -> None:
    """A channel added with "nsfw": true is NSFW in the cache and when fetched."""
    add_guild(fake, {"id": TEXT + 1, "nsfw": True})
    async with running(Bot()) as client:
        fetched = await client.fetch_channel(TEXT + 1)
        assert isinstance(fetched, discord.TextChannel)
        assert (text_channel(client, TEXT + 1).is_nsfw(), fetched.is_nsfw()) == (True, True)
        assert not text_channel(client).is_nsfw()


async def test_without_read_message_history_discord_py_knows_and_reads_nothing(
    fake: FakeDiscord,
) -> None:
    """A bot overwrite denying Read Message History shows in permissions_for, and a history
    read answers an empty page, as Discord does."""
    add_guild(fake)
    fake.history_message(TEXT, alice(fake), content="hidden", at=SINCE)
    fake.overwrite(TEXT, fake.bot_id, deny=READ_MESSAGE_HISTORY)
    async with running(Bot()) as client:
        channel = text_channel(client)
        assert not channel.permissions_for(channel.guild.me).read_message_history
        assert [m async for m in channel.history(limit=10)] == []


async def test_without_read_message_history_a_message_cannot_be_fetched(
    fake: FakeDiscord,
) -> None:
    """Fetching one message without Read Message History is 403 Missing Access."""
    add_guild(fake)
    message = fake.history_message(TEXT, alice(fake), at=SINCE)
    fake.overwrite(TEXT, fake.bot_id, deny=READ_MESSAGE_HISTORY)
    async with running(Bot()) as client:
        with pytest.raises(discord.Forbidden) as caught:
            await text_channel(client).fetch_message(int(message["id"]))
    assert caught.value.code == 50001


async def test_without_view_channel_history_is_forbidden(fake: FakeDiscord) -> None:
    """An @everyone overwrite hiding the channel shows in permissions_for; history is 403."""
    add_guild(fake)
    fake.overwrite(TEXT, GUILD, deny=VIEW_CHANNEL, role=True)
    async with running(Bot()) as client:
        channel = text_channel(client)
        assert not channel.permissions_for(channel.guild.me).view_channel
        with pytest.raises(discord.Forbidden) as caught:
            await anext(aiter(channel.history(limit=1)))
    assert caught.value.code == 50001


async def test_a_hidden_channel_cannot_be_fetched(fake: FakeDiscord) -> None:
    """GET of a channel the bot may not view is 403 Missing Access."""
    add_guild(fake)
    fake.overwrite(TEXT, fake.bot_id, deny=VIEW_CHANNEL)
    async with running(Bot()) as client:
        with pytest.raises(discord.Forbidden) as caught:
            await client.fetch_channel(TEXT)
    assert caught.value.code == 50001


async def test_a_role_overwrite_allowing_history_beats_the_everyone_deny(
    fake: FakeDiscord,
) -> None:
    """@everyone denied Read Message History, the bot's role allowed it: the bot reads."""
    add_guild(fake, bot_roles=(ROLE,))
    seeded = fake.history_message(TEXT, alice(fake), at=SINCE)
    fake.overwrite(TEXT, GUILD, deny=READ_MESSAGE_HISTORY, role=True)
    fake.overwrite(TEXT, ROLE, allow=READ_MESSAGE_HISTORY, role=True)
    async with running(Bot()) as client:
        channel = text_channel(client)
        assert channel.permissions_for(channel.guild.me).read_message_history
        assert [m.id async for m in channel.history(limit=10)] == [int(seeded["id"])]


async def test_the_bots_managed_role_grants_its_permissions_and_takes_overwrites(
    fake: FakeDiscord, client: Bot
) -> None:
    """The bot joins with a managed role granting the app's permissions; an overwrite on that
    role takes Read Message History away in discord.py's permissions_for."""
    channel = text_channel(client)
    me = channel.guild.me
    assert (me.guild_permissions.attach_files, channel.guild.self_role is not None) == (True, True)
    fake.overwrite(TEXT, fake.bot_role(GUILD), deny=READ_MESSAGE_HISTORY, role=True)
    updated = asyncio.ensure_future(client.wait_for("guild_channel_update", timeout=5))
    await fake.dispatch("CHANNEL_UPDATE", fake.channel(TEXT))
    await updated
    assert not text_channel(client).permissions_for(me).read_message_history


async def test_an_interactions_app_permissions_follow_the_channels_overwrites(
    fake: FakeDiscord, client: Bot
) -> None:
    """A command in a channel where the bot may not read history says so in app_permissions."""
    fake.overwrite(TEXT, fake.bot_id, deny=READ_MESSAGE_HISTORY)
    seen: asyncio.Future[discord.Permissions] = asyncio.get_running_loop().create_future()

    @client.tree.command(name="where", description="Where")
    async def where(interaction: discord.Interaction) -> None:
        seen.set_result(interaction.app_permissions)
        await interaction.response.send_message("here", ephemeral=True)

    await client.tree.sync()
    await fake.dispatch(
        "INTERACTION_CREATE", fake.slash_interaction("where", user=alice(fake), channel_id=TEXT)
    )
    permissions = await asyncio.wait_for(seen, timeout=5)
    assert (permissions.read_message_history, permissions.attach_files) == (False, True)


async def test_a_thread_has_its_own_history_and_message_count(fake: FakeDiscord) -> None:
    """A thread is its own channel under its parent: its history and count hold its messages."""
    add_guild(fake)
    thread_id = int(fake.add_thread(TEXT, name="talk", at=SINCE)["id"])
    fake.history_message(TEXT, alice(fake), content="in the channel", at=SINCE)
    seeded = fake.seed_history(thread_id, alice(fake), 3, since=SINCE + dt.timedelta(hours=1))
    async with running(Bot()) as client:
        thread = client.get_channel(thread_id)
        assert isinstance(thread, discord.Thread)
        assert (thread.parent_id, thread.message_count) == (TEXT, 3)
        read = [m.id async for m in thread.history(limit=None, oldest_first=True)]
    assert read == [int(m["id"]) for m in seeded]


async def test_a_thread_follows_its_parents_permissions(fake: FakeDiscord) -> None:
    """Read Message History denied on the parent is denied in its thread, to both sides."""
    add_guild(fake)
    thread_id = int(fake.add_thread(TEXT, at=SINCE)["id"])
    fake.history_message(thread_id, alice(fake), at=SINCE)
    fake.overwrite(TEXT, fake.bot_id, deny=READ_MESSAGE_HISTORY)
    async with running(Bot()) as client:
        thread = client.get_channel(thread_id)
        assert isinstance(thread, discord.Thread)
        assert not thread.permissions_for(thread.guild.me).read_message_history
        assert [m async for m in thread.history(limit=10)] == []


async def test_a_forum_posts_first_message_has_the_posts_id(fake: FakeDiscord) -> None:
    """A forum post is a thread of the forum whose first message has its id, left out of
    message_count."""
    add_guild(fake, {"id": FORUM, "type": 15, "nsfw": True})
    post = fake.forum_post(FORUM, alice(fake), content="look", attachments=[image(fake)], at=SINCE)
    reply = fake.history_message(int(post["id"]), alice(fake), at=SINCE + dt.timedelta(hours=1))
    async with running(Bot()) as client:
        thread = client.get_channel(int(post["id"]))
        assert isinstance(thread, discord.Thread)
        assert isinstance(thread.parent, discord.ForumChannel)
        assert (thread.message_count, thread.is_nsfw()) == (1, True)
        read = [m async for m in thread.history(limit=None, oldest_first=True)]
    assert [m.id for m in read] == [thread.id, int(reply["id"])]
    assert (read[0].content, read[0].attachments[0].filename) == ("look", "cat.png")


async def test_an_archived_thread_is_fetched_not_cached(fake: FakeDiscord) -> None:
    """An archived thread is not in GUILD_CREATE, but fetch_channel finds it with its parent."""
    add_guild(fake)
    thread_id = int(fake.add_thread(TEXT, archived=True, at=SINCE)["id"])
    async with running(Bot()) as client:
        assert client.get_channel(thread_id) is None
        fetched = await client.fetch_channel(thread_id)
    assert isinstance(fetched, discord.Thread)
    assert (fetched.parent_id, fetched.archived) == (TEXT, True)


# -- what a message holds --------------------------------------------------


async def test_rest_history_is_blank_without_the_message_content_intent(
    fake: FakeDiscord,
) -> None:
    """An app without Message Content reads guild messages without text or files, except those
    that mention it."""
    add_guild(fake)
    fake.privileged_intents = 0
    plain = fake.history_message(TEXT, alice(fake), content="hi", attachments=[image(fake)])
    mention = f"<@{fake.bot_id}> look"
    to_bot = fake.history_message(TEXT, alice(fake), content=mention, attachments=[image(fake)])
    async with running(Bot(message_content=False)) as client:
        read = {m.id: m async for m in text_channel(client).history(limit=10)}
    assert (read[int(plain["id"])].content, read[int(plain["id"])].attachments) == ("", [])
    assert (read[int(to_bot["id"])].content, len(read[int(to_bot["id"])].attachments)) == (
        mention,
        1,
    )


async def test_rest_reads_leave_out_the_gateways_member_fields(fake: FakeDiscord, bot: Bot) -> None:
    """A guild message read over REST has no ``member`` for its author or its mentions."""
    sent = fake.message_create(CHANNEL, alice(fake), content="hi", guild_id=GUILD_A)
    fake.history_message(CHANNEL, alice(fake), content=f"<@{USER}>")
    page = await bot.http.logs_from(CHANNEL, 10)
    assert "member" in sent
    assert [("member" in m, [u.get("member") for u in m["mentions"]]) for m in page] == [
        (False, [None]),
        (False, []),
    ]


async def test_a_spoiler_attachment_is_named_and_flagged(fake: FakeDiscord, bot: Bot) -> None:
    """add_attachment(spoiler=True) gives a SPOILER_ name and the spoiler flag."""
    message = fake.history_message(CHANNEL, alice(fake), attachments=[image(fake, spoiler=True)])
    fetched = await text_channel(bot, CHANNEL).fetch_message(int(message["id"]))
    (attachment,) = fetched.attachments
    assert (attachment.filename, attachment.flags.spoiler) == ("SPOILER_cat.png", True)
    assert attachment.is_spoiler()


async def test_mentions_in_content_fill_the_mention_fields(fake: FakeDiscord) -> None:
    """User, role and channel mentions in a seeded message resolve in discord.py."""
    add_guild(fake, bot_roles=(ROLE,))
    content = f"for <@{USER}> and <@&{ROLE}> in <#{TEXT}>"
    seeded = fake.history_message(TEXT, alice(fake), content=content, at=SINCE)
    async with running(Bot()) as client:
        message = await text_channel(client).fetch_message(int(seeded["id"]))
        assert [u.id for u in message.mentions] == [USER]
        assert [r.id for r in message.role_mentions] == [ROLE]
        assert [c.id for c in message.channel_mentions] == [TEXT]
    assert seeded["mention_roles"] == [str(ROLE)]


# -- what the bot sends ----------------------------------------------------


async def test_a_file_the_bot_sends_to_a_dm_is_recorded_and_served(
    fake: FakeDiscord, bot: Bot
) -> None:
    """A CSV sent by DM is recorded with its name and bytes and served as the message's file."""
    data = "\ufeffmessage_url,outcome\r\nhttps://x,uploaded\r\n".encode()
    user = await bot.fetch_user(USER)
    sent = await user.send("done", file=discord.File(io.BytesIO(data), filename="backfill.csv"))
    (request,) = [r for r in fake.requests if r.method == "POST" and r.files]
    assert [(f.field, f.filename, f.data) for f in request.files] == [
        ("files[0]", "backfill.csv", data)
    ]
    (attachment,) = sent.attachments
    assert (attachment.filename, attachment.content_type) == (
        "backfill.csv",
        "text/csv; charset=utf-8",
    )
    assert await attachment.read() == data


async def test_the_bot_edits_its_message_in_a_dm(fake: FakeDiscord, bot: Bot) -> None:
    """The bot's DM message edited by PATCH keeps its id and shows the new text."""
    user = await bot.fetch_user(USER)
    sent = await user.send("10 of 250")
    edited = await sent.edit(content="250 of 250")
    assert (edited.id, edited.content, edited.edited_at is not None) == (
        sent.id,
        "250 of 250",
        True,
    )
    assert [m["content"] for m in fake.dms_to(USER)] == ["250 of 250"]


async def test_ephemeral_answers_stay_out_of_history(fake: FakeDiscord, bot: Bot) -> None:
    """An interaction's ephemeral answer is not in the channel's history; a public one is."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @bot.tree.command(name="report", description="Report")
    async def report(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("only you", ephemeral=True)
        await interaction.followup.send("everyone")
        done.set_result(None)

    await bot.tree.sync()
    payload = fake.slash_interaction("report", user=alice(fake), channel_id=CHANNEL)
    await fake.dispatch("INTERACTION_CREATE", payload)
    await asyncio.wait_for(done, timeout=5)
    read = [m.content async for m in text_channel(bot, CHANNEL).history(limit=10)]
    assert read == ["everyone"]


async def test_a_guild_message_is_dispatched_and_kept_in_history(
    fake: FakeDiscord, bot: Bot
) -> None:
    """A MESSAGE_CREATE built by message_create is in the channel's history for REST reads."""
    sent = fake.message_create(CHANNEL, alice(fake), content="live", guild_id=GUILD_A)
    await fake.dispatch("MESSAGE_CREATE", sent)
    read = [m.id async for m in text_channel(bot, CHANNEL).history(limit=5)]
    assert read == [int(sent["id"])]
    assert [m["id"] for m in fake.history(CHANNEL)] == [sent["id"]]
