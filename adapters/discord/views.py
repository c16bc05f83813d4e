"""How a core Reply looks on Discord: plain text in messages of 2000 characters, with buttons.

Texts are rendered as plain text (markdown escaped, links left alone), so a
file named ``my_cat_.png`` shows as typed.

An action button (``del:12``) is sent as a plain button that discord.py does
not keep in its view store; clicks on it, in any message and after any restart,
reach :class:`ActionButton`, registered once on the client. Keeping a view per
message would grow memory with every upload, and discord.py forgets a
``DynamicItem``'s registration when a view holding one times out (ephemeral
views do after 15 minutes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

import discord

from bot.domain import Button, Reply, Text, Visibility
from bot.texts import Language, code_spans, render, render_marked, split

MESSAGE_MAX = 2000
ACTION = re.compile(r"[a-z]+:[0-9]+")
"""Every action the core puts on a button: a verb and an upload id."""
MAX_BUTTONS = 25
LABEL_MAX = 80


@dataclass(frozen=True, slots=True)
class Piece:
    """One Discord message of a reply; only the last one carries the buttons."""

    content: str
    view: discord.ui.View
    secret: bool = False
    """Holds a delete link: sent with embeds suppressed, never into a guild channel."""
    ephemeral: bool = False
    """For the user's eyes only: ephemeral on an interaction."""


def plain(text: Text, language: Language) -> str:
    return discord.utils.escape_markdown(render(text, language))


def _markdown(marked: str) -> str:
    """A marked rendering as Discord markdown: the text escaped, each code span a code block
    (copied whole, never read as markdown)."""
    text, spans = code_spans(marked)
    out, at = [], 0
    for start, end in spans:
        out.append(discord.utils.escape_markdown(text[at:start]))
        out.append("```\n" + text[start:end].replace("```", "`\u200b``") + "\n```")
        at = end
    out.append(discord.utils.escape_markdown(text[at:]))
    return "".join(out)


def _chunks(marked: str) -> list[str]:
    """The markdown of a marked rendering in messages of at most ``MESSAGE_MAX`` characters:
    escapes and code fences make a chunk longer than its text, so it is cut shorter."""
    limit = MESSAGE_MAX
    while True:
        chunks = [_markdown(chunk) for chunk in split(marked, limit)]
        if limit <= MESSAGE_MAX // 4 or all(len(chunk) <= MESSAGE_MAX for chunk in chunks):
            return chunks
        limit -= MESSAGE_MAX // 8


def is_ephemeral(reply: Reply) -> bool:
    return reply.visibility is not Visibility.PUBLIC or reply.secret


def pieces(reply: Reply, language: Language) -> list[Piece]:
    chunks = _chunks(render_marked(reply.text, language))
    views = [discord.ui.View() for _ in chunks[:-1]] + [build_view(reply.buttons, language)]
    flags = (reply.secret, is_ephemeral(reply))
    return [Piece(chunk, view, *flags) for chunk, view in zip(chunks, views, strict=True)]


@runtime_checkable
class ActionHandler(Protocol):
    """The client, as the action button sees it."""

    async def on_action(self, interaction: discord.Interaction, action: str) -> None: ...


class SentAction(discord.ui.Button[discord.ui.View]):
    """An action button as sent: not dispatchable, so no view store keeps it."""

    def is_dispatchable(self) -> bool:
        return False


class ActionButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=ACTION.pattern
):
    """Receives the clicks on every action button and hands them to the client."""

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(discord.ui.Button(custom_id=match.group(0)))

    async def callback(self, interaction: discord.Interaction) -> Any:
        client = interaction.client
        if isinstance(client, ActionHandler) and self.custom_id is not None:
            await client.on_action(interaction, self.custom_id)


def build_view(buttons: tuple[Button, ...], language: Language) -> discord.ui.View:
    """URL buttons become link buttons, action buttons :class:`SentAction` ones."""
    view = discord.ui.View(timeout=None)
    for button in buttons[:MAX_BUTTONS]:
        label = render(button.label, language)[:LABEL_MAX]
        if button.url is not None:
            view.add_item(
                discord.ui.Button(style=discord.ButtonStyle.link, label=label, url=button.url)
            )
        elif button.action is not None:
            view.add_item(SentAction(label=label, custom_id=button.action))
    return view
