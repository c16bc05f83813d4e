"""The store: linked keys, preferences, chat settings, upload history and durable jobs.

``Store`` opens one database and hands out one small part per kind of record:
``store.keys``, ``store.prefs``, ``store.chats``, ``store.uploads``, ``store.jobs``,
``store.quota`` and ``store.notices`` (daily counts), ``store.outcomes`` (what /stats reads),
``store.profiles`` (an uploader's key and defaults, read together), ``store.backfills``
(channel backfills and their rows).
"""

from __future__ import annotations

from bot.crypto import Vault
from bot.store.backfills import Backfills
from bot.store.database import Database, database_unavailable
from bot.store.jobs import JobQueue, JobRecord
from bot.store.keys import Keys
from bot.store.prefs import Chats, ChatSettings, Preferences, Prefs
from bot.store.profile import Profile, Profiles
from bot.store.quota import Notices, SharedKeyQuota
from bot.store.stats import FileCount, Outcomes, Stats
from bot.store.uploads import Uploads


class Store:
    """One database, opened from a SQLAlchemy URL; ``migrate`` brings its schema up to date."""

    def __init__(self, url: str, vault: Vault) -> None:
        self.db = Database(url, vault)
        self.keys = Keys(self.db)
        self.prefs = Preferences(self.db)
        self.chats = Chats(self.db)
        self.uploads = Uploads(self.db)
        self.jobs = JobQueue(self.db)
        self.quota = SharedKeyQuota(self.db)
        self.notices = Notices(self.db)
        self.outcomes = Outcomes(self.db)
        self.profiles = Profiles(self.db)
        self.backfills = Backfills(self.db)

    async def migrate(self) -> None:
        await self.db.migrate()

    async def check_secret(self) -> None:
        await self.db.check_secret()

    async def ping(self) -> None:
        """Raises unless the database answers now (what /healthz asks)."""
        await self.db.ping()

    async def close(self) -> None:
        await self.db.close()


__all__ = [
    "ChatSettings",
    "FileCount",
    "JobRecord",
    "Prefs",
    "Profile",
    "Stats",
    "Store",
    "database_unavailable",
]
