"""`notify` delivers through apprise to the NOTIFY_URLS destinations: here a JSON webhook on
this machine, which records what it is sent."""

import json
import threading
from argparse import Namespace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from {{ cookiecutter.package }}.config import CliError
from {{ cookiecutter.package }}.monitoring.notify import notify

DEPLOY_FAILED = Namespace(
    event="deploy-failed",
    version="7",
    env="staging",
    link="https://ci.example/run/42",
    detail="Outcome: rolled_back",
)


@pytest.fixture
def receiver():
    """A local webhook: its URL as apprise writes it (json://...), and the bodies it got."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            del args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"json://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_a_notification_says_what_happened_to_which_version_with_a_link(
    receiver, monkeypatch, tmp_path
):
    url, received = receiver
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NOTIFY_URLS", f"{url}, {url}")
    notify(DEPLOY_FAILED)
    assert len(received) == 2  # each destination
    [title] = {body["title"] for body in received}
    assert "Deploy of version 7 to staging failed" in title
    assert "Outcome: rolled_back" in received[0]["message"]
    assert "Version: 7" in received[0]["message"]
    assert "https://ci.example/run/42" in received[0]["message"]
    assert json.loads((tmp_path / "reports/notify.json").read_text())["sent"] is True


def test_no_destinations_is_no_notification(receiver, monkeypatch, tmp_path, capsys):
    _, received = receiver
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NOTIFY_URLS", raising=False)
    notify(DEPLOY_FAILED)
    assert received == []
    assert "NOTIFY_URLS is not set" in capsys.readouterr().out


def test_a_malformed_url_is_named_by_its_place(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NOTIFY_URLS", "json://127.0.0.1:9/hook\nhooks.example/no-scheme")
    with pytest.raises(CliError, match=r"Entry 2 of NOTIFY_URLS .* is not a notification URL"):
        notify(DEPLOY_FAILED)
