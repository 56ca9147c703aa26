"""Tests of the fake GitHub API itself, through a real HTTP client (urllib)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.support.fake_github import BODY_LIMIT, GITHUB_ACTIONS, FakeGitHub, app_bot, user

# Brings in the `fake_github` fixture, the way other tests' conftest can.
pytest_plugins = ["tests.support.fixtures"]

REPO = "/repos/octo-org/demo"


def call(fake: FakeGitHub, method: str, path: str, body=None, token: str | None = "t0ken"):
    """Send one request; return (status, parsed JSON, headers) for 2xx and errors alike."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(fake.url + path, data=data, method=method)
    req.add_header("Accept", "application/vnd.github+json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as err:
        with err:  # an unclosed error response leaks its socket
            return err.code, json.loads(err.read()), err.headers


def test_comment_create_list_patch(fake_github):
    status, created, _ = call(fake_github, "POST", f"{REPO}/issues/7/comments", {"body": "first"})
    assert status == 201
    assert created["body"] == "first"
    assert created["user"]["login"] == "github-actions[bot]"
    assert (
        created["html_url"]
        == f"https://github.com/octo-org/demo/issues/7#issuecomment-{created['id']}"
    )

    status, listed, _ = call(fake_github, "GET", f"{REPO}/issues/7/comments")
    assert status == 200
    assert [c["id"] for c in listed] == [created["id"]]
    assert call(fake_github, "GET", f"{REPO}/issues/8/comments")[1] == []

    status, patched, _ = call(
        fake_github, "PATCH", f"{REPO}/issues/comments/{created['id']}", {"body": "second"}
    )
    assert (status, patched["id"], patched["body"]) == (200, created["id"], "second")
    assert call(fake_github, "GET", f"{REPO}/issues/7/comments")[1][0]["body"] == "second"

    last = fake_github.requests[-2]
    assert (last.method, last.path, last.json) == (
        "PATCH",
        f"{REPO}/issues/comments/{created['id']}",
        {"body": "second"},
    )
    assert last.headers["authorization"] == "Bearer t0ken"


def test_comment_pagination_and_link_header(fake_github):
    for i in range(5):
        fake_github.add_comment("octo-org/demo", 3, f"c{i}")
    status, page2, headers = call(fake_github, "GET", f"{REPO}/issues/3/comments?per_page=2&page=2")
    assert status == 200
    assert [c["body"] for c in page2] == ["c2", "c3"]
    assert 'page=3>; rel="next"' in headers["Link"]
    assert fake_github.requests[-1].query == {"per_page": "2", "page": "2"}


def test_comment_body_too_long_is_422(fake_github):
    status, body, _ = call(
        fake_github, "POST", f"{REPO}/issues/1/comments", {"body": "x" * (BODY_LIMIT + 1)}
    )
    assert status == 422
    assert body["message"] == "Validation Failed"
    assert "too long" in body["errors"][0]["message"]


def test_pull_create_find_and_duplicate_422(fake_github):
    new = {"title": "Retrain", "head": "bot/retrain", "base": "main", "body": "metrics"}
    status, pull, _ = call(fake_github, "POST", f"{REPO}/pulls", new)
    assert status == 201
    assert pull["head"]["label"] == "octo-org:bot/retrain"
    assert pull["html_url"] == f"https://github.com/octo-org/demo/pull/{pull['number']}"

    status, dup, _ = call(fake_github, "POST", f"{REPO}/pulls", new)
    assert status == 422
    assert dup["errors"][0]["message"] == "A pull request already exists for octo-org:bot/retrain."

    found = call(fake_github, "GET", f"{REPO}/pulls?head=octo-org:bot/retrain&state=open&base=main")
    assert [p["number"] for p in found[1]] == [pull["number"]]
    assert call(fake_github, "GET", f"{REPO}/pulls?head=octo-org:other")[1] == []

    status, closed, _ = call(
        fake_github,
        "PATCH",
        f"{REPO}/pulls/{pull['number']}",
        {"state": "closed", "title": "Retrain v2"},
    )
    assert (status, closed["state"], closed["title"]) == (200, "closed", "Retrain v2")
    assert call(fake_github, "GET", f"{REPO}/pulls?head=octo-org:bot/retrain")[1] == []
    # Once the old PR is closed, the same head may be opened again.
    assert call(fake_github, "POST", f"{REPO}/pulls", new)[0] == 201


def test_labels_show_on_pull(fake_github):
    pull = fake_github.add_pull("octo-org/demo", "feature")
    status, labels, _ = call(
        fake_github,
        "POST",
        f"{REPO}/issues/{pull['number']}/labels",
        {"labels": ["model-update", "automated"]},
    )
    assert status == 200
    assert [label["name"] for label in labels] == ["model-update", "automated"]
    got = call(fake_github, "GET", f"{REPO}/pulls/{pull['number']}")[1]
    assert [label["name"] for label in got["labels"]] == ["model-update", "automated"]


@pytest.mark.parametrize("status", [403, 500, 502])
def test_fail_next_answers_the_status_then_recovers(fake_github, status):
    fake_github.fail_next(status, "Resource not accessible by integration", times=2)
    for _ in range(2):
        got, body, _ = call(fake_github, "POST", f"{REPO}/issues/1/comments", {"body": "x"})
        assert got == status
        assert body["message"] == "Resource not accessible by integration"
    assert call(fake_github, "POST", f"{REPO}/issues/1/comments", {"body": "x"})[0] == 201
    assert len(fake_github.comments_on("octo-org/demo", 1)) == 1


def test_missing_or_wrong_auth_is_401():
    with FakeGitHub(tokens={"right": GITHUB_ACTIONS}) as fake:
        status, body, _ = call(fake, "GET", f"{REPO}/pulls", token=None)
        assert (status, body["message"]) == (401, "Bad credentials")
        assert call(fake, "GET", f"{REPO}/pulls", token="wrong")[0] == 401
        assert call(fake, "GET", f"{REPO}/pulls", token="right")[0] == 200


def test_unknown_route_and_bad_json(fake_github):
    status, body, _ = call(fake_github, "GET", "/repos/octo-org/demo/nope")
    assert (status, body["message"]) == (404, "Not Found")
    req = urllib.request.Request(
        fake_github.url + f"{REPO}/pulls",
        data=b"{not json",
        method="POST",
        headers={"Authorization": "token x"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    with err.value:
        assert err.value.code == 400
        assert json.loads(err.value.read())["message"] == "Problems parsing JSON"


def test_stop_frees_the_server():
    fake = FakeGitHub().start()
    url = fake.url
    fake.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/", timeout=2)


def test_tokens_act_as_their_identity():
    tokens = {"ghs_run": GITHUB_ACTIONS, "ghs_app": app_bot("mlops-bot"),
              "ghp_pat": user("octocat")}  # fmt: skip
    with FakeGitHub(tokens=tokens) as fake:
        for token, identity in tokens.items():
            _, made, _ = call(fake, "POST", f"{REPO}/issues/4/comments", {"body": token}, token)
            assert made["user"]["login"] == identity["login"]
        # GET /user names a person's token; installation tokens (Actions, Apps) get a 403.
        assert call(fake, "GET", "/user", token="ghp_pat")[:2] == (200, user("octocat"))
        for token in ("ghs_run", "ghs_app"):
            status, body, _ = call(fake, "GET", "/user", token=token)
            assert (status, body["message"]) == (403, "Resource not accessible by integration")


def test_a_bug_in_the_fake_fails_the_test_that_met_it(monkeypatch):
    fake = FakeGitHub()
    with pytest.raises(AssertionError, match="fake_github had internal errors.*KeyError"), fake:
        monkeypatch.setattr(fake, "list_labels", lambda *args, **kw: {}["boom"])
        assert call(fake, "GET", f"{REPO}/issues/1/labels")[0] == 500


def test_fail_next_can_wait_for_a_method(fake_github):
    fake_github.fail_next(422, "Validation Failed", method="POST")
    assert call(fake_github, "GET", f"{REPO}/issues/1/comments")[0] == 200
    assert call(fake_github, "POST", f"{REPO}/issues/1/comments", {"body": "x"})[0] == 422


def test_a_pull_from_a_branch_never_pushed_is_422(fake_github):
    fake_github.add_branches("octo-org/demo", "pushed")
    new = {"title": "t", "head": "missing", "base": "main"}
    status, body, _ = call(fake_github, "POST", f"{REPO}/pulls", new)
    assert status == 422
    assert body["errors"] == [{"resource": "PullRequest", "code": "invalid", "field": "head"}]
    assert call(fake_github, "POST", f"{REPO}/pulls", {**new, "head": "pushed"})[0] == 201
