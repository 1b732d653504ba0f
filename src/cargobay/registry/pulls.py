"""Pull counting off the hot path.

A manifest GET (by tag or digest; never a HEAD) adds one to a per-repository counter in this
worker's memory, which costs a dict update. A background task adds the counts to the database
about once a second (`CatalogueStore.add_pulls`: one UPDATE per 500 repositories) and once more
when the worker stops. So up to about a second of pulls per worker can be lost if a worker
crashes or is killed; a failed flush keeps its counts for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator

from cargobay.metadata.catalogue import CatalogueStore

log = logging.getLogger("cargobay.pulls")

FLUSH_INTERVAL = 1.0


class PullCounter:
    def __init__(self, store: CatalogueStore, interval: float = FLUSH_INTERVAL) -> None:
        self.store = store
        self.interval = interval
        self._pending: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    def count(self, repository: str) -> None:
        """One pull of `repository` (its full name)."""
        self._pending[repository] += 1

    @property
    def pending(self) -> int:
        return sum(self._pending.values())

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, Counter()
        try:
            await self.store.add_pulls(batch)  # one transaction: all of the batch or none
        except asyncio.CancelledError:
            self._pending.update(batch)
            raise
        except Exception:
            log.exception("could not record %d pulls; will retry", sum(batch.values()))
            self._pending.update(batch)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="cargobay-pull-counter")

    async def stop(self) -> None:
        """Stop the background task and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def running(self, _app: object) -> AsyncIterator[None]:
        """For `web.Application.cleanup_ctx`: counts are flushed while the app runs and at exit."""
        self.start()
        yield
        await self.stop()
