"""open-pr and pr-comment against the local fake GitHub API, run as the runner runs them.

The Actions are run with tests/support/action_runner.py (inputs through `env:`, real
GITHUB_OUTPUT files); their scripts talk HTTP to the fake at GITHUB_API_URL.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.support.action_runner import run_action
from tests.support.fake_github import BODY_LIMIT, GITHUB_ACTIONS, FakeGitHub, app_bot, user

REPO = "octo-org/demo"
OPEN_PR = ROOT / "actions/open-pr"
PR_COMMENT = ROOT / "actions/pr-comment"


def github(fake, **extra):
    """The github context a workflow run would have, pointed at the fake API."""
    return {"repository": REPO, "api_url": fake.url, "token": "t0ken", "sha": "a" * 40,
            "run_id": "77", **extra}  # fmt: skip


def api_env(fake):
    """Job environment: the runner's own, without a real token leaking into the test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_"))}
    return {**env, "GITHUB_API_URL": fake.url}


def assert_step_ok(result):
    assert not result.failed, result.log


# -- open-pr ---------------------------------------------------------------------------------


def open_pr(fake, tmp_path, **inputs):
    given = {"head": "bot/retrain", "title": "Retrain", "body": "metrics moved", **inputs}
    return run_action(OPEN_PR, given, cwd=tmp_path, env=api_env(fake), github=github(fake))


def test_open_pr_creates_then_updates_the_same_pull_request(fake_github, tmp_path):
    first = open_pr(fake_github, tmp_path, labels="retraining, automated")
    assert_step_ok(first)
    assert first.outputs["created"] == "true"
    number = int(first.outputs["number"])
    assert first.outputs["url"] == f"https://github.com/{REPO}/pull/{number}"
    pull = fake_github.pulls[REPO][number]
    assert (pull["title"], pull["body"].strip(), pull["base"]["ref"]) == (
        "Retrain", "metrics moved", "main")  # fmt: skip
    assert [label["name"] for label in pull["labels"]] == ["retraining", "automated"]

    second = open_pr(fake_github, tmp_path, title="Retrain again", body="new numbers")
    assert_step_ok(second)
    assert (second.outputs["created"], second.outputs["number"]) == ("false", str(number))
    assert len(fake_github.pulls[REPO]) == 1, "a second run must not open a duplicate"
    assert (pull["title"], pull["body"].strip()) == ("Retrain again", "new numbers")
    posts = [r for r in fake_github.requests if r.method == "POST" and r.path.endswith("/pulls")]
    assert len(posts) == 1
    assert any(
        r.method == "GET" and r.query.get("head") == "octo-org:bot/retrain"
        for r in fake_github.requests
    ), "the open PR is looked up with GitHub's OWNER:BRANCH head filter"
    assert fake_github.requests[0].headers["authorization"] == "Bearer t0ken"


def test_open_pr_reads_the_body_file_and_leaves_other_branches_alone(fake_github, tmp_path):
    other = fake_github.add_pull(REPO, "someone/else", title="unrelated")
    (tmp_path / "body.md").write_text("## Drift\n\nshare 0.4\n")
    result = open_pr(fake_github, tmp_path, **{"body-file": "body.md", "body": "ignored"})
    assert_step_ok(result)
    assert result.outputs["created"] == "true"
    assert int(result.outputs["number"]) != other["number"]
    assert (
        fake_github.pulls[REPO][int(result.outputs["number"])]["body"] == "## Drift\n\nshare 0.4\n"
    )
    assert other["title"] == "unrelated"


@pytest.mark.parametrize(
    ("status", "message", "call"),
    [
        (403, "Resource not accessible by integration", "find the open pull request"),
        (502, "Server Error", "find the open pull request"),
    ],
)
def test_open_pr_api_error_fails_the_step_with_a_clear_message(
    fake_github, tmp_path, status, message, call
):
    fake_github.fail_next(status, message)
    result = open_pr(fake_github, tmp_path)
    assert result.failed
    err = result.step("pr").stderr
    assert f"open-pr: {call} (GET /repos/{REPO}/pulls) failed with HTTP {status}: {message}" in err
    assert "Traceback" not in err
    assert fake_github.pulls.get(REPO, {}) == {}


def test_open_pr_validation_error_names_github_reason(fake_github, tmp_path):
    """GitHub answers 422 with details in `errors` when the head branch was never pushed."""
    fake_github.add_branches(REPO, "main")
    result = open_pr(fake_github, tmp_path)
    assert result.failed
    assert (
        f"open-pr: create pull request (POST /repos/{REPO}/pulls) failed with HTTP 422: "
        "Validation Failed (PullRequest head invalid)"
    ) in result.step("pr").stderr


def test_open_pr_script_interface(fake_github, tmp_path):
    """The command other Actions and workflows call directly, and its one JSON line."""
    body = tmp_path / "body.md"
    body.write_text("promote v3")
    command = [sys.executable, str(OPEN_PR / "open_pr.py"), "--repo", REPO, "--head",
               "promote/production", "--base", "main", "--title", "Promote v3",
               "--body-file", str(body), "--label", "promotion"]  # fmt: skip
    env = {**api_env(fake_github), "GITHUB_TOKEN": "t0ken"}
    runs = [subprocess.run(command, env=env, capture_output=True, text=True) for _ in range(2)]
    lines = [json.loads(run.stdout) for run in runs]
    assert [line["created"] for line in lines] == [True, False]
    assert lines[0]["number"] == lines[1]["number"]
    assert lines[0]["url"].endswith(f"/pull/{lines[0]['number']}")
    no_token = subprocess.run(command, env=api_env(fake_github), capture_output=True, text=True)
    assert no_token.returncode == 1
    assert "GITHUB_TOKEN is empty" in no_token.stderr


def test_open_pr_unreachable_api_is_a_clear_error(tmp_path):
    env = {**os.environ, "GITHUB_TOKEN": "t", "GITHUB_API_URL": "http://127.0.0.1:9"}
    (tmp_path / "b.md").write_text("x")
    done = subprocess.run(
        [sys.executable, str(OPEN_PR / "open_pr.py"), "--repo", REPO, "--head", "b", "--base",
         "main", "--title", "t", "--body-file", str(tmp_path / "b.md")],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1
    assert "could not reach http://127.0.0.1:9" in done.stderr


# -- pr-comment ------------------------------------------------------------------------------


def comment(fake, workspace, number=12, token="t0ken", **inputs):
    event = {"pull_request": {"number": number}}
    context = github(fake, event_name="pull_request", event=event, token=token)
    return run_action(PR_COMMENT, inputs, cwd=workspace, env=api_env(fake), github=context)


def write_reports(workspace, gate="0.8493"):
    reports = workspace / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "data_check.md").write_text("## Data check passed\n")
    (reports / "metrics_diff.md").write_text("## Metrics and params against `main`\n")
    (reports / "fairness.md").write_text("## Fairness by group\n")
    (reports / "model_tests.md").write_text(f"## Model tests passed\n\n| roc_auc | {gate} |\n")


def test_pr_comment_creates_one_comment_then_updates_it(fake_github, tmp_path):
    fake_github.add_comment(REPO, 12, "LGTM", author=user("reviewer"))
    write_reports(tmp_path)
    first = comment(fake_github, tmp_path)
    assert_step_ok(first)
    assert first.outputs["created"] == "true"
    comments = fake_github.comments_on(REPO, 12)
    assert len(comments) == 2
    body = comments[1]["body"]
    assert body.startswith("<!-- mlops-ci -->\n")
    for heading in ("## Model report", "## Data check passed", "## Metrics and params",
                    "## Fairness by group", "## Model tests passed", "0.8493"):  # fmt: skip
        assert heading in body
    assert "[workflow run](https://github.com/octo-org/demo/actions/runs/77)" in body

    write_reports(tmp_path, gate="0.9012")
    second = comment(fake_github, tmp_path)
    assert_step_ok(second)
    assert second.outputs["created"] == "false"
    assert second.outputs["comment-id"] == first.outputs["comment-id"]
    comments = fake_github.comments_on(REPO, 12)
    assert len(comments) == 2, "no comment spam: the second run edits the first comment"
    assert "0.9012" in comments[1]["body"] and "0.8493" not in comments[1]["body"]
    assert comments[0]["body"] == "LGTM"
    patches = [r for r in fake_github.requests if r.method == "PATCH"]
    assert [r.path for r in patches] == [f"/repos/{REPO}/issues/comments/{comments[1]['id']}"]


def test_pr_comment_lists_reports_a_failed_run_did_not_produce(fake_github, tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/data_check.md").write_text("## Data check FAILED\n")
    result = comment(fake_github, tmp_path)
    assert_step_ok(result)
    body = fake_github.comments_on(REPO, 12)[0]["body"]
    assert "## Data check FAILED" in body
    assert "Not produced in this run: `reports/metrics_diff.md`, `reports/fairness.md`" in body


def test_pr_comment_markers_keep_separate_comments(fake_github, tmp_path):
    write_reports(tmp_path)
    comment(fake_github, tmp_path)
    other = comment(fake_github, tmp_path, marker="drift", sections="reports/fairness.md")
    assert other.outputs["created"] == "true"
    assert len(fake_github.comments_on(REPO, 12)) == 2


@pytest.mark.parametrize("status", [403, 404, 500])
def test_pr_comment_api_error_fails_with_a_clear_message(fake_github, tmp_path, status):
    write_reports(tmp_path)
    fake_github.fail_next(status, "Resource not accessible by integration", path="/comments")
    result = comment(fake_github, tmp_path)
    assert result.failed
    assert (
        f"pr-comment: list comments (GET /repos/{REPO}/issues/12/comments) failed with "
        f"HTTP {status}: Resource not accessible by integration"
    ) in result.step("comment").stderr
    assert fake_github.comments_on(REPO, 12) == []


def test_pr_comment_error_on_the_write_is_reported_too(fake_github, tmp_path):
    """The listing succeeds, the create is refused: the message names the create call."""
    write_reports(tmp_path)
    fake_github.fail_next(403, "Resource not accessible by integration", method="POST")
    result = comment(fake_github, tmp_path)
    assert result.failed
    assert (
        f"pr-comment: create comment (POST /repos/{REPO}/issues/12/comments) failed with "
        "HTTP 403: Resource not accessible by integration"
    ) in result.step("comment").stderr


def test_pr_comment_outside_a_pull_request_says_so(fake_github, tmp_path):
    result = run_action(PR_COMMENT, {}, cwd=tmp_path, env=api_env(fake_github),
                        github=github(fake_github, event_name="push"))  # fmt: skip
    assert result.failed
    assert "no pull request number" in result.step("comment").stderr
    assert fake_github.requests == []


# -- pr-comment: whose comment, how many, how long ---------------------------------------------

MARKED = "<!-- mlops-ci -->\n"


def test_pr_comment_leaves_a_marker_comment_by_someone_else_alone(fake_github, tmp_path):
    """Anyone can type the marker; only the token's own comment is edited."""
    foreign = fake_github.add_comment(REPO, 12, MARKED + "not the bot's", author=user("mallory"))
    write_reports(tmp_path)
    first = comment(fake_github, tmp_path)
    assert_step_ok(first)
    assert first.outputs["created"] == "true"
    assert_step_ok(comment(fake_github, tmp_path))
    comments = fake_github.comments_on(REPO, 12)
    assert comments[0] == foreign, "the foreign comment is untouched"
    assert [c["user"]["login"] for c in comments] == ["mallory", "github-actions[bot]"]
    assert "## Model report" in comments[1]["body"]


@pytest.mark.parametrize(
    ("identity", "app_slug"), [(app_bot("mlops-bot"), "mlops-bot"), (user("octocat"), "")]
)
def test_pr_comment_finds_the_comment_its_token_wrote(tmp_path, identity, app_slug):
    """A GitHub App's token writes as `<slug>[bot]`; a personal token as its user."""
    with FakeGitHub(tokens={"tok": identity}) as fake:
        for author in (GITHUB_ACTIONS, identity, user("mallory")):
            fake.add_comment(REPO, 12, MARKED + "earlier", author=author)
        ours = fake.comments_on(REPO, 12)[1]["id"]
        write_reports(tmp_path)
        result = comment(fake, tmp_path, token="tok", **{"app-slug": app_slug})
        assert_step_ok(result)
        assert (result.outputs["created"], result.outputs["comment-id"]) == ("false", str(ours))
        bodies = [c["body"] for c in fake.comments_on(REPO, 12)]
        assert bodies[0] == bodies[2] == MARKED + "earlier"
        assert "## Model report" in bodies[1]


def test_pr_comment_finds_its_comment_among_120(fake_github, tmp_path):
    """GitHub lists at most 100 comments a page: the marker comment is on the second one."""
    for i in range(120):
        body = MARKED + "old report" if i == 110 else f"review {i}"
        fake_github.add_comment(REPO, 12, body, author=GITHUB_ACTIONS if i == 110 else user("r"))
    write_reports(tmp_path)
    result = comment(fake_github, tmp_path)
    assert_step_ok(result)
    assert result.outputs["created"] == "false", "a missed marker posts a duplicate"
    comments = fake_github.comments_on(REPO, 12)
    assert len(comments) == 120 and "## Model report" in comments[110]["body"]


def test_pr_comment_cuts_a_report_longer_than_github_takes(fake_github, tmp_path):
    (tmp_path / "big.md").write_text("| row | value |\n" * 5000)  # 70,000 characters
    result = comment(fake_github, tmp_path, sections="big.md")
    assert_step_ok(result)
    (posted,) = fake_github.comments_on(REPO, 12)
    assert len(posted["body"]) <= BODY_LIMIT
    assert "cut: longer than GitHub's body limit" in posted["body"]


def test_pr_comment_never_sends_the_token_to_another_host(fake_github, tmp_path):
    with FakeGitHub() as elsewhere:
        fake_github.link_base = elsewhere.url  # a Link header naming another host
        for i in range(120):
            fake_github.add_comment(REPO, 12, f"review {i}", author=user("r"))
        write_reports(tmp_path)
        result = comment(fake_github, tmp_path)
        assert result.failed
        assert f"next page is on {elsewhere.url}, not on the API's own host" in result.log
        assert elsewhere.requests == []


def test_pr_comment_waits_out_a_short_rate_limit(fake_github, tmp_path):
    write_reports(tmp_path)
    fake_github.fail_next(429, "Too many requests", times=2, headers={"Retry-After": "1"},
                          path="/comments")  # fmt: skip
    result = comment(fake_github, tmp_path)
    assert_step_ok(result)
    lists = [r for r in fake_github.requests if r.path.endswith("/12/comments")]
    assert [r.method for r in lists] == ["GET", "GET", "GET", "POST"]


def test_pr_comment_fails_clearly_on_a_long_rate_limit(fake_github, tmp_path):
    write_reports(tmp_path)
    reset = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 3600)}
    fake_github.fail_next(403, "API rate limit exceeded for installation ID 7.", headers=reset,
                          path="/comments")  # fmt: skip
    result = comment(fake_github, tmp_path)
    assert result.failed
    err = result.step("comment").stderr
    assert "list comments (GET /repos/octo-org/demo/issues/12/comments) is rate limited" in err
    asked = re.search(r"GitHub asks for (\d+) s more", err)
    assert asked and 3000 < int(asked.group(1)) <= 3600, err
    lists = [r for r in fake_github.requests if r.path.endswith("/12/comments")]
    assert len(lists) == 1, "no waiting (and no retry) for a limit that resets in an hour"
    assert fake_github.comments_on(REPO, 12) == []
