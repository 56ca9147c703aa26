"""The small GitHub REST client every Action script here shares.

Standard library only (urllib, json), so it runs on whatever Python the runner has,
before the project's environment exists. Scripts beside an Action import it with

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_lib"))

which works on a runner too: `uses: OWNER/REPO/actions/NAME@REF` fetches the whole
repository, so `actions/_lib/` sits next to the Action's folder.

Every failed call raises ApiError naming the call, the HTTP status and GitHub's own
message; `run_cli` turns that into one line on stderr and exit status 1. The one retry is
for rate limits (429, or 403 with Retry-After or an exhausted X-RateLimit-Remaining): the
call waits as GitHub asks, up to RATE_LIMIT_WAIT seconds in all, then fails saying when
the limit resets. Any other error fails the step; re-running the job is the retry.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
BODY_LIMIT = 65536  # GitHub rejects issue, PR and comment bodies longer than this
TIMEOUT = 30
RATE_LIMIT_WAIT = 60  # seconds a script waits in all for GitHub's rate limit to reset
RATE_LIMIT_TRIES = 5
REPO_PATTERN = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


class ApiError(Exception):
    """A GitHub call failed, or the script was called wrongly; the text says which and why."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status GitHub answered, if it answered


class GitHub:
    """Calls to one repository's REST API with the workflow's token."""

    def __init__(self, repository: str, token: str | None = None, api_url: str | None = None):
        if not REPO_PATTERN.fullmatch(repository or ""):
            raise ApiError(f"repository {repository!r} is not OWNER/NAME.")
        self.repository = repository
        self.owner = repository.split("/")[0]
        self.token = token if token is not None else os.environ.get("GITHUB_TOKEN", "")
        if not self.token:
            raise ApiError(
                "GITHUB_TOKEN is empty: pass a token to the step's env "
                "(the workflow's github.token with the permissions the Action's README lists)."
            )
        api_url = api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL
        self.api_url = api_url.rstrip("/")

    def call(self, what: str, method: str, path: str, body=None, query: dict | None = None):
        """One request; returns the parsed JSON. `path` is relative to /repos/OWNER/NAME."""
        data, _ = self._send(what, method, self._url(path, query), body)
        return data

    def login(self, app_slug: str = "") -> str:
        """The login the token writes as: a person's token names its user (GET /user);
        installation tokens cannot ask, and write as `<app-slug>[bot]`, or as
        `github-actions[bot]` for a workflow's own GITHUB_TOKEN."""
        try:
            data, _ = self._send("find who the token acts as", "GET", f"{self.api_url}/user", None)
            return data["login"]
        except ApiError as error:
            if error.status != 403:
                raise
        return f"{app_slug}[bot]" if app_slug else "github-actions[bot]"

    def get_all(self, what: str, path: str, query: dict | None = None) -> list:
        """Every page of a list endpoint, following the Link header."""
        items: list = []
        url = self._url(path, {"per_page": 100, **(query or {})})
        while url:
            page, headers = self._send(what, "GET", url, None)
            items.extend(page)
            url = _next_link(headers.get("Link", ""))
            if url and _origin(url) != _origin(self.api_url):
                raise ApiError(
                    f"{what}: GitHub's next page is on {_origin(url)}, not on the API's own "
                    f"host {_origin(self.api_url)}; the token is not sent there."
                )
        return items

    def _url(self, path: str, query: dict | None) -> str:
        url = f"{self.api_url}/repos/{self.repository}{path}"
        return f"{url}?{urllib.parse.urlencode(query)}" if query else url

    def _send(self, what: str, method: str, url: str, body):
        call = f"{what} ({method} {urllib.parse.urlsplit(url).path})"
        waited = 0.0
        for attempt in range(1, RATE_LIMIT_TRIES + 1):
            try:
                return self._request(method, url, body)
            except urllib.error.HTTPError as error:
                with error:  # an unclosed error response leaks its socket
                    reason = _github_message(error.read()) or error.reason
                wait = _rate_limit_wait(error.code, error.headers)
                if wait is None:
                    raise ApiError(
                        f"{call} failed with HTTP {error.code}: {reason}", error.code
                    ) from None
                if waited + wait > RATE_LIMIT_WAIT or attempt == RATE_LIMIT_TRIES:
                    raise ApiError(  # no status: a caller must not take it for a refusal
                        f"{call} is rate limited (HTTP {error.code}: {reason}): waited "
                        f"{waited:.0f} s, and GitHub asks for {wait:.0f} s more. Re-run the job "
                        "later, or give it a token with a limit of its own (a GitHub App's)."
                    ) from None
                time.sleep(wait)
                waited += wait
            except (urllib.error.URLError, TimeoutError, OSError) as error:
                reason = getattr(error, "reason", error)
                raise ApiError(f"{call} could not reach {self.api_url}: {reason}") from None
        raise AssertionError("unreachable")

    def _request(self, method: str, url: str, body):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        request.add_header("User-Agent", "cookiecutter-mlops-gitops-actions")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            raw = response.read()
            return (json.loads(raw) if raw else None), response.headers


def _rate_limit_wait(status: int, headers) -> float | None:
    """Seconds GitHub asks to wait before the next try; None when this is no rate limit."""
    retry_after = headers.get("Retry-After")
    exhausted = headers.get("X-RateLimit-Remaining") == "0"
    if status not in (403, 429) or (status == 403 and not (retry_after or exhausted)):
        return None
    if retry_after and retry_after.strip().isdigit():
        return float(retry_after)
    reset = headers.get("X-RateLimit-Reset", "")
    if exhausted and reset.isdigit():
        return max(0.0, int(reset) - time.time())
    return 60.0  # GitHub: without either header, wait at least a minute


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _github_message(raw: bytes) -> str:
    """GitHub's `message`, plus the details of a 422's `errors` list."""
    try:
        payload = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip()[:300]
    if not isinstance(payload, dict):
        return ""
    message = str(payload.get("message", ""))
    details = [
        e.get("message") or " ".join(str(e.get(k)) for k in ("resource", "field", "code") if k in e)
        for e in payload.get("errors") or []
        if isinstance(e, dict)
    ]
    return f"{message} ({'; '.join(details)})" if details else message


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        match = re.search(r'<([^>]+)>\s*;\s*rel="next"', part)
        if match:
            return match.group(1)
    return None


def fit_body(text: str, limit: int = BODY_LIMIT) -> str:
    """Cut a body GitHub would reject as too long, and say that it was cut."""
    if len(text) <= limit:
        return text
    note = "\n\n_(cut: longer than GitHub's body limit; the full text is in the job's artifacts)_"
    return text[: limit - len(note)] + note


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise ApiError(f"cannot read {path}: {error.strerror}.") from None


def write_outputs(outputs: dict) -> None:
    """Print the result as one JSON line; in a step, also write each value as a step output."""
    print(json.dumps(outputs))
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            for key, value in outputs.items():
                text = json.dumps(value) if isinstance(value, bool) else str(value)
                handle.write(f"{key}={text}\n")


def run_cli(prog: str, main: Callable[[], None]) -> int:
    """Run a script's main; an ApiError becomes `prog: reason` on stderr and exit 1."""
    try:
        main()
    except ApiError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    return 0
