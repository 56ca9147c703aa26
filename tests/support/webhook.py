"""A webhook receiver on 127.0.0.1 for tests: keeps each JSON body posted to it, with the
time it arrived (time.monotonic). Alertmanager's webhook and apprise's json:// post here."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Webhook:
    def __init__(self):
        self.received: list[tuple[float, dict]] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook.lock:
                    hook.received.append((time.monotonic(), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                del args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.apprise_url = f"json://127.0.0.1:{self.server.server_port}/hook"  # apprise's form

    def bodies(self) -> list[dict]:
        with self.lock:
            return [body for _, body in self.received]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
