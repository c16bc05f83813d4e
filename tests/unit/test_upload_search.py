"""Searching a user's upload history (what inline mode offers), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.access import Access
from bot.domain import HostImage, UserRef
from bot.sharing import SHARED_MOST, Sharing
from tests.conftest import ALICE, BOB, GROUP, PRIVATE

COUNTER = iter(range(1, 10_000))


def image(
    title: str | None = None, *, url: bool = True, expires: datetime | None = None
) -> HostImage:
    n = next(COUNTER)
    return HostImage(
        f"i{n}",
        f"http://h/image/i{n}",
        f"http://h/i{n}",
        f"http://h/image/i{n}/delete/secret{n}",
        expires,
        url=f"http://h/images/i{n}.png" if url else None,
        title=title,
        type="image",
    )


async def titled(store, *titles: str, user: UserRef = ALICE) -> list[int]:
    return [(await store.uploads.record(user, PRIVATE, "a.png", image(t))).id for t in titles]


async def found(store, words: str, user: UserRef = ALICE, **kwargs) -> list[int]:
    return [r.id for r in await store.uploads.search(user, words, **kwargs)]


async def test_words_match_title_or_file_name_in_any_case(store):
    """Every word must be in the title or the file name, whatever its case; newest first."""
    cat, dog, catdog = await titled(store, "Cat on a mat", "dog", "CAT and DOG")
    named = (await store.uploads.record(ALICE, PRIVATE, "My-Cat.PNG", image(None))).id
    assert await found(store, "cat") == [named, catdog, cat]
    assert await found(store, "dog CAT") == [catdog]
    assert await found(store, "  ") == [named, catdog, dog, cat]
    assert await found(store, "bird") == []


async def test_like_wildcards_are_plain_characters(store):
    """``%``, ``_`` and the escape character ``/`` match only themselves."""
    percent, underscore, slash, _ = await titled(store, "100% cat", "a_b", "a/b", "plain ab")
    assert await found(store, "%") == [percent]
    assert await found(store, "_") == [underscore]
    assert await found(store, "a/b") == [slash]
    assert await found(store, "a%b") == []


async def test_only_the_users_own_uploads_on_this_platform(store):
    """Bob's uploads, and Alice's on another platform, never come back for Alice here."""
    (mine,) = await titled(store, "cat")
    await titled(store, "cat", user=BOB)
    await titled(store, "cat", user=UserRef("discord", ALICE.id))
    assert await found(store, "cat") == [mine]


async def test_what_cannot_be_shown_is_left_out(store):
    """Deleted, expired, and without a direct link (awaiting moderation): not offered."""
    kept, deleted = await titled(store, "cat", "cat")
    await store.uploads.mark_deleted(deleted)
    past = datetime.now(UTC) - timedelta(minutes=1)
    await store.uploads.record(ALICE, GROUP, "b.png", image("cat", expires=past))
    await store.uploads.record(ALICE, PRIVATE, "c.png", image("cat", url=False))
    later = await store.uploads.record(
        ALICE, PRIVATE, "d.png", image("cat", expires=past + timedelta(days=1))
    )
    assert await found(store, "cat") == [later.id, kept]


async def test_at_most_the_limit_newest_first(store):
    """Of 25 uploads, the 20 newest, newest first."""
    ids = await titled(store, *(f"cat {n}" for n in range(25)))
    assert await found(store, "", limit=SHARED_MOST) == ids[::-1][:SHARED_MOST]


LISTED_ALICE = {("telegram", ALICE.id)}
LISTED_GROUP = {(GROUP.platform, GROUP.id)}


@pytest.mark.parametrize(
    ("users", "chats", "served"),
    [(set(), set(), True), (LISTED_ALICE, set(), True), (set(), LISTED_GROUP, False)],
    ids=["no lists", "listed user", "only a listed chat"],
)
async def test_sharing_serves_only_allowed_users(store, users, chats, served):
    """With access lists, only a listed user finds anything: a search names no chat, so a
    listed chat does not let its members in here."""
    (upload,) = await titled(store, "cat")
    sharing = Sharing(store, Access(frozenset(users), frozenset(chats), frozenset()))
    assert [r.id for r in await sharing.find(ALICE, "cat")] == ([upload] if served else [])
    assert sharing.allows(ALICE) is served
