"""The `local` target: one `serve --alias <env>` process per environment on this machine.

The server follows its registry alias (it re-reads it every `serve.poll_seconds`), so a
rollout is: make sure the process runs (start it detached when it does not), then wait
until `/version` reports the pinned version. Rolling back is the same wait for the
previous version after `deploy` moved the alias back. The process, its pid and its log
outlive the command: `.deploy/<env>.json` and `.deploy/<env>.log`.
"""

import json
import os
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from ..config import PACKAGE, CliError, load_params
from ..serving.probe import call
from .desired_state import DeployFailed, shadow_alias

STATE_DIR = Path(".deploy")


class LocalTarget:
    def __init__(self, env, settings):
        self.env = env
        self.url = settings["server"]["url"].rstrip("/")
        parts = urlsplit(self.url)
        if not parts.hostname or not parts.port:
            raise CliError(f"deploy/{env}.yaml: server.url {self.url!r} needs a host and a port.")
        self.host, self.port = parts.hostname, parts.port
        self.timeout = float(settings["rollout"]["timeout_seconds"])
        timeouts = load_params()["timeouts"]
        self.stop_seconds, self.request_seconds = timeouts["server_stop"], timeouts["smoke_request"]
        self.state_file = STATE_DIR / f"{env}.json"
        self.log_file = STATE_DIR / f"{env}.log"
        self.process = None  # the Popen, when this command started the server
        self.shadow = shadow_alias(settings)

    def describe(self):
        return f"the {self.env} server at {self.url}"

    def roll_out(self, version, smoke):
        self.ensure_running()
        self.wait_for_version(version)
        smoke(self.url, "server")

    def roll_back(self, previous):
        """Serve the previous version again; with none, stop what serves the failed one."""
        if previous is None:
            self.stop()
            return f"stopped {self.describe()}: there is no earlier version to serve"
        self.ensure_running()
        self.wait_for_version(previous)
        return f"{self.describe()} serves version {previous} again"

    # -- the process -------------------------------------------------------------------
    def pid(self):
        """The pid of this environment's server when it is alive, else None."""
        if self.process is not None and self.process.poll() is not None:
            return None  # our own child exited (a zombie still answers os.kill)
        if not self.state_file.exists():
            return None
        pid = json.loads(self.state_file.read_text())["pid"]
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by someone else
        return pid

    def ensure_running(self):
        if self.pid() is not None:
            return
        status, _ = call(self.url, "/health", timeout=self.request_seconds)
        if status is not None:
            raise DeployFailed(
                f"something that is not the {self.env} server of this project answers at "
                f"{self.url}: stop it, or set server.url in deploy/{self.env}.yaml to a free port"
            )
        self.start()

    def start(self):
        import subprocess

        STATE_DIR.mkdir(exist_ok=True)
        command = self.command()
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives this command, and its Ctrl-C
            )
        state = {
            "pid": process.pid,
            "url": self.url,
            "command": command,
            "log": str(self.log_file),
            "started": time.time(),
        }
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")
        self.process = process
        print(f"Started {self.describe()} (pid {process.pid}, log {self.log_file}).")

    def command(self):
        """`serve` of this environment's alias, with the deploy file's shadow if it has one."""
        shadow = ["--shadow-alias", self.shadow] if self.shadow else []
        return [sys.executable, "-m", PACKAGE, "serve", "--alias", self.env, "--host",
                self.host, "--port", str(self.port), *shadow]  # fmt: skip

    def stop(self):
        pid = self.pid()
        if pid is not None:
            os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + self.stop_seconds
            while self.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.2)
            if self.pid() is not None:
                os.killpg(pid, signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)

    def wait_for_version(self, version):
        """Until /version reports this version; the server swaps at its next alias poll."""
        deadline = time.monotonic() + self.timeout
        served = None
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise DeployFailed(f"{self.describe()} exited: {self.log_tail()}")
            status, body = call(self.url, "/version", timeout=self.request_seconds)
            if status == 200 and isinstance(body, dict):
                served = body.get("version")
                if str(served) == str(version):
                    return
            time.sleep(0.5)
        raise DeployFailed(
            f"{self.describe()} did not serve version {version} within "
            f"{self.timeout:.0f} s (rollout.timeout_seconds); it serves {served or 'nothing'}. "
            f"Last log lines: {self.log_tail()}"
        )

    def log_tail(self, lines=5):
        if not self.log_file.exists():
            return "(no log)"
        tail = self.log_file.read_text(errors="replace").strip().splitlines()[-lines:]
        return " | ".join(tail) or "(empty log)"
