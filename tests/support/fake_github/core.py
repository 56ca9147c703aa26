"""The fake's core: identities, the request entry point, auth, paging and its HTTP server."""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import re
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

HTML_BASE = "https://github.com"
DOCS = "https://docs.github.com/rest"
BODY_LIMIT = 65536  # GitHub rejects comment and PR bodies longer than this
REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
NOT_FOR_INTEGRATIONS = "Resource not accessible by integration"

# Who a token acts as. GITHUB_TOKEN acts as this bot; GET /user refuses installation tokens.
GITHUB_ACTIONS = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}


def app_bot(slug: str) -> dict:
    """The identity of a GitHub App's installation token (actions/create-github-app-token)."""
    return {"login": f"{slug}[bot]", "id": zlib.crc32(slug.encode()), "type": "Bot"}


def user(login: str) -> dict:
    """The identity of a personal access token (or of a person writing a comment)."""
    return {"login": login, "id": zlib.crc32(login.encode()), "type": "User"}


@dataclass
class Request:
    """One request as the fake saw it. Header names are lower-cased."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]


class GitHubError(Exception):
    """Raised inside a route to answer with GitHub's error body."""

    def __init__(self, status: int, message: str, errors: list | None = None, headers=None):
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors
        self.headers = headers or {}

    def body(self) -> dict:
        out = {"message": self.message, "documentation_url": DOCS, "status": str(self.status)}
        if self.errors:
            out["errors"] = self.errors
        return out


def invalid(resource: str, code: str, field: str | None = None, message: str | None = None):
    """GitHub's 422 with one entry in `errors`."""
    err = {"resource": resource, "code": code}
    if field:
        err["field"] = field
    if message:
        err["message"] = message
    return GitHubError(422, "Validation Failed", [err])


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha(ref: str) -> str:
    # Deterministic stand-in for the commit a ref points to.
    return ref if re.fullmatch(r"[0-9a-f]{40}", ref) else hashlib.sha1(ref.encode()).hexdigest()


def node_id(kind: str, ident: int) -> str:
    return f"{kind}_" + base64.urlsafe_b64encode(f"fake:{ident}".encode()).decode().rstrip("=")


def need_body(payload: Any, resource: str, *fields: str) -> dict:
    if not isinstance(payload, dict):
        raise GitHubError(400, "Problems parsing JSON")
    for name in fields:
        if payload.get(name) in (None, ""):
            raise invalid(resource, "missing_field", name)
    body = payload.get("body")
    if isinstance(body, str) and len(body) > BODY_LIMIT:
        raise invalid(
            resource, "custom", "body", f"body is too long (maximum is {BODY_LIMIT} characters)"
        )
    return payload


class Core:
    """State, controls, dispatch, auth and paging; the routes come from the mixins."""

    ROUTES = [("GET", re.compile(r"/user"), "get_user")]

    def __init__(self, tokens: dict[str, dict] | None = None):
        self.tokens = tokens  # None: any token acts as GITHUB_ACTIONS; else only these
        self.url = ""
        self.link_base = ""  # where Link headers point (default: this server)
        self.requests: list[Request] = []
        self.errors: list[str] = []  # bugs inside the fake, answered as 500
        self._failures: list[tuple[str, str, int, str, dict]] = []
        self._ids = itertools.count(1001)
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._identity: dict = GITHUB_ACTIONS  # of the request being answered

    # -- lifecycle -------------------------------------------------------
    def start(self):
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.link_base = self.link_base or self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc) -> None:
        self.stop()
        if exc_type is None:
            self.check()

    def check(self) -> None:
        """Fail when the fake itself broke: its 500s are its bugs, not the client's."""
        if self.errors:
            raise AssertionError(f"fake_github had internal errors: {self.errors}")

    def env(self, repository: str = "octo-org/demo", token: str | None = None) -> dict[str, str]:
        """Environment variables that point a GitHub client at this fake."""
        tok = token or next(iter(self.tokens or {}), "fake-token")
        return {
            "GITHUB_API_URL": self.url,
            "GITHUB_TOKEN": tok,
            "GH_TOKEN": tok,
            "GITHUB_REPOSITORY": repository,
            "GITHUB_SERVER_URL": HTML_BASE,
        }

    # -- test controls -----------------------------------------------------
    def fail_next(self, status: int, message: str = "Server Error", times: int = 1,
                  headers: dict | None = None, method: str = "", path: str = ""):  # fmt: skip
        """Answer the next `times` requests with `status` and GitHub's error body; only
        requests of `method`, and whose path ends with `path`, when given."""
        with self._lock:
            self._failures.extend([(method, path, status, message, headers or {})] * times)

    # -- request entry point ------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes):
        """Return (status, json payload, extra headers) for one request."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        payload, bad_json = None, False
        if raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                bad_json = True
        with self._lock:
            self.requests.append(Request(method, parts.path, query, payload, headers))
            try:
                status, body, extra = self._dispatch(
                    method, parts.path, query, headers, payload, bad_json
                )
                # Copy while locked: the handler serialises after releasing the lock.
                return status, copy.deepcopy(body), extra
            except GitHubError as err:
                return err.status, err.body(), err.headers
            except Exception as exc:  # a bug in the fake: make it loud, not a hang
                self.errors.append(repr(exc))
                return 500, {"message": f"fake_github internal error: {exc!r}"}, {}

    def _dispatch(self, method, path, query, headers, payload, bad_json):
        failure = next(
            (f for f in self._failures if f[0] in ("", method) and path.endswith(f[1])), None
        )
        if failure:
            self._failures.remove(failure)
            raise GitHubError(*failure[2:4], headers=failure[4])
        self._identity = self._authorize(headers.get("authorization", ""))
        if bad_json:
            raise GitHubError(400, "Problems parsing JSON")
        for verb, pattern, name in self.ROUTES:
            match = pattern.fullmatch(path.rstrip("/") or "/")
            if verb == method and match:
                args = match.groupdict()
                repository = f"{args.pop('owner')}/{args.pop('repo')}" if "owner" in args else ""
                ints = {k: int(v) for k, v in args.items()}
                result = getattr(self, name)(repository, query, payload, **ints)
                return result if len(result) == 3 else (*result, {})
        raise GitHubError(404, "Not Found")

    def _authorize(self, header: str) -> dict:
        """The identity the request's token acts as."""
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() not in ("bearer", "token") or not token:
            raise GitHubError(401, "Bad credentials")
        if self.tokens is None:
            return GITHUB_ACTIONS
        if token not in self.tokens:
            raise GitHubError(401, "Bad credentials")
        return self.tokens[token]

    # -- helpers -----------------------------------------------------------
    def api(self, repository: str, rest: str) -> str:
        return f"{self.url}/repos/{repository}{rest}"

    def page(self, items: list, query: dict, path: str):
        """Slice like GitHub (per_page default 30, max 100) and add a Link header."""
        per_page = min(max(_int(query.get("per_page"), 30), 1), 100)
        number = max(_int(query.get("page"), 1), 1)
        last = max(1, -(-len(items) // per_page))
        rels = []
        if number < last:
            rels += [(number + 1, "next"), (last, "last")]
        if number > 1:
            rels += [(1, "first"), (number - 1, "prev")]
        link = ", ".join(
            f"<{self.link_base}{path}?{urlencode({**query, 'per_page': per_page, 'page': p})}>; "
            f'rel="{r}"'
            for p, r in rels
        )
        return items[(number - 1) * per_page : number * per_page], ({"Link": link} if link else {})

    # -- routes --------------------------------------------------------------
    def get_user(self, repository, query, payload):
        if self._identity["type"] == "Bot":  # installation tokens have no user
            raise GitHubError(403, NOT_FOR_INTEGRATIONS)
        return 200, dict(self._identity)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # never let a stuck client block stop()
    request_queue_size = 128  # the default backlog of 5 resets parallel clients
    fake: Core


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP layer: read the body, let the fake answer, write JSON."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = self.server.fake.handle(self.command, self.path, headers, raw)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format, *args) -> None:  # keep test output clean
        pass
