"""A host outage through the real discord.py: a DM to one user (``tell``)."""

from __future__ import annotations

from bot.domain import Reply, Visibility
from bot.texts import t
from tests.support.discord_harness import (
    ALICE_ID,
    Harness,
    bot_fixture,  # noqa: F401 - a fixture
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
)
from tests.support.fakes.discord_api import FakeDiscord

NOTICE = Reply(t("outage.back", site="https://img.example"), visibility=Visibility.PRIVATE_TO_USER)


def dm_to(fake: FakeDiscord, user_id: int) -> list[str]:
    """What the bot posted in its DM with the user, in order."""
    return [m["content"] for m in fake.dms_to(user_id)]


async def test_tell_opens_a_dm_and_posts(bot: Harness) -> None:
    """``tell`` opens the user's DM and posts the reply there, in the language given."""
    assert await bot.adapter.tell(discord_user(ALICE_ID), NOTICE, "en")
    opened = [r for r in bot.fake.requests if r.path == "/users/@me/channels"]
    assert [r.json for r in opened] == [{"recipient_id": ALICE_ID}]
    expected = "The host https://img.example is back; the files that waited are going up now."
    assert dm_to(bot.fake, ALICE_ID) == [expected]


async def test_tell_to_closed_dms_is_false(bot: Harness) -> None:
    """A user whose DMs are closed to the bot: False, and nothing is posted."""
    bot.fake.close_dms(ALICE_ID)
    assert not await bot.adapter.tell(discord_user(ALICE_ID), NOTICE, "en")
    assert dm_to(bot.fake, ALICE_ID) == []
