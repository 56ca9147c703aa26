"""A local fake of the GitHub REST API for tests.

GitHub is unreachable from tests, so clients are pointed at this server via
GITHUB_API_URL. It keeps in-memory state, records every request and answers
with GitHub's JSON shapes and error bodies for the endpoints our Actions use:
`GET /user`, issue comments, pulls and labels.

    with FakeGitHub() as gh:
        env = {**os.environ, **gh.env(repository="octo-org/demo")}
        ...run the client...
        assert gh.requests[-1].method == "POST"

Tokens have identities, as on GitHub: by default any token acts as
`github-actions[bot]` (a workflow's GITHUB_TOKEN); `FakeGitHub(tokens={...})`
accepts only the tokens given, each acting as its identity (`app_bot("my-app")`,
`user("octocat")`). What a token writes is authored by its identity.

Deliberately permissive: any owner/repo exists and any issue number accepts
comments and labels; any token may edit any comment (so a client's own choice of
comment is what a test sees). Deliberately strict where GitHub is: auth, body
size, duplicate PRs, validation errors, `head` filter needing OWNER:BRANCH, and
a head branch that was never pushed (once a test seeds the repository's branches).

A bug inside the fake answers 500 and is recorded; leaving the `with` block (or
the `fake_github` fixture) then fails the test, so a fake's bug is never mistaken
for a client's.
"""

from tests.support.fake_github.comments import CommentRoutes
from tests.support.fake_github.core import (
    BODY_LIMIT,
    GITHUB_ACTIONS,
    Core,
    GitHubError,
    Request,
    app_bot,
    user,
)
from tests.support.fake_github.pulls import PullRoutes

__all__ = ["BODY_LIMIT", "GITHUB_ACTIONS", "FakeGitHub", "GitHubError", "Request", "app_bot",
           "user"]  # fmt: skip


class FakeGitHub(CommentRoutes, PullRoutes, Core):
    """In-memory GitHub REST API on 127.0.0.1:<free port>."""

    ROUTES = [*Core.ROUTES, *CommentRoutes.ROUTES, *PullRoutes.ROUTES]
