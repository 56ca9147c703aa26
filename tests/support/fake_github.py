"""A local fake of the GitHub REST API for tests.

GitHub is unreachable from tests, so clients are pointed at this server via
GITHUB_API_URL. It keeps in-memory state, records every request and answers
with GitHub's JSON shapes and error bodies for the endpoints our Actions use:
issue comments, pulls, labels, deployments and deployment statuses.

    with FakeGitHub() as gh:
        env = {**os.environ, **gh.env(repository="octo-org/demo")}
        ...run the client...
        assert gh.requests[-1].method == "POST"

Deliberately permissive: any owner/repo exists and any issue number accepts
comments and labels. Deliberately strict where GitHub is: auth, body size,
duplicate PRs, validation errors, `head` filter needing OWNER:BRANCH.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

HTML_BASE = "https://github.com"
DOCS = "https://docs.github.com/rest"
BODY_LIMIT = 65536  # GitHub rejects comment and PR bodies longer than this
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
DEPLOY_STATES = {"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}
_REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"


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


def _invalid(resource: str, code: str, field: str | None = None, message: str | None = None):
    err = {"resource": resource, "code": code}
    if field:
        err["field"] = field
    if message:
        err["message"] = message
    return GitHubError(422, "Validation Failed", [err])


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(ref: str) -> str:
    # Deterministic stand-in for the commit a ref points to.
    return ref if re.fullmatch(r"[0-9a-f]{40}", ref) else hashlib.sha1(ref.encode()).hexdigest()


def _node_id(kind: str, ident: int) -> str:
    return f"{kind}_" + base64.urlsafe_b64encode(f"fake:{ident}".encode()).decode().rstrip("=")


def _need_body(payload: Any, resource: str, *fields: str) -> dict:
    if not isinstance(payload, dict):
        raise GitHubError(400, "Problems parsing JSON")
    for name in fields:
        if payload.get(name) in (None, ""):
            raise _invalid(resource, "missing_field", name)
    body = payload.get("body")
    if isinstance(body, str) and len(body) > BODY_LIMIT:
        raise _invalid(
            resource, "custom", "body", f"body is too long (maximum is {BODY_LIMIT} characters)"
        )
    return payload


class FakeGitHub:
    """In-memory GitHub REST API on 127.0.0.1:<free port>."""

    def __init__(self, token: str | None = None, user: dict | None = None):
        self.token = token  # None accepts any token; a string accepts only that one
        self.user = dict(user or BOT)
        self.url = ""
        self.requests: list[Request] = []
        self.errors: list[str] = []  # bugs inside the fake, answered as 500
        self.comments: dict[int, dict] = {}
        self.pulls: dict[str, dict[int, dict]] = {}  # "owner/repo" -> number -> pull
        self.labels: dict[tuple[str, int], list[dict]] = {}
        self.deployments: dict[int, dict] = {}
        self.statuses: dict[int, list[dict]] = {}
        self._failures: list[tuple[int, str, dict]] = []
        self._ids = itertools.count(1001)
        self._numbers: dict[str, itertools.count] = {}
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------
    def start(self) -> FakeGitHub:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
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

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def env(self, repository: str = "octo-org/demo", token: str | None = None) -> dict[str, str]:
        """Environment variables that point a GitHub client at this fake."""
        tok = token or self.token or "fake-token"
        return {
            "GITHUB_API_URL": self.url,
            "GITHUB_TOKEN": tok,
            "GH_TOKEN": tok,
            "GITHUB_REPOSITORY": repository,
            "GITHUB_SERVER_URL": HTML_BASE,
        }

    # -- test controls -----------------------------------------------------
    def fail_next(
        self,
        status: int,
        message: str = "Server Error",
        times: int = 1,
        headers: dict | None = None,
    ) -> None:
        """Answer the next `times` requests with `status` and a GitHub error body."""
        with self._lock:
            self._failures.extend([(status, message, headers or {})] * times)

    def add_comment(
        self, repository: str, number: int, body: str, user: dict | None = None
    ) -> dict:
        """Seed an existing comment, e.g. one an earlier run left behind."""
        with self._lock:
            return _public(self._new_comment(repository, number, body, dict(user or self.user)))

    def add_pull(self, repository: str, head: str, base: str = "main", **fields) -> dict:
        """Seed a pull request (head as BRANCH or OWNER:BRANCH)."""
        with self._lock:
            payload = {"title": "seeded", **fields, "head": head, "base": base}
            return self._create_pull(repository, payload)

    def comments_on(self, repository: str, number: int) -> list[dict]:
        """Comments on one issue/PR, oldest first, as the API shows them."""
        found = [c for c in self.comments.values() if c["_key"] == (repository, number)]
        return [_public(c) for c in sorted(found, key=lambda c: c["id"])]

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
        if self._failures:
            status, message, extra = self._failures.pop(0)
            raise GitHubError(status, message, headers=extra)
        self._authorize(headers.get("authorization", ""))
        if bad_json:
            raise GitHubError(400, "Problems parsing JSON")
        for verb, pattern, name in _ROUTES:
            match = pattern.fullmatch(path.rstrip("/") or "/")
            if verb == method and match:
                args = match.groupdict()
                repository = f"{args.pop('owner')}/{args.pop('repo')}"
                ints = {k: int(v) for k, v in args.items()}
                result = getattr(self, name)(repository, query, payload, **ints)
                return result if len(result) == 3 else (*result, {})
        raise GitHubError(404, "Not Found")

    def _authorize(self, header: str) -> None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() not in ("bearer", "token") or not token:
            raise GitHubError(401, "Bad credentials")
        if self.token is not None and token != self.token:
            raise GitHubError(401, "Bad credentials")

    # -- helpers -----------------------------------------------------------
    def _api(self, repository: str, rest: str) -> str:
        return f"{self.url}/repos/{repository}{rest}"

    def _next_number(self, repository: str) -> int:
        # Issues and PRs share one number sequence per repository, as on GitHub.
        return next(self._numbers.setdefault(repository, itertools.count(1)))

    def _page(self, items: list, query: dict, path: str):
        """Slice like GitHub (per_page default 30, max 100) and add a Link header."""
        per_page = min(max(_int(query.get("per_page"), 30), 1), 100)
        page = max(_int(query.get("page"), 1), 1)
        last = max(1, -(-len(items) // per_page))
        rels = []
        if page < last:
            rels += [(page + 1, "next"), (last, "last")]
        if page > 1:
            rels += [(1, "first"), (page - 1, "prev")]
        link = ", ".join(
            f'<{self.url}{path}?{urlencode({**query, "per_page": per_page, "page": p})}>; rel="{r}"'
            for p, r in rels
        )
        return items[(page - 1) * per_page : page * per_page], ({"Link": link} if link else {})

    def _new_comment(self, repository: str, number: int, body: str, user: dict) -> dict:
        ident, now = next(self._ids), _now()
        kind = "pull" if number in self.pulls.get(repository, {}) else "issues"
        comment = {
            "id": ident,
            "node_id": _node_id("IC", ident),
            "url": self._api(repository, f"/issues/comments/{ident}"),
            "html_url": f"{HTML_BASE}/{repository}/{kind}/{number}#issuecomment-{ident}",
            "issue_url": self._api(repository, f"/issues/{number}"),
            "body": body,
            "user": user,
            "author_association": "NONE",
            "created_at": now,
            "updated_at": now,
            "_key": (repository, number),
        }
        self.comments[ident] = comment
        return comment

    def _create_pull(self, repository: str, payload: dict) -> dict:
        _need_body(payload, "PullRequest", "title", "head", "base")
        owner = repository.split("/")[0]
        head = payload["head"] if ":" in payload["head"] else f"{owner}:{payload['head']}"
        base = payload["base"]
        for pull in self.pulls.get(repository, {}).values():
            same = pull["head"]["label"] == head and pull["base"]["ref"] == base
            if same and pull["state"] == "open":
                raise _invalid(
                    "PullRequest", "custom", message=f"A pull request already exists for {head}."
                )
        number, ident, now = self._next_number(repository), next(self._ids), _now()
        head_owner, head_ref = head.split(":", 1)
        pull = {
            "url": self._api(repository, f"/pulls/{number}"),
            "id": ident,
            "node_id": _node_id("PR", ident),
            "number": number,
            "html_url": f"{HTML_BASE}/{repository}/pull/{number}",
            "issue_url": self._api(repository, f"/issues/{number}"),
            "comments_url": self._api(repository, f"/issues/{number}/comments"),
            "state": "open",
            "locked": False,
            "draft": bool(payload.get("draft", False)),
            "title": payload["title"],
            "body": payload.get("body"),
            "user": self.user,
            "labels": [],
            "merged": False,
            "merged_at": None,
            "closed_at": None,
            "created_at": now,
            "updated_at": now,
            "head": _branch(head_owner, head_ref, repository),
            "base": _branch(owner, base, repository),
        }
        self.pulls.setdefault(repository, {})[number] = pull
        return pull

    def _pull(self, repository: str, number: int) -> dict:
        pull = self.pulls.get(repository, {}).get(number)
        if pull is None:
            raise GitHubError(404, "Not Found")
        return pull

    # -- routes: issue comments ----------------------------------------------
    def list_comments(self, repository, query, payload, number):
        path = f"/repos/{repository}/issues/{number}/comments"
        page, headers = self._page(self.comments_on(repository, number), query, path)
        return 200, page, headers

    def create_comment(self, repository, query, payload, number):
        _need_body(payload, "IssueComment", "body")
        return 201, _public(self._new_comment(repository, number, payload["body"], self.user))

    def get_comment(self, repository, query, payload, comment_id):
        return 200, _public(self._comment(repository, comment_id))

    def update_comment(self, repository, query, payload, comment_id):
        comment = self._comment(repository, comment_id)
        _need_body(payload, "IssueComment", "body")
        comment.update(body=payload["body"], updated_at=_now())
        return 200, _public(comment)

    def _comment(self, repository: str, comment_id: int) -> dict:
        comment = self.comments.get(comment_id)
        if comment is None or comment["_key"][0] != repository:
            raise GitHubError(404, "Not Found")
        return comment

    # -- routes: pulls ---------------------------------------------------------
    def list_pulls(self, repository, query, payload):
        state = query.get("state", "open")
        items = sorted(self.pulls.get(repository, {}).values(), key=lambda p: -p["number"])
        if state != "all":
            items = [p for p in items if p["state"] == state]
        # GitHub silently ignores a head filter without the OWNER: prefix and
        # returns every PR; mimic that so clients sending a bare branch get caught.
        if ":" in query.get("head", ""):
            items = [p for p in items if p["head"]["label"] == query["head"]]
        if query.get("base"):
            items = [p for p in items if p["base"]["ref"] == query["base"]]
        page, headers = self._page(items, query, f"/repos/{repository}/pulls")
        return 200, page, headers

    def create_pull(self, repository, query, payload):
        return 201, self._create_pull(repository, payload)

    def get_pull(self, repository, query, payload, number):
        return 200, self._pull(repository, number)

    def update_pull(self, repository, query, payload, number):
        pull = self._pull(repository, number)
        _need_body(payload, "PullRequest")
        if payload.get("state") not in (None, "open", "closed"):
            raise _invalid("PullRequest", "invalid", "state")
        for key in ("title", "body", "state"):
            if key in payload:
                pull[key] = payload[key]
        if "base" in payload:
            pull["base"] = _branch(pull["base"]["user"]["login"], payload["base"], repository)
        pull["closed_at"] = _now() if pull["state"] == "closed" else None
        pull["updated_at"] = _now()
        return 200, pull

    # -- routes: labels ----------------------------------------------------------
    def add_labels(self, repository, query, payload, number):
        names = payload.get("labels") if isinstance(payload, dict) else payload
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _invalid("Label", "invalid", "labels")
        current = self.labels.setdefault((repository, number), [])
        for name in names:
            if name not in [label["name"] for label in current]:
                ident = next(self._ids)
                current.append(
                    {
                        "id": ident,
                        "node_id": _node_id("LA", ident),
                        "url": self._api(repository, f"/labels/{name}"),
                        "name": name,
                        "color": "ededed",
                        "default": False,
                        "description": None,
                    }
                )
        if number in self.pulls.get(repository, {}):
            self.pulls[repository][number]["labels"] = list(current)
        return 200, current

    def list_labels(self, repository, query, payload, number):
        return 200, self.labels.get((repository, number), [])

    # -- routes: deployments ------------------------------------------------------
    def create_deployment(self, repository, query, payload):
        _need_body(payload, "Deployment", "ref")
        ident, now = next(self._ids), _now()
        environment = payload.get("environment", "production")
        deployment = {
            "url": self._api(repository, f"/deployments/{ident}"),
            "id": ident,
            "node_id": _node_id("DE", ident),
            "sha": _sha(payload["ref"]),
            "ref": payload["ref"],
            "task": payload.get("task", "deploy"),
            "payload": payload.get("payload", {}),
            "original_environment": environment,
            "environment": environment,
            "description": payload.get("description"),
            "creator": self.user,
            "created_at": now,
            "updated_at": now,
            "statuses_url": self._api(repository, f"/deployments/{ident}/statuses"),
            "repository_url": self._api(repository, ""),
            "transient_environment": bool(payload.get("transient_environment", False)),
            "production_environment": bool(
                payload.get("production_environment", environment == "production")
            ),
        }
        self.deployments[ident] = deployment
        self.statuses[ident] = []
        return 201, deployment

    def list_deployments(self, repository, query, payload):
        wanted = {k: query[k] for k in ("environment", "ref", "sha", "task") if k in query}
        items = [
            d
            for d in sorted(self.deployments.values(), key=lambda d: -d["id"])
            if d["repository_url"] == self._api(repository, "")
            and all(d[k] == v for k, v in wanted.items())
        ]
        page, headers = self._page(items, query, f"/repos/{repository}/deployments")
        return 200, page, headers

    def create_deployment_status(self, repository, query, payload, deployment_id):
        deployment = self._deployment(repository, deployment_id)
        _need_body(payload, "DeploymentStatus", "state")
        if payload["state"] not in DEPLOY_STATES:
            raise _invalid("DeploymentStatus", "invalid", "state")
        ident, now = next(self._ids), _now()
        status = {
            "url": f"{deployment['url']}/statuses/{ident}",
            "id": ident,
            "node_id": _node_id("DES", ident),
            "state": payload["state"],
            "creator": self.user,
            "description": payload.get("description", ""),
            "environment": payload.get("environment", deployment["environment"]),
            "target_url": payload.get("target_url", ""),
            "log_url": payload.get("log_url", ""),
            "environment_url": payload.get("environment_url", ""),
            "created_at": now,
            "updated_at": now,
            "deployment_url": deployment["url"],
            "repository_url": deployment["repository_url"],
        }
        self.statuses[deployment_id].insert(0, status)  # GitHub lists newest first
        return 201, status

    def list_deployment_statuses(self, repository, query, payload, deployment_id):
        self._deployment(repository, deployment_id)
        path = f"/repos/{repository}/deployments/{deployment_id}/statuses"
        page, headers = self._page(self.statuses[deployment_id], query, path)
        return 200, page, headers

    def _deployment(self, repository: str, deployment_id: int) -> dict:
        deployment = self.deployments.get(deployment_id)
        if deployment is None or deployment["repository_url"] != self._api(repository, ""):
            raise GitHubError(404, "Not Found")
        return deployment


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _public(comment: dict) -> dict:
    return {k: v for k, v in comment.items() if not k.startswith("_")}


def _branch(owner: str, ref: str, repository: str) -> dict:
    name = repository.split("/")[1]
    return {
        "label": f"{owner}:{ref}",
        "ref": ref,
        "sha": _sha(ref),
        "user": {"login": owner},
        "repo": {"name": name, "full_name": f"{owner}/{name}"},
    }


_ROUTES = [
    (verb, re.compile(_REPO + rest), name)
    for verb, rest, name in [
        ("GET", r"/issues/(?P<number>\d+)/comments", "list_comments"),
        ("POST", r"/issues/(?P<number>\d+)/comments", "create_comment"),
        ("GET", r"/issues/comments/(?P<comment_id>\d+)", "get_comment"),
        ("PATCH", r"/issues/comments/(?P<comment_id>\d+)", "update_comment"),
        ("GET", r"/pulls", "list_pulls"),
        ("POST", r"/pulls", "create_pull"),
        ("GET", r"/pulls/(?P<number>\d+)", "get_pull"),
        ("PATCH", r"/pulls/(?P<number>\d+)", "update_pull"),
        ("GET", r"/issues/(?P<number>\d+)/labels", "list_labels"),
        ("POST", r"/issues/(?P<number>\d+)/labels", "add_labels"),
        ("GET", r"/deployments", "list_deployments"),
        ("POST", r"/deployments", "create_deployment"),
        ("GET", r"/deployments/(?P<deployment_id>\d+)/statuses", "list_deployment_statuses"),
        ("POST", r"/deployments/(?P<deployment_id>\d+)/statuses", "create_deployment_status"),
    ]
]


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # never let a stuck client block stop()
    request_queue_size = 128  # the default backlog of 5 resets parallel clients
    fake: FakeGitHub


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP layer: read the body, let FakeGitHub answer, write JSON."""

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
