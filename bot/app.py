"""The core, wired from settings: one store, one host client and its watch, the service, the
runner, commands.

Platforms plug in with ``connect``: the core learns their size limit, their own
sentences and how to run their jobs, and names none of them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Self

from bot.access import Access
from bot.backfill.control import BackfillControl
from bot.backfill.runner import BackfillRunner
from bot.chevereto import CheveretoClient
from bot.commands import Commands
from bot.crypto import DecryptionFailed, Vault, read_or_create_secret
from bot.errors import StartupFailed
from bot.intake import Intake
from bot.jobs.lanes import LINKS_PER_USER, Lanes
from bot.jobs.outage import HostWatch
from bot.jobs.runner import JobRunner
from bot.links.fetcher import LinkFetcher
from bot.ops.admins import AdminNotices
from bot.ops.monitor import Monitor
from bot.ops.transfer import KB, Floor
from bot.platform import Platform, PlatformSettings, PlatformTexts
from bot.platform.surface import Environment, PlatformCore
from bot.settings import Settings
from bot.sharing import Sharing
from bot.store import Store
from bot.tuning import Tuning
from bot.upload.service import MB, UploadService


@dataclass(slots=True)
class Core:
    settings: Settings
    store: Store
    client: CheveretoClient
    service: UploadService
    runner: JobRunner
    commands: Commands
    intake: Intake
    monitor: Monitor
    sharing: Sharing
    watch: HostWatch
    """The host, up or down; run beside the job runner (``watch.run()``)."""
    backfills: BackfillControl
    backfill_runner: BackfillRunner
    platforms: dict[str, Platform] = field(default_factory=dict)
    tuning: Tuning = field(default_factory=Tuning)
    """The timings the core was built with; adapters read ``tuning.reconnect``."""

    @classmethod
    async def start(cls, settings: Settings, tuning: Tuning | None = None) -> Self:
        """Opens the store (migrating it) and builds every piece on it."""
        tuning = tuning or Tuning()
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
        floor = Floor(settings.min_transfer_kbps * KB, tuning.transfer_window_s)
        client = CheveretoClient(
            settings.chevereto_url,
            timeout=tuning.host_timeout,
            timeout_per_mb=tuning.host_timeout_per_mb,
            tries=tuning.host_tries,
            backoff=tuning.host_backoff,
            max_answer_kb=settings.max_host_answer_kb,
            floor=floor,
        )
        default_key = (
            settings.default_api_key.get_secret_value() if settings.default_api_key else None
        )
        platforms: dict[str, Platform] = {}

        def limit_mb(name: str) -> int:
            return platforms[name].size_limit_mb()

        def texts(name: str) -> PlatformTexts:
            return platforms[name].texts

        monitor = Monitor(store)
        watch = HostWatch(
            client,
            monitor,
            tuning,
            patience=settings.host_outage_patience,
            site=settings.chevereto_url,
            notify=AdminNotices(settings.bot_admins, platforms, store).tell,
        )
        access = Access(settings.allowed_users, settings.allowed_chats, settings.bot_admins)
        service = UploadService(
            client,
            store,
            limit_mb=limit_mb,
            temp_dir=settings.data_dir / "tmp",
            lanes=Lanes.of(
                settings.upload_concurrency,
                settings.link_concurrency,
                settings.backfill_concurrency,
            ),
            monitor=monitor,
            default_key=default_key,
            shared_key_daily_limit=settings.shared_key_daily_limit,
            links=LinkFetcher(
                allow_private=settings.fetch_private_addresses,
                limit_bytes=settings.max_upload_mb * MB,
                connect_timeout=min(10.0, tuning.link_timeout),
                read_timeout=tuning.link_timeout,
                floor=floor,
                deadline_s=settings.link_deadline,
            ),
            floor=floor,
            watch=watch,
        )
        runner = JobRunner(
            store,
            service,
            tuning,
            monitor=monitor,
            jobs_in_flight=2 * settings.upload_concurrency + settings.link_concurrency,
            jobs_per_user=settings.upload_concurrency + LINKS_PER_USER,
            watch=watch,
        )
        commands = Commands(
            store,
            client,
            site=settings.chevereto_url,
            default_key=default_key,
            texts=texts,
            access=access,
            host_down_since=lambda: watch.down_since,
        )
        intake = Intake(
            store,
            service,
            runner,
            access,
            max_waiting_jobs=tuning.max_waiting_jobs,
            max_album_items=tuning.max_album_items,
        )
        sharing = Sharing(store, access)
        backfill_runner = BackfillRunner(
            store,
            service,
            platforms,
            tuning,
            concurrency=settings.backfill_concurrency,
            watch=watch,
        )
        backfills = BackfillControl(store, backfill_runner, platforms)
        return cls(
            settings,
            store,
            client,
            service,
            runner,
            commands,
            intake,
            monitor,
            sharing,
            watch,
            backfills,
            backfill_runner,
            platforms,
            tuning,
        )

    async def work(self, *, jobs: bool = True) -> None:
        """The core's own work, until cancelled: the host watch, and (unless ``jobs`` is False)
        the job runner and the backfill runner. On a cancel the job runner lets the answers
        being sent finish."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.watch.run(), name="host watch")
            if jobs:
                group.create_task(self.runner.run(), name="jobs")
                group.create_task(self.backfill_runner.run(), name="backfills")

    @property
    def inbound(self) -> PlatformCore:
        """All a platform may call in the core: the inbound half of the contract."""
        settings = self.settings
        environment = Environment(
            settings.data_dir, settings.max_upload_mb, settings.bot_admins, self.tuning
        )
        return PlatformCore(
            environment,
            self.commands,
            self.intake,
            self.sharing,
            self.backfills,
            self.monitor,
            self.store,
        )

    def connect(self, settings: PlatformSettings) -> Platform:
        """Builds a platform's adapter on this core's inbound surface and runs its jobs; start
        it with ``run``."""
        platform = settings.connect(self.inbound)
        self.platforms[platform.name] = platform
        self.runner.register(platform.name, platform)
        return platform

    async def close(self) -> None:
        await self.client.aclose()
        await self.store.close()
