"""Adaptive micro-batching: concurrent single-record requests share one predict call.

Scoring one row costs about as much as scoring a hundred (pandas and the ColumnTransformer
dominate, not the arithmetic), so the server queues records and scores them together. The
batch adapts to the load: while one batch is being scored on the predict thread, the
requests that arrive meanwhile queue up and form the next one. A short window (`serve.
batch_window_ms`) lets a few more join before scoring starts; a full batch
(`serve.batch_max_rows`) goes at once. Scoring runs on one dedicated thread, so the event
loop keeps accepting and answering requests while the model works.
"""

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor


class MicroBatcher:
    def __init__(self, score, window_ms, max_rows, thread_setup=None):
        """`score(records)` returns one result per record; it runs on the predict thread,
        which calls `thread_setup()` first."""
        self.score = score
        self.window = window_ms / 1000
        self.max_rows = max_rows
        self.executor = ThreadPoolExecutor(1, "predict", initializer=thread_setup)
        self._pending = []  # (record, future) in arrival order
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()

    async def submit(self, record):
        """Queue one record; returns its result once its batch has been scored."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((record, future))
        self._arrived.set()
        if len(self._pending) >= self.max_rows:
            self._full.set()
        return await future

    async def run_on_thread(self, function, *args):
        """Run `function(*args)` on the predict thread, e.g. to score a whole batch request."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    async def run(self):
        """The batching loop; runs for the life of the server (cancel the task to stop)."""
        while True:
            await self._arrived.wait()
            if self.window and len(self._pending) < self.max_rows:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.window)
            batch, self._pending = self._pending[: self.max_rows], self._pending[self.max_rows :]
            self._full.clear()
            if not self._pending:
                self._arrived.clear()
            await self._score(batch)

    async def _score(self, batch):
        try:
            results = await self.run_on_thread(self.score, [record for record, _ in batch])
        except Exception as error:  # the requests of this batch fail; the loop goes on
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # the client may have gone away meanwhile
                future.set_result(result)

    def close(self):
        self.executor.shutdown(wait=True, cancel_futures=True)
