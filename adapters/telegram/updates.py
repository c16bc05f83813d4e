"""Telegram updates one by one, each under the core's rule (``bot.platform.updates``).

PTB's ``Bot.get_updates`` parses a whole batch at once: one update it cannot
parse (one newer than the library) raises for all of them, after logging the
raw batch, and the offset never moves past it. Here getUpdates' answer stays
raw, each update is parsed alone, and one that cannot be parsed costs only
itself. PTB's ``process_update`` hands a handler's exception to the error
handlers instead of raising it; ours gives it back to the rule.
"""

from __future__ import annotations

import contextvars
from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes, ExtBot

from bot.platform.updates import Outcome, UpdateRef, Updates

_failures: contextvars.ContextVar[list[Exception]] = contextvars.ContextVar("failures")
"""The exceptions of the update being processed in this context, from its blocking handlers."""


class PollingBot(ExtBot[Any]):
    """PTB's bot, whose getUpdates answer is left unparsed."""

    async def raw_updates(
        self, offset: int, wait_s: int, allowed_updates: list[str]
    ) -> list[object]:
        """getUpdates, long polling ``wait_s``, with the read timeout PTB's ``get_updates``
        gives it (the request's own, plus the long poll's)."""
        read_timeout = (self._request[0].read_timeout or 0) + wait_s
        data = {"offset": offset, "timeout": wait_s, "allowed_updates": allowed_updates}
        return list(await self._post("getUpdates", data, read_timeout=read_timeout))


def update_id_of(item: object) -> int | None:
    """The update_id of a raw update, if it has one."""
    update_id = item.get("update_id") if isinstance(item, dict) else None
    return update_id if isinstance(update_id, int) else None


def _json_object(item: object) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise TypeError("an update is a JSON object")
    return item


def _raw_ref(item: object) -> UpdateRef:
    """A raw update's type (its one field besides update_id) and id."""
    fields = [key for key in item if key != "update_id"] if isinstance(item, dict) else []
    update_id = update_id_of(item)
    return UpdateRef(
        fields[0] if fields else "update", None if update_id is None else str(update_id)
    )


def ref_of(update: object) -> UpdateRef:
    """A parsed update's type and id (PTB's error handlers may also be given other objects)."""
    if not isinstance(update, Update):
        return UpdateRef("update")
    kind = next((str(k) for k in Update.ALL_TYPES if getattr(update, k, None) is not None), None)
    return UpdateRef(kind or "update", str(update.update_id))


class Handling:
    """Parses updates and runs them through the Application, under ``updates``."""

    def __init__(self, app: Application, updates: Updates) -> None:  # type: ignore[type-arg]
        self._app = app
        self._updates = updates
        app.add_error_handler(self._failed)

    def parse(self, item: object) -> Update | None:
        """The update, or None when it cannot be parsed: then it is logged, counted, and to be
        acknowledged."""
        try:
            return Update.de_json(_json_object(item), self._app.bot)
        except Exception as error:
            self._updates.unparsable(_raw_ref(item), error)
            return None

    async def handle(self, update: Update) -> Outcome:
        """Its handlers run, tried again or not as the rule says; whether it is acknowledged."""
        return await self._updates.handle(ref_of(update), lambda: self._process(update))

    async def _process(self, update: Update) -> None:
        """``process_update``, raising what its blocking handlers raised."""
        failures: list[Exception] = []
        token = _failures.set(failures)
        try:
            await self._app.process_update(update)
        finally:
            _failures.reset(token)
        if failures:
            raise failures[0]

    async def _failed(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """PTB's error handler. A blocking handler runs inside ``_process``, in its context, so
        its error goes back there; a handler PTB ran as a task of its own (``coroutine`` set)
        finished after its update was acknowledged."""
        error = context.error
        if error is None:
            return
        failures = _failures.get(None)
        if context.coroutine is None and failures is not None:
            failures.append(error)
        else:
            self._updates.failed_detached(ref_of(update), error)
