"""The store: linked keys, preferences, chat settings, upload history and durable jobs."""

from bot.store.store import (
    ChatSettings,
    JobRecord,
    Prefs,
    Store,
    UploadRecord,
    database_unavailable,
)

__all__ = ["ChatSettings", "JobRecord", "Prefs", "Store", "UploadRecord", "database_unavailable"]
