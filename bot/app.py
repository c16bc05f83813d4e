"""The core, wired from settings: one store, one host client, the service, the runner, commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Self

from bot.chevereto import CheveretoClient
from bot.commands import Commands
from bot.crypto import DecryptionFailed, Vault, read_or_create_secret
from bot.domain import Platform
from bot.errors import StartupFailed
from bot.intake import Intake
from bot.jobs import JobRunner
from bot.settings import Settings
from bot.store import Store
from bot.upload import UploadService


class Adapter(Protocol):
    """A platform adapter: registers its job handler on the runner, then runs until cancelled."""

    platform: Platform

    async def run(self) -> None: ...


@dataclass(slots=True)
class Core:
    settings: Settings
    store: Store
    client: CheveretoClient
    service: UploadService
    runner: JobRunner
    commands: Commands
    intake: Intake

    @classmethod
    async def start(cls, settings: Settings) -> Self:
        """Opens the store (migrating it) and builds every piece on it."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        secret = (
            settings.secret_key.get_secret_value()
            if settings.secret_key
            else read_or_create_secret(settings.data_dir / "secret.key")
        )
        store = Store(settings.sqlalchemy_url, Vault(secret))
        await store.migrate()
        try:
            await store.check_secret()
        except DecryptionFailed:
            await store.close()
            raise StartupFailed(
                "SECRET_KEY is not the key this database was encrypted with: set the one used "
                "before (every replica needs the same)"
            ) from None
        client = CheveretoClient(settings.chevereto_url)
        default_key = (
            settings.default_api_key.get_secret_value() if settings.default_api_key else None
        )
        service = UploadService(
            client,
            store,
            limits_mb={
                Platform.TELEGRAM: settings.telegram_max_upload_mb,
                Platform.DISCORD: settings.max_upload_mb,
            },
            temp_dir=settings.data_dir / "tmp",
            concurrency=settings.upload_concurrency,
            default_key=default_key,
        )
        runner = JobRunner(store, service, jobs_in_flight=2 * settings.upload_concurrency)
        commands = Commands(store, client, site=settings.chevereto_url, default_key=default_key)
        intake = Intake(store, service, runner)
        return cls(settings, store, client, service, runner, commands, intake)

    async def close(self) -> None:
        await self.client.aclose()
        await self.store.close()
