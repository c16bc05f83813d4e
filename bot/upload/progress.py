"""How far one file's upload is, as values the upload service writes and its job reads.

The service never calls back to say how it goes: it keeps a ``Transfer`` up to date, and
whoever shows progress (the job's status message) reads it when it wants to.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Waiting(enum.Enum):
    """What a file waits for before it moves, when that is worth telling its sender."""

    LINK_LANE = "link_lane"
    """The user's other links take the fetches one user may have at once."""
    HOST_DOWN = "host_down"
    """The host is down: the file goes up when it is back."""


@dataclass(slots=True)
class Transfer:
    """One file's upload: bytes sent of the total (0 of 0 until its body starts), and what it
    waits for now, if anything."""

    sent: int = 0
    total: int = 0
    waiting: Waiting | None = None

    def sending(self, sent: int, total: int) -> None:
        self.sent, self.total = sent, total

    async def report(self, sent: int, total: int) -> None:
        """The upload body's progress, as the host client hears of it chunk by chunk."""
        self.sending(sent, total)
