"""Create or update the one open pull request from a branch; add labels; print the result.

    GITHUB_TOKEN=... python3 open_pr.py --repo OWNER/NAME --head BRANCH --base main \
        --title TITLE --body-file FILE [--label LABEL ...]

Prints {"number": N, "url": "...", "created": true|false}. An open PR from HEAD into
BASE is updated in place (title and body), so re-running never opens a duplicate.
GITHUB_API_URL points it at another API (GitHub Enterprise, or a test's fake).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_lib"))
from github_api import GitHub, fit_body, read_text, run_cli, write_outputs  # noqa: E402

PROG = "open-pr"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, help="OWNER/NAME of the repository")
    parser.add_argument("--head", required=True, help="branch with the changes (or OWNER:BRANCH)")
    parser.add_argument("--base", required=True, help="branch to merge into, e.g. main")
    parser.add_argument("--title", required=True)
    parser.add_argument("--body-file", required=True, help="Markdown file with the PR body")
    parser.add_argument("--label", action="append", default=[], help="label to add (repeatable)")
    return parser.parse_args(argv)


def open_pr(github: GitHub, head: str, base: str, title: str, body: str, labels: list[str]):
    """Returns (pull request, created?)."""
    label = head if ":" in head else f"{github.owner}:{head}"  # GitHub's head filter wants OWNER:
    found = github.get_all(
        "find the open pull request", "/pulls", {"head": label, "base": base, "state": "open"}
    )
    fields = {"title": title, "body": fit_body(body)}
    if found:
        number = found[0]["number"]
        pull = github.call("update pull request", "PATCH", f"/pulls/{number}", fields)
        created = False
    else:
        pull = github.call(
            "create pull request", "POST", "/pulls", {**fields, "head": head, "base": base}
        )
        created = True
    if labels:
        github.call("add labels", "POST", f"/issues/{pull['number']}/labels", {"labels": labels})
    return pull, created


def main(argv=None) -> None:
    args = parse_args(argv)
    github = GitHub(args.repo)
    body = read_text(args.body_file)
    labels = [name.strip() for name in args.label if name.strip()]
    pull, created = open_pr(github, args.head, args.base, args.title, body, labels)
    write_outputs({"number": pull["number"], "url": pull["html_url"], "created": created})


if __name__ == "__main__":
    sys.exit(run_cli(PROG, main))
