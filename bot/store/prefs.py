"""Per-user defaults (expiration, NSFW, album, category, width, file date, answer form,
language) and per-chat settings (mirroring)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from bot.domain import ChatRef, EmbedForm, UserRef
from bot.store.database import Database
from bot.store.tables import ChatSetting, Preference


@dataclass(frozen=True, slots=True)
class Prefs:
    expiration: str | None = None
    nsfw: bool | None = None
    album_id: str | None = None
    language: str | None = None
    embed_form: EmbedForm = EmbedForm.LINKS
    category_id: int | None = None
    width: int | None = None
    file_date: bool | None = None

    @classmethod
    def of_row(cls, row: Preference | Row[Any] | None) -> Prefs:
        """From a preferences row, or a row of a statement that selects the same columns."""
        if row is None:
            return cls()
        form = EmbedForm(row.embed_form) if row.embed_form else EmbedForm.LINKS
        return cls(
            row.expiration,
            row.nsfw,
            row.album_id,
            row.language,
            form,
            row.category_id,
            row.width,
            row.file_date,
        )


@dataclass(frozen=True, slots=True)
class ChatSettings:
    mirror: bool = False
    mirror_by: str | None = None
    """The id of the admin who turned mirroring on: their key serves posters without one."""


class Preferences:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def of(self, user: UserRef) -> Prefs:
        async with self._db.session() as s:
            return Prefs.of_row(await s.get(Preference, (user.platform, user.id)))

    async def _set(self, user: UserRef, **values: object) -> None:
        async with self._db.session.begin() as s:
            row = await s.get(Preference, (user.platform, user.id))
            if row is None:
                row = Preference(platform=user.platform, user_id=user.id)
                s.add(row)
            for name, value in values.items():
                setattr(row, name, value)

    async def set_expiration(self, user: UserRef, iso: str | None) -> None:
        await self._set(user, expiration=iso)

    async def set_nsfw(self, user: UserRef, nsfw: bool) -> None:
        await self._set(user, nsfw=nsfw)

    async def set_file_date(self, user: UserRef, on: bool) -> None:
        await self._set(user, file_date=on)

    async def set_album(self, user: UserRef, album_id: str | None) -> None:
        await self._set(user, album_id=album_id)

    async def set_embed_form(self, user: UserRef, form: EmbedForm) -> None:
        await self._set(user, embed_form=form.value)

    async def set_category(self, user: UserRef, category_id: int | None) -> None:
        await self._set(user, category_id=category_id)

    async def set_width(self, user: UserRef, width: int | None) -> None:
        await self._set(user, width=width)

    async def remember_language(self, user: UserRef, language: str) -> None:
        """Kept so that answers sent later (a resumed job, a private message) speak the user's
        language."""
        if (await self.of(user)).language != language:
            await self._set(user, language=language)


class Chats:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def of(self, chat: ChatRef) -> ChatSettings:
        async with self._db.session() as s:
            row = await s.get(ChatSetting, (chat.platform, chat.id))
            return ChatSettings() if row is None else ChatSettings(row.mirror, row.mirror_by)

    async def set_mirror(self, chat: ChatRef, on: bool, by: UserRef) -> None:
        async with self._db.session.begin() as s:
            row = await s.get(ChatSetting, (chat.platform, chat.id))
            if row is None:
                row = ChatSetting(platform=chat.platform, chat_id=chat.id)
                s.add(row)
            row.mirror, row.mirror_by = on, by.id if on else None
