"""Where the streamed `drift` makes Evidently's HTML report: in a child process for a large
window, here for a small one.

Importing Evidently is seconds of Python class building. In a thread of this process it takes
turns with the reading and counting for the interpreter lock; in a child process it runs on
another core meanwhile. The child imports Evidently at once, waits for the rows the report is
drawn from (at most drift_stream.REPORT_ROWS per side, already binned), writes drift.html and
exits. A small window has little reading to overlap, and a process that runs `drift` more than
once (the tests) imports Evidently once: there the import runs in a thread and the report is
made here. The verdicts are computed by this process either way; only the HTML moves.

Run as the command itself (`PACKAGE drift`, not main(argv) from Python), the CLI starts the
child before it even imports the verb (start_early), so Evidently's import also overlaps those
imports; that child makes the report at any window size, and is stopped unused when this
process needs Evidently itself, or the memory engine runs, or the verb fails first.
"""

import gc
import importlib
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

from ..config import CliError

CHILD_ROWS = 100_000  # current rows from which the report is made in a child process
CLI_ERROR = 2  # the child's exit code for a CliError, whose sentence it prints on stderr


_early = []  # the Child start_early() started, until reporter() takes it or stop_early()


def start_early():
    """Start the child now, before the verb's imports and reading: `drift` run as a command."""
    _early.append(Child())


def stop_early():
    """Stop a child start_early() started that nothing took: no process is left behind."""
    while _early:
        _early.pop().close()


def reporter(rows, here=False):
    """The child started early, else a Child for a window of CHILD_ROWS rows or more, else
    Here; Here as well when this process needs Evidently itself (`here`: a column whose method
    Evidently computes), and then an early child is stopped."""
    if here:
        stop_early()
        return Here()
    if _early:
        return _early.pop()
    return Child() if rows >= CHILD_ROWS else Here()


class Here:
    """Evidently imported in a thread now (the report's own import later finds it done, or
    waits for it: imports hold a lock), the report made in this process."""

    def __init__(self):
        module = "evidently.presets"
        threading.Thread(target=importlib.import_module, args=(module,), daemon=True).start()

    def report(self, *job):
        """Evidently's snapshot of drift.run_evidently(*job)."""
        from .drift import run_evidently

        return run_evidently(*job)

    def close(self):
        pass


class Child:
    """A child process started now: it imports Evidently while this one reads."""

    def __init__(self):
        src = str(Path(__file__).resolve().parents[2])  # this package's folder: it may not be
        path = [src, os.environ.get("PYTHONPATH", "")]  # installed (the tests run from src/)
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, path))),
        )
        self.job = None

    def report(self, *job):
        """The report to make: what save_html sends the child."""
        self.job = job
        return self

    def save_html(self, path):
        _, said = self.process.communicate(pickle.dumps((self.job, str(path))))
        if self.process.returncode:
            lines = said.decode(errors="replace").strip().splitlines() or ["(nothing said)"]
            if self.process.returncode == CLI_ERROR:
                raise CliError(lines[-1])
            raise CliError(f"The process making Evidently's drift report failed: {lines[-1]}")

    def close(self):
        """Stop a child that was never sent its report (the comparison failed first)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()  # reaps it and closes its pipes


def main():
    # Importing Evidently builds a few hundred thousand objects that live as long as this
    # process: the collector's passes over them during the import find nothing to free, and at
    # exit the interpreter's final passes over them took seconds. So the import runs with the
    # collector off, and what it built is then frozen out of every later pass.
    gc.disable()
    import evidently.presets  # noqa: F401  (what this process is for: before the job comes)

    gc.freeze()
    gc.enable()
    from .drift import run_evidently

    job, path = pickle.loads(sys.stdin.buffer.read())
    try:
        run_evidently(*job).save_html(path)
    except CliError as error:
        print(error, file=sys.stderr)
        return CLI_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
