"""The upload history: what each user uploaded, with its delete link sealed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import Vault
from bot.domain import ChatRef, HostImage, UploadRecord, UserRef
from bot.store.database import Database, now, patient
from bot.store.tables import Upload


@dataclass(frozen=True, slots=True)
class NewUpload:
    """A finished upload not recorded yet: who, where, which file, what the host answered."""

    user: UserRef
    chat: ChatRef
    filename: str
    image: HostImage


async def add_upload(s: AsyncSession, vault: Vault, new: NewUpload) -> UploadRecord:
    """Writes ``new`` in the session's transaction; the record returned is built from what was
    written, not read back. A job writes it together with its results (``JobQueue``)."""
    moment, image = now(), new.image
    filename = new.filename[:255]
    upload_id = await s.scalar(
        insert(Upload)
        .values(
            platform=new.user.platform,
            user_id=new.user.id,
            chat_id=new.chat.id,
            filename=filename,
            id_encoded=image.id_encoded,
            url_viewer=image.url_viewer,
            url_short=image.url_short,
            sealed_delete_url=vault.seal(image.delete_url),
            expires_at=image.expiration_date_gmt,
            created_at=moment,
            deleted=False,
        )
        .returning(Upload.id)
    )
    assert upload_id is not None
    return UploadRecord(
        id=upload_id,
        user=new.user,
        filename=filename,
        url_viewer=image.url_viewer,
        url_short=image.url_short,
        delete_url=image.delete_url,
        expires_at=image.expiration_date_gmt,
        created_at=moment,
    )


class Uploads:
    def __init__(self, db: Database) -> None:
        self._db = db

    @patient
    async def record(
        self, user: UserRef, chat: ChatRef, filename: str, image: HostImage
    ) -> UploadRecord:
        """Keeps one finished upload made outside a job; the record it returns is what was
        written."""
        async with self._db.session.begin() as s:
            return await add_upload(s, self._db.vault, NewUpload(user, chat, filename, image))

    def _record(self, row: Upload) -> UploadRecord:
        return UploadRecord(
            id=row.id,
            user=UserRef(row.platform, row.user_id),
            filename=row.filename,
            url_viewer=row.url_viewer,
            url_short=row.url_short,
            delete_url=self._db.vault.open(row.sealed_delete_url),
            expires_at=row.expires_at,
            created_at=row.created_at,
            deleted=row.deleted,
        )

    async def history(self, user: UserRef, limit: int = 10) -> list[UploadRecord]:
        """The user's last uploads not deleted through the bot, newest first."""
        async with self._db.session() as s:
            query = (
                select(Upload)
                .where(
                    Upload.platform == user.platform,
                    Upload.user_id == user.id,
                    Upload.deleted.is_(False),
                )
                .order_by(Upload.id.desc())
                .limit(limit)
            )
            return [self._record(row) for row in (await s.scalars(query)).all()]

    async def get(self, upload_id: int) -> UploadRecord | None:
        async with self._db.session() as s:
            row = await s.get(Upload, upload_id)
            return None if row is None else self._record(row)

    async def mark_deleted(self, upload_id: int) -> None:
        async with self._db.session.begin() as s:
            await s.execute(update(Upload).where(Upload.id == upload_id).values(deleted=True))
