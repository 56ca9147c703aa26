"""Pull requests (list with GitHub's filters, create, get, update) and their labels."""

from __future__ import annotations

import itertools
import re

from tests.support.fake_github.core import (
    HTML_BASE,
    REPO,
    GitHubError,
    invalid,
    need_body,
    node_id,
    now,
    sha,
)


class PullRoutes:
    ROUTES = [
        (verb, re.compile(REPO + rest), name)
        for verb, rest, name in [
            ("GET", r"/pulls", "list_pulls"),
            ("POST", r"/pulls", "create_pull"),
            ("GET", r"/pulls/(?P<number>\d+)", "get_pull"),
            ("PATCH", r"/pulls/(?P<number>\d+)", "update_pull"),
            ("GET", r"/issues/(?P<number>\d+)/labels", "list_labels"),
            ("POST", r"/issues/(?P<number>\d+)/labels", "add_labels"),
        ]
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pulls: dict[str, dict[int, dict]] = {}  # "owner/repo" -> number -> pull
        self.labels: dict[tuple[str, int], list[dict]] = {}
        self.branches: dict[str, set[str]] = {}  # seeded: only these heads may open a PR
        self._numbers: dict[str, itertools.count] = {}

    # -- test controls ---------------------------------------------------------
    def add_pull(self, repository: str, head: str, base: str = "main", **fields) -> dict:
        """Seed a pull request (head as BRANCH or OWNER:BRANCH)."""
        with self._lock:
            payload = {"title": "seeded", **fields, "head": head, "base": base}
            return self._create_pull(repository, payload)

    def add_branches(self, repository: str, *names: str) -> None:
        """The branches pushed to the repository; from now on a PR needs its head among them."""
        with self._lock:
            self.branches.setdefault(repository, set()).update(names)

    # -- routes ----------------------------------------------------------------
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
        page, headers = self.page(items, query, f"/repos/{repository}/pulls")
        return 200, page, headers

    def create_pull(self, repository, query, payload):
        return 201, self._create_pull(repository, payload)

    def get_pull(self, repository, query, payload, number):
        return 200, self._pull(repository, number)

    def update_pull(self, repository, query, payload, number):
        pull = self._pull(repository, number)
        need_body(payload, "PullRequest")
        if payload.get("state") not in (None, "open", "closed"):
            raise invalid("PullRequest", "invalid", "state")
        for key in ("title", "body", "state"):
            if key in payload:
                pull[key] = payload[key]
        if "base" in payload:
            pull["base"] = _branch(pull["base"]["user"]["login"], payload["base"], repository)
        pull["closed_at"] = now() if pull["state"] == "closed" else None
        pull["updated_at"] = now()
        return 200, pull

    def add_labels(self, repository, query, payload, number):
        names = payload.get("labels") if isinstance(payload, dict) else payload
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise invalid("Label", "invalid", "labels")
        current = self.labels.setdefault((repository, number), [])
        for name in names:
            if name not in [label["name"] for label in current]:
                current.append(self._label(repository, name))
        if number in self.pulls.get(repository, {}):
            self.pulls[repository][number]["labels"] = list(current)
        return 200, current

    def list_labels(self, repository, query, payload, number):
        return 200, self.labels.get((repository, number), [])

    # -- helpers ---------------------------------------------------------------
    def _create_pull(self, repository: str, payload: dict) -> dict:
        need_body(payload, "PullRequest", "title", "head", "base")
        owner = repository.split("/")[0]
        head = payload["head"] if ":" in payload["head"] else f"{owner}:{payload['head']}"
        head_owner, head_ref = head.split(":", 1)
        known = self.branches.get(repository)
        if known is not None and head_ref not in known:  # never pushed
            raise invalid("PullRequest", "invalid", "head")
        base = payload["base"]
        for pull in self.pulls.get(repository, {}).values():
            same = pull["head"]["label"] == head and pull["base"]["ref"] == base
            if same and pull["state"] == "open":
                raise invalid(
                    "PullRequest", "custom", message=f"A pull request already exists for {head}."
                )
        number = next(self._numbers.setdefault(repository, itertools.count(1)))
        ident, created = next(self._ids), now()
        pull = {
            "url": self.api(repository, f"/pulls/{number}"),
            "id": ident,
            "node_id": node_id("PR", ident),
            "number": number,
            "html_url": f"{HTML_BASE}/{repository}/pull/{number}",
            "issue_url": self.api(repository, f"/issues/{number}"),
            "comments_url": self.api(repository, f"/issues/{number}/comments"),
            "state": "open",
            "locked": False,
            "draft": bool(payload.get("draft", False)),
            "title": payload["title"],
            "body": payload.get("body"),
            "user": dict(self._identity),
            "labels": [],
            "merged": False,
            "merged_at": None,
            "closed_at": None,
            "created_at": created,
            "updated_at": created,
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

    def _label(self, repository: str, name: str) -> dict:
        ident = next(self._ids)
        return {"id": ident, "node_id": node_id("LA", ident),
                "url": self.api(repository, f"/labels/{name}"), "name": name,
                "color": "ededed", "default": False, "description": None}  # fmt: skip


def _branch(owner: str, ref: str, repository: str) -> dict:
    name = repository.split("/")[1]
    return {
        "label": f"{owner}:{ref}",
        "ref": ref,
        "sha": sha(ref),
        "user": {"login": owner},
        "repo": {"name": name, "full_name": f"{owner}/{name}"},
    }
