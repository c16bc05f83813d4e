"""Discord users, channels and locales as the core's UserRef, ChatRef, Language and Context."""

from __future__ import annotations

import discord

from bot.commands import Context
from bot.domain import ChatKind, ChatRef, Platform, UserRef
from bot.store import Store
from bot.texts import Language, language_of


def user_ref(user: discord.abc.User) -> UserRef:
    return UserRef(Platform.DISCORD, str(user.id))


def chat_ref(channel_id: int, guild_id: int | None) -> ChatRef:
    """A guild channel (or thread) is a channel; anything outside a guild is the user's DM."""
    kind = ChatKind.PRIVATE if guild_id is None else ChatKind.CHANNEL
    return ChatRef(Platform.DISCORD, str(channel_id), kind)


def channel_id_of(interaction: discord.Interaction) -> int:
    if interaction.channel_id is None:
        raise ValueError("an interaction without a channel")
    return interaction.channel_id


async def context_of(interaction: discord.Interaction, store: Store) -> Context:
    """Who asked and where, in the language of their Discord client, which is remembered."""
    user = user_ref(interaction.user)
    language = language_of(str(interaction.locale))
    await store.remember_language(user, language)
    return Context(
        user,
        chat_ref(channel_id_of(interaction), interaction.guild_id),
        language,
        ephemeral=True,
        user_name=interaction.user.display_name,
    )


async def language_for(store: Store, user: UserRef, guild: discord.Guild | None) -> Language:
    """For a message, which carries no locale: the poster's last known one, else the guild's."""
    remembered = (await store.prefs(user)).language
    return language_of(remembered or (str(guild.preferred_locale) if guild else None))
