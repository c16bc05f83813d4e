"""What an upload needs to know of its uploader, read in one session: which key, which defaults.

Each file of a job asks once; reading the key, the preferences and (in a group) the
chat's mirroring in one session costs one connection and no concurrent second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import ChatRef, UserRef
from bot.store.database import Database
from bot.store.prefs import Prefs
from bot.store.tables import ChatSetting, LinkedKey, Preference


@dataclass(frozen=True, slots=True)
class Profile:
    """The key an upload may use (None: neither the user nor a mirroring admin linked one), and
    the user's defaults."""

    key: str | None = field(default=None, repr=False)
    own: bool = False
    """The key is the user's own (not a mirroring admin's): no shared-key quota applies."""
    prefs: Prefs = field(default_factory=Prefs)


class Profiles:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def of(self, user: UserRef, chat: ChatRef) -> Profile:
        """The user's own key, else (in a mirrored group) the key of the admin who turned
        mirroring on; and the user's preferences."""
        async with self._db.session() as s:
            own = await self._key(s, user)
            prefs = Prefs.of_row(await s.get(Preference, (user.platform, user.id)))
            if own is not None:
                return Profile(own, True, prefs)
            return Profile(await self._mirroring_key(s, user, chat), False, prefs)

    async def _key(self, s: AsyncSession, user: UserRef) -> str | None:
        row = await s.get(LinkedKey, (user.platform, user.id))
        return None if row is None else self._db.vault.open(row.sealed_key)

    async def _mirroring_key(self, s: AsyncSession, user: UserRef, chat: ChatRef) -> str | None:
        """A mirrored group's posters without a key upload with the enabling admin's."""
        if chat.is_private:
            return None
        settings = await s.get(ChatSetting, (chat.platform, chat.id))
        if settings is None or not settings.mirror or settings.mirror_by is None:
            return None
        return await self._key(s, UserRef(user.platform, settings.mirror_by))
