"""Who may use the bot (ALLOWED_USERS, ALLOWED_CHATS) and who may read /stats (BOT_ADMINS).

The refusal is said at most once a day per user, and kept in memory only: nothing of a
user who may not use the bot is written anywhere (a process that restarts may say it again).
"""

from __future__ import annotations

import logging
from collections.abc import Set
from datetime import UTC, date, datetime

from bot.domain import ChatRef, Reply, UserRef, Visibility
from bot.texts import t

log = logging.getLogger(__name__)


def _today() -> date:
    return datetime.now(UTC).date()


class Access:
    """The access lists, read once at start; empty lists mean everyone may use the bot."""

    def __init__(
        self,
        users: Set[tuple[str, str]],
        chats: Set[tuple[str, str]],
        admins: Set[tuple[str, str]],
    ) -> None:
        self._users, self._chats, self._admins = users, chats, admins
        self._told: dict[UserRef, date] = {}

    def allows(self, user: UserRef, chat: ChatRef) -> bool:
        """A listed user anywhere; anyone in a listed chat (or the server it is in), there."""
        if not self._users and not self._chats:
            return True
        where = (chat.platform, chat.community or chat.id)
        return (user.platform, user.id) in self._users or where in self._chats

    def is_admin(self, user: UserRef) -> bool:
        return (user.platform, user.id) in self._admins

    def refusal(self, user: UserRef) -> Reply | None:
        """ "This bot is private", the first time today; after that, silence."""
        today = _today()
        if self._told.get(user) == today:
            return None
        self._told = {u: day for u, day in self._told.items() if day == today}
        self._told[user] = today
        log.info("refused a user who is not on the access lists")
        return Reply(t("access.private"), visibility=Visibility.USER_ONLY)
