"""What an upload needs to know of its uploader, read in one statement: which key, which
defaults.

Each file of a job asks once: the user's own key, their preferences and, in a group, the
chat's mirroring and its admin's key come back as one row of outer joins, one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, bindparam, literal, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter

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


_ADMIN_KEY = aliased(LinkedKey, name="admin_key")
_PREFS = [getattr(Preference, name) for name in Prefs.__dataclass_fields__]


class Profiles:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def of(self, user: UserRef, chat: ChatRef) -> Profile:
        """The user's own key, else (in a mirrored group) the key of the admin who turned
        mirroring on; and the user's preferences."""
        values = {"platform": user.platform, "user_id": user.id, "chat_id": chat.id}
        async with self._db.engine.connect() as c:
            row = (await c.execute(_PROFILE_IN[chat.is_private], values)).one()
        prefs = Prefs() if row.has_prefs is None else Prefs.of_row(row)
        if row.own_key is not None:
            return Profile(self._db.vault.open(row.own_key), True, prefs)
        admin_key = None if row.admin_key is None else self._db.vault.open(row.admin_key)
        return Profile(admin_key, False, prefs)


def _statement(private: bool) -> Select[Any]:
    """Built once for each kind of chat; the user and the chat are parameters. A chat's
    mirroring counts only in a group: a private chat has no mirroring admin."""
    platform: BindParameter[str] = bindparam("platform")
    user_id: BindParameter[str] = bindparam("user_id")
    own = and_(LinkedKey.platform == platform, LinkedKey.user_id == user_id)
    mine = and_(Preference.platform == platform, Preference.user_id == user_id)
    mirrored = and_(
        literal(not private),
        ChatSetting.platform == platform,
        ChatSetting.chat_id == bindparam("chat_id"),
        ChatSetting.mirror,
    )
    admin = and_(_ADMIN_KEY.platform == platform, _ADMIN_KEY.user_id == ChatSetting.mirror_by)
    one = select(literal(1).label("one")).subquery()
    return (
        select(
            LinkedKey.sealed_key.label("own_key"),
            _ADMIN_KEY.sealed_key.label("admin_key"),
            Preference.platform.label("has_prefs"),
            *_PREFS,
        )
        .select_from(one)
        .outerjoin(LinkedKey, own)
        .outerjoin(Preference, mine)
        .outerjoin(ChatSetting, mirrored)
        .outerjoin(_ADMIN_KEY, admin)
    )


_PROFILE_IN = {private: _statement(private) for private in (False, True)}
