"""Linked API keys, one per user and platform, sealed at rest."""

from __future__ import annotations

from sqlalchemy import delete

from bot.domain import UserRef
from bot.store.database import Database, now
from bot.store.tables import LinkedKey


class Keys:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def link(self, user: UserRef, key: str) -> None:
        async with self._db.session.begin() as s:
            row = await s.get(LinkedKey, (user.platform, user.id))
            sealed = self._db.vault.seal(key)
            if row is None:
                s.add(
                    LinkedKey(
                        platform=user.platform, user_id=user.id, sealed_key=sealed, linked_at=now()
                    )
                )
            else:
                row.sealed_key, row.linked_at = sealed, now()

    async def unlink(self, user: UserRef) -> bool:
        async with self._db.session.begin() as s:
            result = await s.execute(
                delete(LinkedKey).where(
                    LinkedKey.platform == user.platform, LinkedKey.user_id == user.id
                )
            )
            return bool(getattr(result, "rowcount", 0))

    async def of(self, user: UserRef) -> str | None:
        """The user's own key, or None."""
        async with self._db.session() as s:
            row = await s.get(LinkedKey, (user.platform, user.id))
            return None if row is None else self._db.vault.open(row.sealed_key)
