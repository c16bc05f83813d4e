"""Past uploads a user may post again in any chat (a platform's inline mode): what is offered
and to whom. Only the user's own uploads, from the database; never a delete link."""

from __future__ import annotations

from bot.access import Access
from bot.domain import ChatKind, ChatRef, UploadRecord, UserRef
from bot.store import Store

SHARED_MOST = 20
"""How many uploads one search offers, newest first."""
MOST_SEARCH_CHARS = 256
"""A search's words are cut here before anything is done with them: Telegram's own limit for
an inline query, and enough for any search of one's uploads."""


class Sharing:
    """Searches a user's upload history, for that user alone."""

    def __init__(self, store: Store, access: Access) -> None:
        self._store = store
        self._access = access

    def allows(self, user: UserRef) -> bool:
        """Whether ``user`` may use the bot. A search names no chat, so only ALLOWED_USERS
        counts (or no lists at all): membership of a listed chat does not reach here."""
        return self._access.allows(user, ChatRef(user.platform, user.id, ChatKind.PRIVATE))

    async def find(self, user: UserRef, words: str) -> list[UploadRecord]:
        """The user's last uploads whose title or file name holds ``words`` (all of them, any
        case; none: the latest), that can still be shown; nothing for a user the access lists
        leave out. Nothing of that user is stored or said."""
        if not self.allows(user):
            return []
        return await self._store.uploads.search(user, words[:MOST_SEARCH_CHARS], limit=SHARED_MOST)
