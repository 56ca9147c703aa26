"""Create or update the ONE comment on a pull request that carries a hidden marker.

    GITHUB_TOKEN=... python3 pr_comment.py --repo OWNER/NAME --pr 12 --marker mlops-ci \
        [--title "Model report"] [--app-slug SLUG] (--body-file FILE | --section FILE ...)

The comment starts with `<!-- MARKER -->`; a later run finds it by that line and by its
author, the identity the token writes as, and edits it, so a pull request gets one
comment that always shows the latest run. A comment with the marker that someone else
wrote is left alone (anyone can type the marker). Sections are
Markdown files joined in order; a missing one is listed as not produced, so a job that
stopped early still says what it did not get to.
Prints {"id": N, "url": "...", "created": true|false}.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_lib"))
from github_api import ApiError, GitHub, fit_body, read_text, run_cli, write_outputs  # noqa: E402

PROG = "pr-comment"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, help="OWNER/NAME of the repository")
    parser.add_argument("--pr", required=True, type=int, help="pull request number")
    parser.add_argument("--marker", default="mlops-ci", help="identifies this comment")
    parser.add_argument("--title", default="", help="heading above the sections")
    parser.add_argument(
        "--app-slug", default="", help="the GitHub App whose installation token is used, if any"
    )
    parser.add_argument("--body-file", help="the whole body, as one Markdown file")
    parser.add_argument("--section", action="append", default=[], help="Markdown file to add")
    args = parser.parse_args(argv)
    if not args.body_file and not args.section:
        parser.error("give --body-file or at least one --section")
    return args


def marker_line(marker: str) -> str:
    return f"<!-- {marker} -->"


def compose(marker: str, title: str, body_file: str | None, sections: list[str]) -> str:
    parts = [marker_line(marker)]
    if title:
        parts.append(f"## {title}")
    if body_file:
        parts.append(read_text(body_file).strip())
    present = [path for path in sections if Path(path).is_file()]
    parts += [read_text(path).strip() for path in present]
    missing = [path for path in sections if path not in present]
    if missing:
        parts.append("Not produced in this run: " + ", ".join(f"`{p}`" for p in missing) + ".")
    parts.append(_footer())
    return fit_body("\n\n".join(part for part in parts if part))


def _footer() -> str:
    """Which commit and run the comment describes, when running in a workflow."""
    sha, run_id = os.environ.get("GITHUB_SHA", ""), os.environ.get("GITHUB_RUN_ID", "")
    if not (sha and run_id):
        return ""
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    run = f"{server}/{os.environ.get('GITHUB_REPOSITORY', '')}/actions/runs/{run_id}"
    return f"<sub>Commit {sha[:12]} · [workflow run]({run})</sub>"


def upsert_comment(github: GitHub, number: int, marker: str, body: str, author: str):
    """Returns (comment, created?). Only a comment by `author` is ours to edit."""
    if number <= 0:
        raise ApiError(f"pull request number {number} is not valid: run on a pull_request event.")
    comments = github.get_all("list comments", f"/issues/{number}/comments")
    mine = [
        c
        for c in comments
        if (c.get("body") or "").startswith(marker_line(marker))
        and (c.get("user") or {}).get("login") == author
    ]
    if mine:
        comment_id = mine[0]["id"]
        path = f"/issues/comments/{comment_id}"
        return github.call("update comment", "PATCH", path, {"body": body}), False
    path = f"/issues/{number}/comments"
    return github.call("create comment", "POST", path, {"body": body}), True


def main(argv=None) -> None:
    args = parse_args(argv)
    github = GitHub(args.repo)
    body = compose(args.marker, args.title, args.body_file, args.section)
    author = github.login(args.app_slug)
    comment, created = upsert_comment(github, args.pr, args.marker, body, author)
    write_outputs({"id": comment["id"], "url": comment["html_url"], "created": created})


if __name__ == "__main__":
    sys.exit(run_cli(PROG, main))
