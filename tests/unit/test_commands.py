"""Every command: its answer, its effect on the store, and its bad arguments."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.chevereto import CheveretoClient
from bot.commands import Commands, mask_key, parse_album, parse_switch, send_in_order
from bot.domain import Reply, Visibility
from bot.errors import InvalidAlbum, InvalidExpiration
from bot.texts import render, t
from tests.conftest import ADMIN_KEY, ALICE, BOB, GROUP, KEY, ctx, media, recorded, texts

BAD_KEY = "chv_8_" + "z" * 128


def text(reply: Reply, language="en") -> str:
    return render(reply.text, language)


async def test_help_names_the_site_and_commands(commands, chevereto):
    """/help says what the bot does, names the site, and lists every command."""
    shown = text(await commands.help(ctx()))
    assert chevereto.url in shown
    for name in (
        "/link",
        "/unlink",
        "/settings",
        "/expire",
        "/nsfw",
        "/album",
        "/upload",
        "/mirror",
        "/history",
    ):
        assert name in shown


async def test_link_checks_the_key_then_stores_it(commands, store, chevereto):
    """/link uploads a tiny image with the shortest expiration, deletes it, and stores the key."""
    reply = await commands.link(ctx(), KEY)
    assert reply.visibility is Visibility.USER_ONLY
    assert "chv_…kkkk" in text(reply)
    assert KEY not in text(reply)
    assert await store.keys.of(ALICE) == KEY
    (probe,) = chevereto.upload_requests
    assert probe.form["expiration"] == "PT5M"
    assert len(chevereto.deleted) == 1
    assert chevereto.images == {}


async def test_each_link_check_uses_unique_bytes(commands, chevereto):
    """Two checks never send the same image, so the host never calls one a duplicate."""
    await commands.link(ctx(), KEY)
    await commands.link(ctx(), KEY)
    first, second = chevereto.upload_requests
    assert first.form["source"] != second.form["source"]


async def test_link_refuses_a_rejected_key(commands, store):
    """A key the host rejects is not stored, and the user is told why."""
    reply = await commands.link(ctx(), BAD_KEY)
    assert await store.keys.of(ALICE) is None
    assert "rejected your API key" in text(reply)
    assert BAD_KEY not in text(reply)


async def test_link_with_the_host_down_links_nothing(store, tmp_path):
    """A host that cannot be reached leaves the key unlinked, with a clear reason."""
    async with CheveretoClient("http://127.0.0.1:9", timeout=1, tries=1) as client:
        commands = Commands(store, client, site="http://127.0.0.1:9", default_key=None, texts=texts)
        reply = await commands.link(ctx(), KEY)
    assert await store.keys.of(ALICE) is None
    assert "cannot be reached" in text(reply)


async def test_link_when_the_site_refuses_api_uploads(commands, store, chevereto):
    """A site that refuses API uploads leaves the key unlinked and says so."""
    chevereto.api_enabled = False
    reply = await commands.link(ctx(), KEY)
    assert await store.keys.of(ALICE) is None
    assert "does not accept uploads" in text(reply)


async def test_link_in_a_group_is_never_stored(commands, store, chevereto):
    """A key sent in a group is not checked nor stored; the user is told to link in private."""
    reply = await commands.link(ctx(chat=GROUP), KEY)
    assert await store.keys.of(ALICE) is None
    assert chevereto.requests == []
    assert "private chat" in text(reply)
    assert KEY not in text(reply)


async def test_link_ephemeral_in_a_guild_is_private_enough(commands, store):
    """A Discord ephemeral /link in a guild is seen by the user alone, so it is stored."""
    await commands.link(ctx(chat=GROUP, ephemeral=True), KEY)
    assert await store.keys.of(ALICE) == KEY


@pytest.mark.parametrize("argument", ["", "   ", "two words"])
async def test_link_without_a_key_shows_usage(commands, argument, chevereto):
    """/link with no key, or with spaces in it, explains how to find the key."""
    reply = await commands.link(ctx(), argument)
    assert "/link" in text(reply)
    assert chevereto.requests == []


async def test_unlink_forgets_the_key(commands, store):
    """/unlink forgets the key; a second /unlink says there was none."""
    await store.keys.link(ALICE, KEY)
    assert "forgotten" in text(await commands.unlink(ctx()))
    assert await store.keys.of(ALICE) is None
    assert "no key" in text(await commands.unlink(ctx()))


async def test_settings_show_the_key_masked(commands, store):
    """/settings shows the key masked, and the defaults."""
    await store.keys.link(ALICE, KEY)
    await store.prefs.set_expiration(ALICE, "P1D")
    shown = text(await commands.settings(ctx()))
    assert "chv_…kkkk" in shown
    assert KEY not in shown
    assert "P1D" in shown


async def test_settings_without_a_key(commands):
    """/settings without a key says how to link one."""
    assert "/link" in text(await commands.settings(ctx()))


def test_mask_key_keeps_only_the_end():
    """A masked key shows its prefix and last four characters only."""
    assert mask_key(KEY) == "chv_…kkkk"
    assert mask_key("short") == "…"


@pytest.mark.parametrize(
    ("argument", "iso"), [("5m", "PT5M"), ("3d", "P3D"), ("P2W", "P2W"), ("off", None)]
)
async def test_expire_stores_iso(commands, store, argument, iso):
    """/expire stores the ISO-8601 form of what the user typed, or none for off."""
    await commands.expire(ctx(), argument)
    assert (await store.prefs.of(ALICE)).expiration == iso


async def test_expire_refuses_garbage(commands, store):
    """/expire with garbage raises InvalidExpiration and changes nothing."""
    await store.prefs.set_expiration(ALICE, "P1D")
    with pytest.raises(InvalidExpiration):
        await commands.expire(ctx(), "soon")
    assert (await store.prefs.of(ALICE)).expiration == "P1D"


async def test_expire_without_argument_shows_usage(commands):
    """/expire alone explains itself."""
    assert "/expire" in text(await commands.expire(ctx(), ""))


@pytest.mark.parametrize(("argument", "value"), [("on", True), ("OFF", False), ("开", True)])
async def test_nsfw_switch(commands, store, argument, value):
    """/nsfw on|off sets the default flag."""
    await commands.nsfw(ctx(), argument)
    assert (await store.prefs.of(ALICE)).nsfw is value


async def test_nsfw_bad_argument_shows_usage(commands, store):
    """/nsfw maybe changes nothing and explains."""
    assert "/nsfw on" in text(await commands.nsfw(ctx(), "maybe"))
    assert (await store.prefs.of(ALICE)).nsfw is None


@pytest.mark.parametrize(
    ("argument", "album"),
    [("4c", "4c"), ("https://img.example/album/Holiday-2024.Xy9", "Xy9"), ("off", None)],
)
async def test_album_accepts_ids_and_urls(commands, store, argument, album):
    """/album takes an encoded id, an album URL, or off."""
    await commands.album(ctx(), argument)
    assert (await store.prefs.of(ALICE)).album_id == album


async def test_album_refuses_garbage(commands):
    """/album with something that is no album id raises InvalidAlbum."""
    with pytest.raises(InvalidAlbum):
        await commands.album(ctx(), "not an album!")


async def test_mirror_only_in_groups(commands):
    """/mirror in a private chat says it is for groups."""
    assert "groups" in text(await commands.mirror(ctx(), "on", is_admin=True))


async def test_mirror_refuses_non_admins(commands, store):
    """A non-admin's /mirror on changes nothing."""
    await store.keys.link(ALICE, KEY)
    reply = await commands.mirror(ctx(chat=GROUP), "on", is_admin=False)
    assert "admins" in text(reply)
    assert not (await store.chats.of(GROUP)).mirror


async def test_mirror_needs_a_fallback_key(commands, store):
    """An admin without a key (and no default key) is asked to link one first."""
    reply = await commands.mirror(ctx(chat=GROUP), "on", is_admin=True)
    assert "/link" in text(reply)
    assert not (await store.chats.of(GROUP)).mirror


async def test_mirror_on_says_whose_key(commands, store):
    """Turning mirroring on names the admin whose key is the fallback, and what the bot needs."""
    await store.keys.link(BOB, ADMIN_KEY)
    reply = await commands.mirror(ctx(BOB, GROUP, user_name="Bob"), "on", is_admin=True)
    shown = text(reply)
    assert "Bob" in shown
    assert "every message" in shown
    assert reply.visibility is Visibility.PUBLIC
    assert (await store.chats.of(GROUP)).mirror_by == BOB.id
    await commands.mirror(ctx(BOB, GROUP), "off", is_admin=True)
    assert not (await store.chats.of(GROUP)).mirror


async def test_mirror_bad_argument(commands):
    """/mirror sideways explains itself."""
    assert "/mirror on" in text(await commands.mirror(ctx(chat=GROUP), "x", is_admin=True))


async def test_history_in_private_lists_delete_links(commands, service, store):
    """/history in private shows the uploads with their delete links, to the user only."""
    await store.keys.link(ALICE, KEY)
    record = await recorded(service, store, media(filename="cat.png"))
    (reply,) = await commands.history(ctx())
    assert reply.visibility is Visibility.USER_ONLY
    assert reply.secret
    assert record.delete_url is not None
    assert record.delete_url in text(reply)
    assert reply.buttons[0].action == f"del:{record.id}"


async def test_history_in_a_group_goes_private(commands, service, store):
    """/history in a group is sent to the user privately; the group only hears that."""
    await store.keys.link(ALICE, KEY)
    await recorded(service, store, media())
    secret, public = await commands.history(ctx(chat=GROUP))
    assert secret.visibility is Visibility.PRIVATE_TO_USER
    assert public.visibility is Visibility.PUBLIC
    assert "/delete/" not in text(public)


async def test_history_says_which_links_the_host_did_not_give(commands, service, store, chevereto):
    """An upload whose host answer had no usable links is listed saying so, without a Delete
    button."""
    await store.keys.link(ALICE, KEY)
    chevereto.urls_next({"url_viewer": "javascript:x", "url_short": "data:,x", "delete_url": ""})
    await recorded(service, store, media(filename="cat.png"))
    (reply,) = await commands.history(ctx())
    assert text(reply).splitlines()[1:] == [
        "1. cat.png",
        "(the host gave no link I can show)",
        "Delete: (the host gave no link I can show)",
    ]
    assert reply.buttons == ()


async def test_history_empty(commands):
    """/history with no uploads says so."""
    (reply,) = await commands.history(ctx())
    assert "no uploads" in text(reply)


async def test_delete_flow(commands, service, store, chevereto):
    """Delete asks first; only the uploader can confirm; then the host deletes the file."""
    await store.keys.link(ALICE, KEY)
    record = await recorded(service, store, media(filename="cat.png"))
    number = record.id
    ask = await commands.action(ctx(), f"del:{number}")
    assert "cannot be undone" in text(ask)
    assert [b.action for b in ask.buttons] == [f"delok:{number}", f"delno:{number}"]
    assert "Only the person" in text(await commands.action(ctx(BOB), f"delok:{number}"))
    assert chevereto.deleted == set()
    assert "Nothing" in text(await commands.action(ctx(), f"delno:{number}"))
    assert "deleted" in text(await commands.action(ctx(), f"delok:{number}"))
    assert record.url_viewer is not None
    assert chevereto.deleted == {record.url_viewer.rsplit("/", 1)[-1]}
    assert await store.uploads.history(ALICE) == []
    assert "already deleted" in text(await commands.action(ctx(), f"delok:{number}"))


async def test_deleting_without_a_delete_link_says_so(commands, service, store, chevereto):
    """A confirmed Delete of an upload the host gave no usable delete link for says the bot
    cannot delete it, and sends nothing to the host."""
    await store.keys.link(ALICE, KEY)
    chevereto.urls_next({"delete_url": "javascript:x"})
    record = await recorded(service, store, media(filename="cat.png"))
    before = len(chevereto.requests)
    reply = await commands.action(ctx(), f"delok:{record.id}")
    assert text(reply).startswith("The host gave no delete link for cat.png")
    assert len(chevereto.requests) == before


@pytest.mark.parametrize("data", ["del:", "del:abc", "zap:1", "", "delok:999999"])
async def test_bad_action_data(commands, data):
    """Unknown or stale button data gets a clear answer, never an error."""
    assert text(await commands.action(ctx(), data))


async def test_deliver_falls_back_when_private_fails():
    """A private reply that cannot reach the user is followed by how to get it."""
    sent: list[Reply] = []

    async def send(reply):
        sent.append(reply)
        return reply.visibility is not Visibility.PRIVATE_TO_USER

    await send_in_order([Reply(t("history.empty"), visibility=Visibility.PRIVATE_TO_USER)], send)
    assert [r.text.key for r in sent] == ["history.empty", "upload.dm_closed"]


@given(st.text(max_size=200))
def test_switch_parsing_never_fails(argument):
    """Any text parses to on, off or "not understood", never an exception."""
    assert parse_switch(argument) in (True, False, None)


@given(st.text(max_size=200))
def test_album_parsing_raises_only_invalid_album(argument):
    """Any text is an album id, off, or InvalidAlbum."""
    try:
        album = parse_album(argument)
    except InvalidAlbum:
        return
    assert album is None or album.isalnum()
