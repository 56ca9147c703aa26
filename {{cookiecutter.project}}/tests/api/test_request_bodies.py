"""Bodies that arrive badly, against a real uvicorn server on 127.0.0.1 (raw sockets): too
large, abandoned by their client mid-upload, or stalled."""

import logging
import socket
import threading
import time

import pytest
import uvicorn

from {{ cookiecutter.package }}.config import MODEL_FILE
from {{ cookiecutter.package }}.serving.load_test import free_port
from {{ cookiecutter.package }}.serving.model_source import PathSource
from {{ cookiecutter.package }}.serving.serve import create_app


@pytest.fixture
def server(model, serve_params, contract, wait_until):
    """(port, app) of a real server with a 0.5 s body timeout and a 100 kB body limit."""
    del model
    settings = {**serve_params["serve"], "body_timeout_seconds": 0.5, "max_body_bytes": 100_000}
    app = create_app(PathSource(MODEL_FILE, "m"), {**serve_params, "serve": settings}, contract)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info", access_log=False)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    wait_until(lambda: _status(_ask(port, "GET /ready HTTP/1.1\r\n\r\n")) == 200, what="/ready")
    yield port
    running.should_exit = True
    thread.join(timeout=10)


def _ask(port, request, wait=True):
    """Send raw bytes; return the response's first line ('' when the server said nothing)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            with_host = request.replace("HTTP/1.1\r\n", "HTTP/1.1\r\nHost: t\r\n", 1)
            connection.sendall(with_host.encode())
            if not wait:
                return ""
            return connection.recv(65536).decode(errors="replace").split("\r\n", 1)[0]
    except OSError:
        return ""


def _status(first_line):
    parts = first_line.split(" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def _headers(path, length):
    return (f"POST {path} HTTP/1.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n")  # fmt: skip


def _metric(port, name, **labels):
    from prometheus_client.parser import text_string_to_metric_families

    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        text = b"".join(iter(lambda: connection.recv(65536), b"")).decode()
    body = text.split("\r\n\r\n", 1)[1]
    return sum(sample.value for family in text_string_to_metric_families(body)
               for sample in family.samples if sample.name == name
               and all(sample.labels.get(k) == v for k, v in labels.items()))  # fmt: skip


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_a_declared_length_over_the_limit_gets_413_before_any_byte_is_read(server, path):
    started = time.monotonic()
    assert _status(_ask(server, _headers(path, 10**9))) == 413
    assert time.monotonic() - started < 0.5  # not the 0.5 s body timeout: nothing was awaited


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_a_client_that_leaves_mid_upload_is_counted_apart_not_as_an_error(server, path, caplog,
                                                                          wait_until):  # fmt: skip
    caplog.set_level(logging.INFO)
    _ask(server, _headers(path, 5000) + '{"records": [', wait=False)  # then the socket closes
    wait_until(lambda: _metric(server, "http_client_aborts_total", path=path) == 1,
               what="the abort to be counted")  # fmt: skip
    assert _metric(server, "http_requests_total", status="500") == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_a_stalled_body_gets_408_after_body_timeout_seconds(server, path):
    started = time.monotonic()
    assert _status(_ask(server, _headers(path, 5000) + '{"records": [')) == 408
    assert 0.4 < time.monotonic() - started < 4
