"""Asking a model server over HTTP whether it is up and what it answers: the one client the
load test, the smoke test and the local deploy target share. Every request is marked
synthetic (X-Synthetic-Traffic): the server answers it but keeps it out of the prediction
log, so probes never read as drift.

urllib, because of what the project declares: httpx is a dev dependency only, and requests
arrives only through MLflow, so neither is promised where `deploy` runs.
"""

import json
import time
import urllib.error
import urllib.request

from .prediction_log import SYNTHETIC


def call(url, path, body=None, timeout=10.0):
    """(HTTP status or None when unreachable, decoded JSON body or the error text)."""
    data = None if body is None else json.dumps(body).encode()
    headers = {**SYNTHETIC, **({"Content-Type": "application/json"} if data else {})}
    request = urllib.request.Request(url.rstrip("/") + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _decoded(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _decoded(error.read())
    except (urllib.error.URLError, OSError) as error:
        return None, str(getattr(error, "reason", error))


def _decoded(raw):
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode(errors="replace")[:200]


def wait_until_ready(url, seconds, process=None):
    """Ask /ready until it answers 200, `seconds` pass, or `process` (the server) exits.
    Returns the last (status, body); a process that exited gives (None, 'exited ...')."""
    deadline = time.monotonic() + seconds
    while True:
        if process is not None and process.poll() is not None:
            return None, f"exited with status {process.returncode}"
        status, body = call(url, "/ready", timeout=min(5.0, seconds))
        if status == 200 or time.monotonic() > deadline:
            return status, body
        time.sleep(0.25)
