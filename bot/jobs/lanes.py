"""The lanes work waits in, per process: who gets the next upload slot or link fetch.

Live platform files take one of ``UPLOAD_CONCURRENCY`` upload slots; while anyone else waits,
one user holds at most half of them, so a user who sends twenty photos cannot make another's
one wait behind all of them. Background work (a backfill) takes at most its own limit of the
same slots, and only slots no live upload waits for. Links are fetched in a lane of their own
(``LINK_CONCURRENCY``, at most two per user), so a stranger's slow server never holds an
upload slot: a link's file takes an upload slot only once it is whole on disk. The host so
never receives more than ``UPLOAD_CONCURRENCY`` uploads at once from one process.

Slots are granted in the order asked, skipping a request that the rules hold back for now.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field

LINKS_PER_USER = 2


@dataclass(slots=True)
class _Request:
    owner: Hashable
    background: bool
    granted: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class FairSlots:
    """``size`` slots. ``share``: what one owner holds while another owner waits (None: no such
    rule). ``most``: what one owner ever holds (None: no cap). ``background``: what background
    requests hold together, granted only when no other request waits."""

    def __init__(
        self,
        size: int,
        *,
        share: int | None = None,
        most: int | None = None,
        background: int = 0,
    ) -> None:
        self.size = size
        self._share = share
        self._most = most
        self._background = background
        self._held: Counter[Hashable] = Counter()
        self._background_held = 0
        self._waiting: deque[_Request] = deque()

    @contextlib.asynccontextmanager
    async def slot(self, owner: Hashable, *, background: bool = False) -> AsyncIterator[None]:
        """Holds one slot for ``owner`` while the block runs, after waiting its turn."""
        request = _Request(owner, background)
        self._waiting.append(request)
        self._grant()
        try:
            await request.granted
        except BaseException:
            if request.granted.done() and not request.granted.cancelled():
                self._release(request)  # granted as it was cancelled: give it back
            else:
                self._waiting.remove(request)
                self._grant()
            raise
        try:
            yield
        finally:
            self._release(request)

    def held(self, owner: Hashable) -> int:
        return self._held[owner]

    def waiting(self, owner: Hashable) -> bool:
        """Whether ``owner`` has a request waiting for a slot."""
        return any(request.owner == owner for request in self._waiting)

    @property
    def free(self) -> int:
        return self.size - sum(self._held.values())

    def _release(self, request: _Request) -> None:
        self._held[request.owner] -= 1
        if not self._held[request.owner]:
            del self._held[request.owner]
        if request.background:
            self._background_held -= 1
        self._grant()

    def _grant(self) -> None:
        while self.free > 0:
            request = next((r for r in self._waiting if self._may_take(r)), None)
            if request is None:
                return
            self._waiting.remove(request)
            self._held[request.owner] += 1
            if request.background:
                self._background_held += 1
            request.granted.set_result(None)

    def _may_take(self, request: _Request) -> bool:
        held = self._held[request.owner]
        if self._most is not None and held >= self._most:
            return False
        if request.background:
            live_waiting = any(not r.background for r in self._waiting)
            return not live_waiting and self._background_held < self._background
        if self._share is None or held < self._share:
            return True
        return not any(r.owner != request.owner and not r.background for r in self._waiting)


@dataclass(frozen=True, slots=True)
class Lanes:
    """The slots of one process: uploads (live and background) and link fetches."""

    uploads: FairSlots
    links: FairSlots

    @classmethod
    def of(cls, upload_concurrency: int, link_concurrency: int, background: int) -> Lanes:
        return cls(
            FairSlots(
                upload_concurrency,
                share=max(1, upload_concurrency // 2),
                background=min(background, upload_concurrency),
            ),
            FairSlots(link_concurrency, most=LINKS_PER_USER),
        )
