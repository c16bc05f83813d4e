"""The real Telegram adapter against the fake Bot API: its settings, and what every test checks."""

from __future__ import annotations

from typing import Any

from adapters.telegram.settings import TelegramSettings
from bot.app import Core
from bot.chevereto.probe import probe_png
from bot.domain import UserRef
from tests.conftest import OTHER_KEY
from tests.support.fakes.telegram_api import TEST_TOKEN, FakeTelegram
from tests.support.jobs import unfinished_jobs

ALICE_ID, BOB_ID, GROUP_ID = 1001, 1002, -100500


def telegram_for(
    telegram: FakeTelegram, *, token: str = TEST_TOKEN, **extra: Any
) -> TelegramSettings:
    """TELEGRAM_* pointing at the fake Bot API; ``extra`` sets more (``webhook_url=...``)."""
    return TelegramSettings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=token,
        api_url=telegram.api_url,
        file_url=telegram.file_url,
        **extra,
    )


def assert_delete_links_private(fake: FakeTelegram) -> None:
    for message in fake.sent:
        if "/delete/" in (message.get("text") or ""):
            assert int(message["chat_id"]) > 0, "a delete link was sent to a group"
            assert message["preview_disabled"], "a delete link was sent with a link preview"


async def all_answered(core: Core) -> bool:
    return await unfinished_jobs(core.store) == 0


async def handled(telegram: FakeTelegram, update_id: int) -> None:
    """Returns once the bot acknowledged ``update_id``: its handlers have run."""
    await telegram.wait_for_call("getUpdates", lambda p: int(p.get("offset", 0)) > update_id)


def texts_to(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [m["text"] for m in telegram.sent if m["chat_id"] == chat_id]


def history(telegram: FakeTelegram, chat_id: int) -> dict[int, list[dict[str, Any]]]:
    """Each bot message in the chat (by id): its sending, then each edit, in order."""
    messages: dict[int, list[dict[str, Any]]] = {}
    for record in telegram.sent:
        if record["chat_id"] == chat_id:
            messages.setdefault(record["message_id"], []).append(record)
    return messages


def photo_update(telegram, chat, user, *, data=None, **kwargs):
    ref = telegram.add_file(data if data is not None else probe_png(), mime_type="image/png")
    return telegram.message_update(chat, user, photo=ref, **kwargs)


def buttons(message) -> list[dict]:
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def url_buttons(message) -> list[str]:
    """The URLs of the message's link buttons, in order."""
    return [b["url"] for b in buttons(message) if "url" in b]


def action_buttons(message) -> list[str]:
    """The callback data of the message's action buttons (Delete, ...), in order."""
    return [b["callback_data"] for b in buttons(message) if "callback_data" in b]


def user_ref(user_id: int) -> UserRef:
    return UserRef("telegram", str(user_id))


async def mirror_on(core: Core, telegram: FakeTelegram) -> None:
    """Bob, an admin with a key, turns mirroring on; the bot is an admin so it sees photos."""
    await core.store.keys.link(user_ref(BOB_ID), OTHER_KEY)
    telegram.set_chat_member(GROUP_ID, telegram.bot_id, "administrator")
    telegram.set_chat_member(GROUP_ID, BOB_ID, "administrator")
    bob = telegram.user(BOB_ID, first_name="Bob")
    telegram.push_update(
        telegram.message_update(telegram.group_chat(GROUP_ID), bob, text="/mirror on")
    )
    await telegram.wait_for(lambda m: "Mirroring is on" in (m["text"] or ""))
