"""A real `mlflow server` process for tests: SQLite backend, local artifacts, 127.0.0.1.

    with MlflowServer(tmp_path) as server:
        env["MLFLOW_TRACKING_URI"] = server.url

Artifacts are served by the server itself (`--artifacts-destination`), so clients need no
access to its folder, as with a shared tracking server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

START_SECONDS = 180  # a fresh SQLite store runs its migrations first; slow on a busy machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MlflowServer:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.root / "mlflow-server.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> MlflowServer:
        """Start on a free port; a port taken between the pick and the bind (another test,
        another process) is picked again, a few times, instead of failing the test."""
        for _ in range(3):
            if self._started():
                return self
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
        raise RuntimeError(f"mlflow server found no free port:\n{self.log.read_text()[-2000:]}")

    def _started(self) -> bool:
        """True once /health answers; False when the port was taken; raises otherwise."""
        self.root.mkdir(parents=True, exist_ok=True)
        mlflow = Path(sys.executable).parent / "mlflow"
        store, artifacts = f"sqlite:///{self.root / 'mlflow.db'}", str(self.root / "artifacts")
        command = [str(mlflow), "server", "--host", "127.0.0.1", "--port", str(self.port),
                   "--backend-store-uri", store, "--artifacts-destination", artifacts,
                   "--workers", "1"]  # fmt: skip
        # No background job runner (huey consumers): ten more processes a test does not use.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.log.write_bytes(b"")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env,
                                            start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "address already in use" in self.log.read_text().lower():
                    return False
                raise RuntimeError(f"mlflow server exited:\n{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return True
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer in {START_SECONDS} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # its own session: uvicorn children too
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
