"""Core replies as the fake service's messages: who may see them, buttons, previews, status.

A reply holding a delete link (``secret``) only ever goes to the user's private
chat, with link previews off: a preview would open the link, and opening it
deletes the upload. A private chat's id is its user's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bot.domain import Reply, Text, Visibility
from bot.payloads import JobSpec
from bot.texts import Language, render


@dataclass(frozen=True, slots=True)
class Where:
    """Where a request came from: its chat, its user, the message to answer."""

    chat: str
    user: str
    reply_to: str | None
    private: bool

    @classmethod
    def of_job(cls, job: JobSpec) -> Where:
        return cls(job.chat.id, job.user.id, job.answer.reply_to, job.chat.is_private)

    def toward(self, to_user: bool) -> tuple[str, str | None]:
        """The chat to send to and the message to reply to there; a reply for the user alone
        that was asked for in a group goes to their private chat, replying to nothing."""
        if not to_user or self.private:
            return self.chat, self.reply_to
        return self.user, None


def for_user_alone(reply: Reply) -> bool:
    """USER_ONLY, PRIVATE_TO_USER and secrets: the service has no message only one member
    of a group sees, so these go to the user's private chat unless they came from there."""
    return reply.visibility is not Visibility.PUBLIC or reply.secret


def _buttons(reply: Reply, language: Language) -> list[dict[str, Any]]:
    return [
        {"label": render(b.label, language), **({"url": b.url} if b.url else {"action": b.action})}
        for b in reply.buttons
        if b.url or b.action
    ]


def _message(reply: Reply, language: Language) -> dict[str, Any]:
    return {
        "text": render(reply.text, language),
        "buttons": _buttons(reply, language),
        "previews": not reply.secret,
    }


class Outbound:
    """Sends replies; a job's one status message (its id, ``status``, which the core keeps in
    the job) is edited rather than sent again."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def send(self, reply: Reply, where: Where, language: Language) -> bool:
        """Sends one reply where its visibility allows; False when it was meant for the
        user's private chat and the user closed it to the bot."""
        to_user = for_user_alone(reply)
        chat, reply_to = where.toward(to_user)
        if to_user:
            return await self.tell(chat, reply, language, reply_to)
        (await self._post(chat, reply_to, reply, language)).raise_for_status()
        return True

    async def tell(
        self, user: str, reply: Reply, language: Language, reply_to: str | None = None
    ) -> bool:
        """Sends a reply to the user's private chat (its id is theirs); False when they closed
        it to the bot."""
        response = await self._post(user, reply_to, reply, language)
        if response.status_code == 403:
            return False
        response.raise_for_status()
        return True

    async def _post(
        self, chat: str, reply_to: str | None, reply: Reply, language: Language
    ) -> httpx.Response:
        message = {"chat": chat, "reply_to": reply_to, **_message(reply, language)}
        return await self._http.post("/messages", json=message)

    async def deliver(self, job: JobSpec, reply: Reply, status: str | None) -> bool:
        """A job's reply; one for the job's own chat (in a private chat, the one answer with
        its delete link, previews off) replaces the status message when there is one (one
        that is gone is replaced by a new message)."""
        where = Where.of_job(job)
        in_place = where.private or not for_user_alone(reply)
        if in_place and status is not None:
            edited = await self._http.post(
                f"/messages/{status}/edit", json=_message(reply, job.language)
            )
            if edited.status_code == 200:
                return True
        return await self.send(reply, where, job.language)

    async def progress(self, job: JobSpec, text: Text, status: str | None) -> str | None:
        """Edits the job's status message, or sends one (one that is gone, anew); its id."""
        where = Where.of_job(job)
        shown = {"text": render(text, job.language), "previews": False}
        if status is not None:
            edited = await self._http.post(f"/messages/{status}/edit", json=shown)
            if edited.status_code != 404:
                edited.raise_for_status()
                return status
        sent = await self._http.post(
            "/messages", json={"chat": where.chat, "reply_to": where.reply_to, **shown}
        )
        sent.raise_for_status()
        return str(sent.json()["id"])
