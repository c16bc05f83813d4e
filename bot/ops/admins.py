"""Telling the bot's admins (BOT_ADMINS) something privately, each in their own language."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Set
from typing import Final

from bot.domain import Reply, Text, UserRef, Visibility
from bot.platform import Platform
from bot.store import Store
from bot.texts import language_of

log = logging.getLogger(__name__)

TELL_WITHIN_S: Final = 60.0
"""How long one admin's notice may take (a platform still connecting holds it): then it is
given up, so that the next notice is not held behind it."""


class AdminNotices:
    """BOT_ADMINS, reached through the platforms running in this process."""

    def __init__(
        self, admins: Set[tuple[str, str]], platforms: Mapping[str, Platform], store: Store
    ) -> None:
        self._admins = [UserRef(platform, user_id) for platform, user_id in sorted(admins)]
        self._platforms = platforms
        """The core's platforms, as they connect."""
        self._store = store

    async def tell(self, text: Text) -> None:
        """Sends ``text`` to every admin whose platform runs here, side by side, in the language
        they last used with the bot (English when unknown). One who cannot be reached is
        logged and skipped; nothing is raised."""
        await asyncio.gather(*(self._tell_one(admin, text) for admin in self._admins))

    async def _tell_one(self, admin: UserRef, text: Text) -> None:
        platform = self._platforms.get(admin.platform)
        if platform is None:  # not running in this process
            return
        reply = Reply(text, visibility=Visibility.PRIVATE_TO_USER)
        try:
            async with asyncio.timeout(TELL_WITHIN_S):
                language = language_of((await self._store.prefs.of(admin)).language)
                reached = await platform.tell(admin, reply, language)
        except Exception as error:  # a notice is advice: the bot goes on without it
            name = type(error).__name__
            log.warning("could not tell the admin %s:%s (%s)", admin.platform, admin.id, name)
            log.debug("why", exc_info=error)
            return
        if not reached:
            log.warning(
                "could not tell the admin %s:%s: no private chat with the bot",
                admin.platform,
                admin.id,
            )
