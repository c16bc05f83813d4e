"""Webhook mode: an HTTP server for Telegram's POSTs, answering 200 only once stored.

A POST without the secret token gets 403. Each update goes through the core's
rule (``bot.platform.updates``): one whose upload could not be stored gets 500, so
Telegram sends it again; one that cannot be parsed, or whose handler keeps
failing, gets 200 once it is logged and counted, so that it is not sent again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram.ext import Application

from adapters.telegram.updates import Handling

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105  # a header name, not a secret
Handler = Callable[[web.Request], Coroutine[Any, Any, web.Response]]


async def serve_webhook(
    app: Application,  # type: ignore[type-arg]
    handling: Handling,
    *,
    url: str,
    listen: str,
    secret: str,
    allowed_updates: list[str],
    registered: Callable[[], None],
) -> None:
    """Serves until cancelled; the webhook is registered once the server listens, and then
    ``registered`` is called."""
    host, _, port = listen.rpartition(":")
    server = web.Application()
    server.router.add_post(urlsplit(url).path or "/", _handler(handling, secret))
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, int(port)).start()
    try:
        await app.bot.set_webhook(url, secret_token=secret, allowed_updates=allowed_updates)
        registered()
        log.info("webhook server listening on %s", listen)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def _handler(handling: Handling, secret: str) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        if not secrets.compare_digest(request.headers.get(SECRET_HEADER, ""), secret):
            return web.Response(status=403)
        try:
            item = await request.json()
        except ValueError:
            item = None  # not JSON: it cannot be parsed either
        update = handling.parse(item)
        if update is None:
            return web.Response(status=200)
        outcome = await handling.handle(update)
        return web.Response(status=200 if outcome.acknowledged else 500)

    return handle
