"""Issue and pull request comments: list (paged), create, get, update; each has an author."""

from __future__ import annotations

import re

from tests.support.fake_github.core import (
    GITHUB_ACTIONS,
    HTML_BASE,
    REPO,
    GitHubError,
    need_body,
    node_id,
    now,
)


class CommentRoutes:
    ROUTES = [
        (verb, re.compile(REPO + rest), name)
        for verb, rest, name in [
            ("GET", r"/issues/(?P<number>\d+)/comments", "list_comments"),
            ("POST", r"/issues/(?P<number>\d+)/comments", "create_comment"),
            ("GET", r"/issues/comments/(?P<comment_id>\d+)", "get_comment"),
            ("PATCH", r"/issues/comments/(?P<comment_id>\d+)", "update_comment"),
        ]
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.comments: dict[int, dict] = {}

    # -- test controls ---------------------------------------------------------
    def add_comment(self, repository: str, number: int, body: str, author: dict = GITHUB_ACTIONS):
        """Seed an existing comment, e.g. one an earlier run (or a person) left behind."""
        with self._lock:
            return _public(self._new_comment(repository, number, body, author))

    def comments_on(self, repository: str, number: int) -> list[dict]:
        """Comments on one issue/PR, oldest first, as the API shows them."""
        found = [c for c in self.comments.values() if c["_key"] == (repository, number)]
        return [_public(c) for c in sorted(found, key=lambda c: c["id"])]

    # -- routes ----------------------------------------------------------------
    def list_comments(self, repository, query, payload, number):
        path = f"/repos/{repository}/issues/{number}/comments"
        page, headers = self.page(self.comments_on(repository, number), query, path)
        return 200, page, headers

    def create_comment(self, repository, query, payload, number):
        need_body(payload, "IssueComment", "body")
        comment = self._new_comment(repository, number, payload["body"], self._identity)
        return 201, _public(comment)

    def get_comment(self, repository, query, payload, comment_id):
        return 200, _public(self._comment(repository, comment_id))

    def update_comment(self, repository, query, payload, comment_id):
        comment = self._comment(repository, comment_id)
        need_body(payload, "IssueComment", "body")
        comment.update(body=payload["body"], updated_at=now())
        return 200, _public(comment)

    # -- helpers ---------------------------------------------------------------
    def _comment(self, repository: str, comment_id: int) -> dict:
        comment = self.comments.get(comment_id)
        if comment is None or comment["_key"][0] != repository:
            raise GitHubError(404, "Not Found")
        return comment

    def _new_comment(self, repository: str, number: int, body: str, author: dict) -> dict:
        ident, created = next(self._ids), now()
        kind = "pull" if number in self.pulls.get(repository, {}) else "issues"
        comment = {
            "id": ident,
            "node_id": node_id("IC", ident),
            "url": self.api(repository, f"/issues/comments/{ident}"),
            "html_url": f"{HTML_BASE}/{repository}/{kind}/{number}#issuecomment-{ident}",
            "issue_url": self.api(repository, f"/issues/{number}"),
            "body": body,
            "user": dict(author),
            "author_association": "NONE",
            "created_at": created,
            "updated_at": created,
            "_key": (repository, number),
        }
        self.comments[ident] = comment
        return comment


def _public(comment: dict) -> dict:
    return {k: v for k, v in comment.items() if not k.startswith("_")}
