"""Tables. Secrets (API keys, delete links, job results) are stored sealed by ``bot.crypto``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps them naive, so we add UTC back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}  # noqa: RUF012  # SQLAlchemy reads it as a class attribute


class LinkedKey(Base):
    __tablename__ = "linked_keys"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed_key: Mapped[str] = mapped_column(Text)
    linked_at: Mapped[datetime] = mapped_column()


class SecretCheck(Base):
    """One value sealed with SECRET_KEY: if it does not open, the key has changed."""

    __tablename__ = "secret_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)


class Preference(Base):
    __tablename__ = "preferences"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expiration: Mapped[str | None] = mapped_column(String(32))
    nsfw: Mapped[bool | None] = mapped_column(Boolean)
    album_id: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    embed_form: Mapped[str | None] = mapped_column(String(16))
    category_id: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    file_date: Mapped[bool | None] = mapped_column(Boolean)


class ChatSetting(Base):
    __tablename__ = "chat_settings"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mirror: Mapped[bool] = mapped_column(Boolean, default=False)
    mirror_by: Mapped[str | None] = mapped_column(String(64))


class Upload(Base):
    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_source", "platform", "source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16), index=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    chat_id: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    id_encoded: Mapped[str] = mapped_column(String(64))
    url_viewer: Mapped[str] = mapped_column(Text)
    url_short: Mapped[str] = mapped_column(Text)
    sealed_delete_url: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(String(100))
    thumb_url: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(64))
    """The platform's message and attachment it came from (``FileRef.source``), when known."""


class Job(Base):
    """One answer's worth of uploads (a photo, an album, a message's attachments).

    ``sealed_payload`` is adapter data to fetch the media again (file ids, message
    ids — never a URL holding a token) and to answer; ``sealed_results`` holds the
    items already done, so a resumed job does not upload them twice.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sealed_payload: Mapped[str] = mapped_column(Text)
    sealed_results: Mapped[str | None] = mapped_column(Text)
    group_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    """Set while the job collects an album's items; cleared when it is claimed."""
    worker: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()
    not_before: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class SharedKeyUse(Base):
    """Uploads one user made in one UTC day with a key that is not their own."""

    __tablename__ = "shared_key_uses"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class Notice(Base):
    """The day a user was last told something the bot says at most once a day."""

    __tablename__ = "notices"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date)


class FileOutcome(Base):
    """What became of one file, for /stats: no user, no name, no link — counts only."""

    __tablename__ = "file_outcomes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    at: Mapped[datetime] = mapped_column(index=True)


class HostErrorSeen(Base):
    """The last error the host gave (one row), for /stats."""

    __tablename__ = "host_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column()


class Backfill(Base):
    """One channel's history being re-hosted: who asked, with what, how far it got.

    ``active_channel`` is the channel (``platform:id``) while the backfill runs or is paused,
    NULL once it ended: unique, so one channel has one backfill at a time, across replicas.
    ``cursor`` is the last message whose every attachment has its row.
    """

    __tablename__ = "backfills"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    community: Mapped[str | None] = mapped_column(String(64))
    channel_id: Mapped[str] = mapped_column(String(64))
    active_channel: Mapped[str | None] = mapped_column(String(96), unique=True)
    admin_id: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    options: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(String(64))
    after_id: Mapped[str | None] = mapped_column(String(32))
    until_id: Mapped[str] = mapped_column(String(32))
    cursor: Mapped[str | None] = mapped_column(String(32))
    counts: Mapped[str] = mapped_column(Text)
    progress: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class BackfillRow(Base):
    """One attachment a backfill saw: the CSV's row."""

    __tablename__ = "backfill_rows"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    backfill_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), index=True
    )
    message_url: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column()
    attachment_id: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    original_url: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)
    viewer_url: Mapped[str | None] = mapped_column(Text)
    file_url: Mapped[str | None] = mapped_column(Text)
    thumbnail_url: Mapped[str | None] = mapped_column(Text)


def table_of(model: type[Base]) -> Table:
    """A model's table, for the Core statements of the job path (no ORM unit of work)."""
    return cast(Table, model.__table__)
