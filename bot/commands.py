"""Every command the bot knows, platform-neutral: parse, validate, update the store, reply.

Adapters call these with a Context and send the replies they return; they add
only what is their platform's own (deleting a message, checking who is admin).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.access import Access
from bot.chevereto import Base64Source, CheveretoClient
from bot.chevereto.expiration import SHORTEST_EXPIRATION, parse_expiration
from bot.chevereto.probe import probe_base64
from bot.domain import (
    Button,
    ChatRef,
    EmbedForm,
    Reply,
    Text,
    UploadOptions,
    UploadRecord,
    UserRef,
    Visibility,
)
from bot.errors import BotError, Duplicate, HostError, InvalidAlbum
from bot.jobs.replies import dm_closed
from bot.ops.statistics import stats_text
from bot.platform import PlatformTexts
from bot.store import Store
from bot.texts import Language, error_text, t

log = logging.getLogger(__name__)

HISTORY_SIZE = 10
MAX_WIDTH = 10_000
"""The widest an image may be shrunk to: a larger number is surely a typo."""
MAX_KEY_CHARS = 200
"""A Chevereto key is ``chv_<id>_`` and 128 characters (an older site's, 32): anything longer is
no key, and is refused before it reaches the host in a header."""
ALBUM_ID = re.compile(r"[A-Za-z0-9]{1,32}")
ON = frozenset({"on", "yes", "true", "1", "开", "开启", "是"})
OFF = frozenset({"off", "no", "false", "0", "关", "关闭", "否", "none"})


@dataclass(frozen=True, slots=True)
class Context:
    """Who sent a command, where, and whether replies can be seen by that user alone."""

    user: UserRef
    chat: ChatRef
    language: Language
    ephemeral: bool = False
    """Asked in a way that can be answered privately in place (an interaction whose replies
    can be ephemeral): USER_ONLY replies stay private even in a shared chat."""
    user_name: str = ""

    @property
    def alone(self) -> bool:
        """Only this user will see a USER_ONLY reply."""
        return self.chat.is_private or self.ephemeral


def mask_key(key: str) -> str:
    """``chv_…9f2c``: enough to recognise a key, never enough to use it."""
    prefix = "chv_" if key.startswith("chv_") else ""
    return f"{prefix}…{key[-4:]}" if len(key) >= 12 else "…"


def parse_switch(argument: str) -> bool | None:
    word = argument.strip().lower()
    return True if word in ON else False if word in OFF else None


def parse_count(argument: str) -> int | None:
    """A positive whole number written in ASCII digits, else None."""
    return int(argument) if re.fullmatch(r"[0-9]{1,9}", argument) and int(argument) > 0 else None


def parse_album(argument: str) -> str | None:
    """An encoded album id, also taken from a pasted album URL (``…/album/name.4c``)."""
    text = argument.strip().rstrip("/")
    if text.lower() in OFF:
        return None
    candidate = re.split(r"[/.]", text)[-1]
    if not ALBUM_ID.fullmatch(candidate):
        raise InvalidAlbum(argument)
    return candidate


def _only_user(ctx: Context, text: Text, buttons: tuple[Button, ...] = ()) -> Reply:
    return Reply(text, buttons, Visibility.USER_ONLY)


class Commands:
    """The commands, on one store and one host."""

    def __init__(
        self,
        store: Store,
        client: CheveretoClient,
        *,
        site: str,
        default_key: str | None,
        texts: Callable[[str], PlatformTexts],
        access: Access | None = None,
        host_down_since: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self._store = store
        self._client = client
        self._site = site
        self._default_key = default_key
        self._texts = texts
        """A platform's own sentences, by its name."""
        self._access = access or Access(frozenset(), frozenset(), frozenset())
        self._host_down_since = host_down_since
        """When the host went down, as this process's host watch says; None while it is up."""

    async def answered(
        self, ctx: Context, run: Callable[[], Awaitable[Reply | Sequence[Reply]]]
    ) -> list[Reply]:
        """Runs one command, button or message for ``ctx``, and the replies it gives.

        Someone the access lists leave out gets "this bot is private" (once a day) and
        nothing of theirs is stored; for everyone else the language is remembered for later
        answers, and any failure becomes one sentence, never a traceback.
        """
        if not self._access.allows(ctx.user, ctx.chat):
            refusal = self._access.refusal(ctx.user)
            return [] if refusal is None else [refusal]
        try:
            await self._store.prefs.remember_language(ctx.user, ctx.language)
            result = await run()
        except Exception as error:
            return [Reply(error_text(error))]
        return [result] if isinstance(result, Reply) else list(result)

    async def help(self, ctx: Context) -> Reply:
        upload = t(self._texts(ctx.user.platform).upload_help)
        return Reply(
            t("help", site=self._site, upload=upload, file_date=self._about_file_date(ctx))
        )

    def _about_file_date(self, ctx: Context) -> Text:
        """That the host applies the file date only for a site admin's key, and how this
        platform keeps a photo's date, where it strips it."""
        note = self._texts(ctx.user.platform).file_date_note
        return t("filedate.about") if note is None else t("filedate.about_note", note=t(note))

    async def upload_usage(self, ctx: Context) -> Reply:
        return Reply(t("upload.usage"))

    async def not_media(self, ctx: Context) -> Reply:
        return Reply(t("upload.not_media"))

    async def link(self, ctx: Context, argument: str) -> Reply:
        """Checks the key with a tiny upload deleted at once; stores it only if the host took it."""
        if not ctx.alone:
            return Reply(t("link.in_group"))
        key = argument.strip()
        if not key or any(c.isspace() for c in key):
            return _only_user(ctx, t("link.usage", site=self._site))
        if len(key) > MAX_KEY_CHARS:
            return _only_user(ctx, t("link.not_a_key", most=MAX_KEY_CHARS, site=self._site))
        try:
            await self._prove(key)
        except HostError as error:
            return _only_user(ctx, t("link.not_linked", reason=error_text(error)))
        await self._store.keys.link(ctx.user, key)
        return _only_user(ctx, t("link.done", masked=mask_key(key)))

    async def _prove(self, key: str) -> None:
        options = UploadOptions(expiration=SHORTEST_EXPIRATION, title="chevereto-bot key check")
        try:
            image = await self._client.upload(key, Base64Source(probe_base64()), options)
        except Duplicate:
            return
        if image.delete_url is None:
            log.warning("the key check image %s came without a delete link", image.id_encoded)
            return
        try:
            if not await self._client.delete(image.delete_url):
                log.warning("the key check image %s was not deleted", image.id_encoded)
        except HostError:
            log.warning("the key check image %s could not be deleted", image.id_encoded)

    async def unlink(self, ctx: Context) -> Reply:
        if not await self._store.keys.unlink(ctx.user):
            return _only_user(ctx, t("unlink.none"))
        fallback = "unlink.fallback_default" if self._default_key else "unlink.fallback_none"
        return _only_user(ctx, t("unlink.done", fallback=t(fallback)))

    async def settings(self, ctx: Context) -> Reply:
        key = await self._store.keys.of(ctx.user)
        prefs = await self._store.prefs.of(ctx.user)
        width = t("settings.pixels", width=prefs.width) if prefs.width else t("settings.none")
        shown_key: object = (
            mask_key(key)
            if key
            else t("settings.key_default" if self._default_key else "settings.key_none")
        )
        return _only_user(
            ctx,
            t(
                "settings",
                key=shown_key,
                expiration=prefs.expiration or t("settings.never"),
                nsfw=bool(prefs.nsfw),
                album=prefs.album_id or t("settings.none"),
                category=prefs.category_id or t("settings.none"),
                width=width,
                file_date=bool(prefs.file_date),
                about=self._about_file_date(ctx),
                form=t(f"format.{prefs.embed_form.value}"),
            ),
        )

    async def expire(self, ctx: Context, argument: str) -> Reply:
        if not argument.strip():
            return _only_user(ctx, t("expire.usage"))
        iso = parse_expiration(argument)
        await self._store.prefs.set_expiration(ctx.user, iso)
        return _only_user(ctx, t("expire.set", duration=iso) if iso else t("expire.off"))

    async def nsfw(self, ctx: Context, argument: str) -> Reply:
        on = parse_switch(argument)
        if on is None:
            return _only_user(ctx, t("nsfw.usage"))
        await self._store.prefs.set_nsfw(ctx.user, on)
        return _only_user(ctx, t("nsfw.on" if on else "nsfw.off"))

    async def filedate(self, ctx: Context, argument: str) -> Reply:
        """Whether the host dates uploads by the file's Exif date: a site admin's key only."""
        on = parse_switch(argument)
        if on is None:
            return _only_user(ctx, t("filedate.usage"))
        await self._store.prefs.set_file_date(ctx.user, on)
        if not on:
            return _only_user(ctx, t("filedate.off"))
        return _only_user(ctx, t("filedate.on", about=self._about_file_date(ctx)))

    async def album(self, ctx: Context, argument: str) -> Reply:
        if not argument.strip():
            return _only_user(ctx, t("album.usage"))
        album = parse_album(argument)
        await self._store.prefs.set_album(ctx.user, album)
        return _only_user(ctx, t("album.set", album=album) if album else t("album.off"))

    async def category(self, ctx: Context, argument: str) -> Reply:
        """The user's default category: a positive number, or off."""
        value = argument.strip().lower()
        if value != "off" and parse_count(value) is None:
            return _only_user(ctx, t("category.usage"))
        category = parse_count(value)
        await self._store.prefs.set_category(ctx.user, category)
        return _only_user(
            ctx, t("category.set", category=category) if category else t("category.off")
        )

    async def width(self, ctx: Context, argument: str) -> Reply:
        """The width images wider than it are shrunk to: positive pixels up to 10,000, or off."""
        value = argument.strip().lower()
        width = parse_count(value)
        if value != "off" and width is None:
            return _only_user(ctx, t("width.usage"))
        if width is not None and width > MAX_WIDTH:
            return _only_user(ctx, t("width.too_large", limit=f"{MAX_WIDTH:,}"))
        await self._store.prefs.set_width(ctx.user, width)
        return _only_user(ctx, t("width.set", width=width) if width else t("width.off"))

    async def format(self, ctx: Context, argument: str) -> Reply:
        """What the user's answers carry besides the links: the file link, or an embed code."""
        try:
            form = EmbedForm(argument.strip().lower())
        except ValueError:
            return _only_user(ctx, t("format.usage"))
        await self._store.prefs.set_embed_form(ctx.user, form)
        return _only_user(ctx, t("format.set", form=t(f"format.{form.value}")))

    async def mirror(self, ctx: Context, argument: str, *, is_admin: bool) -> Reply:
        """Only a chat's admins switch mirroring; turning it on says whose key will be used."""
        if ctx.chat.is_private:
            return _only_user(ctx, t("mirror.groups_only"))
        on = parse_switch(argument)
        if on is None:
            return _only_user(ctx, t("mirror.usage"))
        if not is_admin:
            return _only_user(ctx, t("mirror.admins_only"))
        if not on:
            await self._store.chats.set_mirror(ctx.chat, False, ctx.user)
            return Reply(t("mirror.off"))
        has_key = await self._store.keys.of(ctx.user) is not None
        if not has_key and not self._default_key:
            return _only_user(ctx, t("mirror.needs_key"))
        await self._store.chats.set_mirror(ctx.chat, True, ctx.user)
        whose = t("mirror.on", admin=ctx.user_name) if has_key else t("mirror.on_default")
        needs = t(self._texts(ctx.user.platform).mirror_needs)
        return Reply(t("lines", lines=[whose, needs]))

    async def history(self, ctx: Context) -> list[Reply]:
        """The last uploads with their delete links, for the user's eyes only."""
        records = await self._store.uploads.history(ctx.user, HISTORY_SIZE)
        where = Visibility.USER_ONLY if ctx.alone else Visibility.PRIVATE_TO_USER
        if not records:
            return [_only_user(ctx, t("history.empty"))]
        lines: list[Text] = [t("history.header")]
        lines += [_history_item(n, r) for n, r in enumerate(records, 1)]
        buttons = tuple(
            Button(t("button.delete", filename=r.filename), action=f"del:{r.id}")
            for r in records
            if r.delete_url is not None
        )
        replies = [Reply(t("lines", lines=lines), buttons, where, secret=True)]
        if not ctx.alone:
            replies.append(Reply(t("history.sent_private")))
        return replies

    async def stats(self, ctx: Context) -> Reply:
        """Numbers for BOT_ADMINS, in private only; anyone else hears the refusal, no number."""
        if not self._access.is_admin(ctx.user):
            return _only_user(ctx, t("error.not_allowed"))
        if not ctx.alone:
            return _only_user(ctx, t("stats.private_only"))
        stats = await self._store.outcomes.stats()
        waiting = await self._store.jobs.waiting()
        return _only_user(ctx, stats_text(stats, waiting, self._host_down_since()))

    async def action(self, ctx: Context, data: str) -> Reply:
        """A Delete button (``del:N``), its confirmation (``delok:N``) or cancel (``delno:N``)."""
        verb, _, number = data.partition(":")
        record = await self._store.uploads.get(int(number)) if number.isdigit() else None
        if record is None or verb not in ("del", "delok", "delno"):
            return _only_user(ctx, t("delete.gone"))
        if record.user != ctx.user:
            return _only_user(ctx, t("delete.not_yours"))
        if record.deleted:
            return _only_user(ctx, t("delete.gone"))
        if verb == "delno":
            return _only_user(ctx, t("delete.cancelled"))
        if verb == "del":
            return _only_user(
                ctx,
                t("delete.confirm", filename=record.filename),
                (
                    Button(t("button.confirm"), action=f"delok:{record.id}"),
                    Button(t("button.cancel"), action=f"delno:{record.id}"),
                ),
            )
        return await self._delete(ctx, record)

    async def _delete(self, ctx: Context, record: UploadRecord) -> Reply:
        if record.delete_url is None:
            return _only_user(ctx, t("delete.no_link", filename=record.filename))
        try:
            gone = await self._client.delete(record.delete_url)
        except BotError as error:
            return _only_user(ctx, error_text(error))
        if not gone:
            return _only_user(ctx, t("delete.failed", filename=record.filename))
        await self._store.uploads.mark_deleted(record.id)
        return _only_user(ctx, t("delete.done", filename=record.filename))


def _history_item(n: int, record: UploadRecord) -> Text:
    """One line of /history; a link the host gave none usable of is said to be missing."""
    missing = t("history.no_link")
    return t(
        "history.item",
        n=n,
        filename=record.filename,
        viewer=record.url_viewer or missing,
        delete=record.delete_url or missing,
    )


async def send_in_order(replies: Sequence[Reply], send: Callable[[Reply], Awaitable[bool]]) -> None:
    """Sends replies in order; a private one that cannot reach the user says how to get it."""
    for reply in replies:
        if not await send(reply) and reply.visibility is Visibility.PRIVATE_TO_USER:
            await send(dm_closed())
