"""Access lists: who may use the bot, where; the refusal said at most once a day; nothing stored."""

import pytest
from pydantic import ValidationError

from bot.access import Access
from bot.commands import Commands
from bot.domain import ChatKind, ChatRef, UserRef
from bot.intake import Intake
from bot.payloads import JobSpec
from bot.settings import describe_error
from bot.texts import render
from tests.conftest import ALICE, BOB, GROUP, KEY, PRIVATE, ctx, texts
from tests.support.job_handler import file
from tests.support.jobs import unfinished_jobs
from tests.support.settings import core_settings

ALLOWED_GROUP = ChatRef("telegram", "-100777", ChatKind.GROUP)
GUILD_CHANNEL = ChatRef("discord", "55", ChatKind.CHANNEL, community="900")
ONLY_ALICE = Access({("telegram", ALICE.id)}, {("telegram", "-100777"), ("discord", "900")}, set())


def test_empty_lists_let_everyone_in():
    """Without ALLOWED_USERS and ALLOWED_CHATS the bot serves everyone."""
    assert Access(set(), set(), set()).allows(BOB, PRIVATE)


def test_listed_users_anywhere_and_members_of_listed_chats_there():
    """Alice is listed; Bob may use the bot only inside a listed group or guild."""
    assert ONLY_ALICE.allows(ALICE, GROUP)
    assert ONLY_ALICE.allows(BOB, ALLOWED_GROUP)
    assert ONLY_ALICE.allows(UserRef("discord", "7"), GUILD_CHANNEL)
    assert not ONLY_ALICE.allows(BOB, ChatRef("telegram", BOB.id, ChatKind.PRIVATE))
    assert not ONLY_ALICE.allows(BOB, GROUP)
    assert not ONLY_ALICE.allows(UserRef("discord", ALICE.id), PRIVATE)


def test_the_refusal_is_said_once_a_day():
    """The first refusal is a sentence; the next ones that day are silence."""
    access = Access({("telegram", ALICE.id)}, set(), set())
    first = access.refusal(BOB)
    assert first is not None
    assert "private" in render(first.text, "en")
    assert access.refusal(BOB) is None
    assert access.refusal(UserRef("telegram", "3")) is not None


@pytest.mark.parametrize("name", ["allowed_users", "allowed_chats", "bot_admins"])
@pytest.mark.parametrize("value", ["zzplatform", "zz:", "zz:abc", ":17", "ZZ:1"])
def test_a_malformed_entry_names_its_variable(tmp_path, name, value):
    """A malformed entry fails at start, naming the variable and not echoing it."""
    with pytest.raises(ValidationError) as caught:
        core_settings("http://127.0.0.1:9", tmp_path, **{name: value})
    message = describe_error(caught.value)
    assert name.upper() in message
    assert value not in message.replace(name.upper(), "")


def test_entries_are_read_from_commas(tmp_path):
    """``telegram:1, discord:2`` is two entries; a Telegram group id may be negative."""
    settings = core_settings(
        "http://127.0.0.1:9",
        tmp_path,
        allowed_users="telegram:1, discord:2",
        allowed_chats="telegram:-1001",
    )
    assert settings.allowed_users == {("telegram", "1"), ("discord", "2")}
    assert settings.allowed_chats == {("telegram", "-1001")}


async def test_a_refused_user_leaves_no_trace(store, service, runner, client):
    """A photo or a command from someone not allowed: one sentence, no job, no preference row."""
    access = Access({("telegram", ALICE.id)}, set(), set())
    intake = Intake(store, service, runner, access)
    commands = Commands(store, client, site="x", default_key=None, texts=texts, access=access)
    bob_private = ChatRef("telegram", BOB.id, ChatKind.PRIVATE)

    reply = await intake.posted(JobSpec(BOB, bob_private, "zh", (file("a.png"),)))
    assert reply is not None
    assert "private" in render(reply.text, "en")
    bob = ctx(BOB, bob_private)
    assert await commands.answered(bob, lambda: commands.expire(bob, "1h")) == []
    assert await unfinished_jobs(store) == 0
    assert (await store.prefs.of(BOB)).language is None
    assert (await store.prefs.of(BOB)).expiration is None
    await store.keys.link(ALICE, KEY)
    assert await commands.answered(ctx(), lambda: commands.expire(ctx(), "1h"))
    assert (await store.prefs.of(ALICE)).expiration == "PT1H"
