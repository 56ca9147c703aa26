"""Keep CPython's garbage collector from pausing requests.

A server holds millions of long-lived objects (the model, scikit-learn, pandas, MLflow's
modules), and every full collection walks all of them: 0.2-1 s here, every few seconds under
load, which was most of the server's p99 at a fixed offered rate. Requests make short-lived
objects only, which reference counting frees at once. So after a model is loaded or swapped
in, `settle()` collects once (the old model's cycles go) and freezes what is left: frozen
objects sit in a permanent generation that collections skip, and the longest pause measured
under load fell to a few milliseconds. (A larger young-generation threshold was tried too: it
made fewer but longer pauses, 150 ms, so CPython's thresholds stay.)

Only the `serve` process does this (`own()`): a process that runs many apps one after the
other, as the tests do, would pay a full collection per app for nothing.
"""

import gc
import logging
import time

log = logging.getLogger(__name__)
_owned = False


def own():
    """This process is a server: settle the collector after every model load or swap."""
    global _owned
    _owned = True


def settle():
    """Collect everything once, then freeze the survivors; after a model load or swap."""
    if not _owned:
        return
    started = time.perf_counter()
    gc.unfreeze()  # a swapped-out model's objects get collected with the rest
    gc.collect()
    gc.freeze()
    log.info("froze %d objects out of the collector's way in %.0f ms",
             gc.get_freeze_count(), (time.perf_counter() - started) * 1000)  # fmt: skip
