"""The commands on Telegram: one CommandHandler each, the media, button and inline query
handlers, and the command menu that clients show (setMyCommands), in English and Chinese."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from telegram import Bot, BotCommand, BotCommandScopeChat, Message
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from adapters.telegram.inbound import Command, Inbound
from adapters.telegram.inline import Inline
from bot.links.fetcher import single_link
from bot.texts import CATALOGS, Language

MEDIA = (
    filters.PHOTO
    | filters.VIDEO
    | filters.ANIMATION
    | filters.VIDEO_NOTE
    | filters.Document.ALL
    | filters.Sticker.ALL
)
POSTS = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
MENU_LANGUAGES: tuple[tuple[Language, str | None], ...] = (("en", None), ("zh", "zh"))
"""Each menu's language, and the client language it is shown to (None: everyone else)."""


class OneLink(filters.MessageFilter):
    """A message whose text is one http(s) link and nothing else."""

    def filter(self, message: Message) -> bool:
        return single_link(message.text) is not None


def commands_of(inbound: Inbound) -> dict[str, Command]:
    """Every command by its name, in the order of the menu."""
    return {
        "start": inbound.help,
        "help": inbound.help,
        "link": inbound.link,
        "unlink": inbound.unlink,
        "settings": inbound.settings,
        "expire": inbound.expire,
        "nsfw": inbound.nsfw,
        "album": inbound.album,
        "category": inbound.category,
        "width": inbound.width,
        "filedate": inbound.filedate,
        "format": inbound.format,
        "upload": inbound.upload,
        "mirror": inbound.mirror,
        "history": inbound.history,
        "stats": inbound.stats,
        "backfill": inbound.backfill,
    }


def register(app: Application, inbound: Inbound, inline: Inline) -> None:  # type: ignore[type-arg]
    """Commands, buttons and inline queries run concurrently; posted media is handled in order,
    so that the poll loop knows it was stored before it acknowledges the update."""
    for name, run in commands_of(inbound).items():
        app.add_handler(CommandHandler(name, inbound.command(run), filters=POSTS, block=False))
    app.add_handler(MessageHandler(POSTS & MEDIA, inbound.media))
    private_text = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & ~filters.COMMAND
    # A private message that is one link asks for its upload: stored like posted media.
    app.add_handler(MessageHandler(private_text & filters.TEXT & OneLink(), inbound.posted_link))
    app.add_handler(MessageHandler(private_text & ~MEDIA, inbound.not_media, block=False))
    app.add_handler(CallbackQueryHandler(inbound.button, block=False))
    app.add_handler(InlineQueryHandler(inline.query, block=False))


ADMIN_ONLY = frozenset({"stats"})
"""Commands shown in the menu of BOT_ADMINS' private chats only."""
NOT_IN_MENU = frozenset({"backfill"})
"""Commands answered here but not offered: /backfill only says why it cannot be."""


async def set_menus(bot: Bot, names: Iterable[str], admins: Iterable[str] = ()) -> None:
    """The command menu, in English for everyone and in Chinese for Chinese clients; the
    admins' private chats also show /stats."""
    names = [name for name in names if name not in NOT_IN_MENU]
    everyone = [name for name in names if name not in ADMIN_ONLY]
    for language, code in MENU_LANGUAGES:
        await bot.set_my_commands(_menu(everyone, language), language_code=code)
    for admin in admins:
        for language, code in MENU_LANGUAGES:
            # An admin who never opened a chat with the bot has no chat for a menu yet.
            with contextlib.suppress(TelegramError):
                await bot.set_my_commands(
                    _menu(names, language),
                    scope=BotCommandScopeChat(int(admin)),
                    language_code=code,
                )


def _menu(names: list[str], language: Language) -> list[BotCommand]:
    return [BotCommand(name, CATALOGS[language][f"command.{name}"]) for name in names]
