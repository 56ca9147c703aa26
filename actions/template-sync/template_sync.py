"""Bring template updates into a generated repository as one pull request.

    GITHUB_TOKEN=... python3 template_sync.py --repo OWNER/NAME [--base main]
        [--branch template-sync] [--ref v1.2.0] [--project-dir .] [--remote origin]

Reads .cruft.json on the base branch (template, recorded commit, answers), merges what the
template's output changed from the recorded commit to the target ref into the base branch
(three_way.py), commits the result (conflict markers where both sides changed the same
lines), pushes it to one branch and opens or updates one pull request through
../open-pr/open_pr.py. Prints one JSON line; in a step, also writes step outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_lib"))
from git_bot import auth_env  # noqa: E402
from github_api import REPO_PATTERN, write_outputs  # noqa: E402
from three_way import (  # noqa: E402
    SyncError,
    Trees,
    Update,
    bake,
    describe,
    git,
    identity,
    merge,
    moved_actions_ref,
    resolve_target,
    with_file,
)

PROG = "template-sync"
HERE = Path(__file__).resolve().parent
OPEN_PR = HERE.parent / "open-pr" / "open_pr.py"
TRAILER = "Template-Sync-Commit"  # marks the branch's commits as this script's own
LABEL = "template-sync"
LIST_LIMIT = 200  # files listed per section of the PR body (GitHub caps bodies at 64 KiB)
PHASES = ("all", "fetch", "bake", "publish")
JINJA = ("{{", "{%", "{#")  # what would make cookiecutter run an answer as template code
SECRET_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN", "TEMPLATE_TOKEN")  # never while baking


@dataclass
class Plan:
    base: str  # commit of the base branch
    template: str
    old: str  # template commit recorded on the base branch
    new: str  # template commit to update to
    versions: tuple[str, str]  # release tags (or short hashes) of old and new
    actions_ref: tuple[str | None, str | None]
    state: dict  # .cruft.json after the update
    update: Update


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repo",
        default=os.environ.get("GITHUB_REPOSITORY", ""),
        help="OWNER/NAME of this repository (default: $GITHUB_REPOSITORY)",
    )
    parser.add_argument("--base", default="main", help="branch to update (default: main)")
    parser.add_argument("--branch", default="template-sync", help="branch of the pull request")
    parser.add_argument(
        "--ref", default="", help="template release tag vX.Y.Z (default: the newest one)"
    )
    parser.add_argument(
        "--template",
        default="",
        help="template repository URL (default: `template` in .cruft.json)",
    )
    parser.add_argument("--project-dir", default=Path("."), type=Path)
    parser.add_argument("--remote", default="origin", help="git remote to push the branch to")
    parser.add_argument(
        "--phase",
        choices=PHASES,
        default="all",
        help="fetch (clone the template, with TEMPLATE_TOKEN), bake (no token anywhere), "
        "publish (merge, push and open the PR, with GITHUB_TOKEN), or all three (default)",
    )
    parser.add_argument("--work", type=Path, help="folder the phases share (default: a temp dir)")
    parser.add_argument("--bundle", type=Path, help="publish: the bake phase's bundle.tar")
    return parser.parse_args(argv)


def git_env(token_variable: str = "GITHUB_TOKEN") -> dict:
    """Environment for git calls that reach GitHub: the token as an HTTP header, never on disk
    (git_bot.auth_env)."""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    return env | auth_env(env.get(token_variable, ""), env.get("GITHUB_SERVER_URL", ""))


# -- what to update ------------------------------------------------------------------------


def read_state(repo: Path, base: str) -> tuple[str, dict]:
    """(base commit, .cruft.json on it)."""
    commit = git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", cwd=repo, ok=(0, 1))
    if not commit.strip():
        raise SyncError(f"branch {base!r} is not in {repo}: check it out first.")
    shown = git("show", f"{commit.strip()}:.cruft.json", cwd=repo, ok=(0, 128))
    if not shown:
        raise SyncError(
            f".cruft.json is missing on {base}: this repository records no template to update "
            "from (write one with `cruft link`, or copy it from a fresh bake and edit it)."
        )
    try:
        state = json.loads(shown)
        answers, template = state["context"]["cookiecutter"], state["template"]
    except (ValueError, KeyError, TypeError) as error:
        raise SyncError(
            f".cruft.json on {base} is not cruft's format ({error!r}): it needs `template`, "
            '`commit` and `context` {"cookiecutter": {answers}}.'
        ) from None
    if not isinstance(answers, dict) or not template:
        raise SyncError(f".cruft.json on {base} names no template or holds no answers.")
    if not state.get("commit"):
        raise SyncError(
            ".cruft.json records no template commit (the repository was baked from a folder "
            "that is not a git checkout): set `commit` to the template commit it was baked from."
        )
    return commit.strip(), state


def is_ancestor(clone: Path, ancestor: str, commit: str) -> bool:
    command = ["git", "merge-base", "--is-ancestor", ancestor, commit]
    return subprocess.run(command, cwd=clone, capture_output=True).returncode == 0


def recorded_answers(state: dict) -> dict:
    """The answers to bake with, refused when one holds Jinja: cookiecutter renders answers."""
    answers = {k: v for k, v in state["context"]["cookiecutter"].items() if k[:1] != "_"}
    for key, value in answers.items():
        for text in (key, *strings_in(value)):
            found = [mark for mark in JINJA if mark in text]
            if found:
                raise SyncError(
                    f"the answer {key!r} in .cruft.json holds the Jinja delimiter {found[0]!r}: "
                    "answers are data, and cookiecutter would run it as template code. Remove "
                    "it from .cruft.json on the base branch; nothing was baked."
                )
    return answers


def strings_in(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for k, v in value.items() for text in (*strings_in(k), *strings_in(v))]
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return []


def checked_source(args, state: dict) -> tuple[str, str | None]:
    """(template URL, folder in it): no option smuggled to git, no path out of the clone."""
    template, directory = args.template or state["template"], state.get("directory")
    if not isinstance(template, str) or not template or template.startswith("-"):
        raise SyncError(f"the template {template!r} is not a repository URL or path.")
    if directory and (Path(directory).is_absolute() or ".." in Path(directory).parts):
        raise SyncError(f"`directory` {directory!r} in .cruft.json is not a template folder.")
    return template, directory


def fetch(args, work: Path) -> None:
    """Clone the template: git alone, no template code; the only phase with TEMPLATE_TOKEN."""
    _, state = read_state(args.project_dir.resolve(), args.base)
    template, _ = checked_source(args, state)
    recorded_answers(state)  # a hostile answer stops the run before anything else
    clone = work / "template"
    if clone.exists():
        shutil.rmtree(clone)
    git("clone", "--quiet", "--no-checkout", "--", template, clone, cwd=work,
        env=git_env("TEMPLATE_TOKEN"))  # fmt: skip


def bake_update(args, work: Path) -> dict | None:
    """Bake the recorded and the target release with this repo's answers, token-free.

    Returns the plan (also written to work/plan.json with both bakes in work/bundle.tar),
    or None when the template brings nothing new.
    """
    if any(name in os.environ for name in SECRET_VARIABLES):
        raise SyncError(
            f"the bake phase runs template code: start it without {', '.join(SECRET_VARIABLES)} "
            "in its environment."
        )
    base, state = read_state(args.project_dir.resolve(), args.base)
    answers = recorded_answers(state)
    template, directory = checked_source(args, state)
    clone = work / "template"
    if not (clone / "HEAD").exists() and not (clone / ".git").exists():
        raise SyncError(f"no clone of the template in {work}: run the fetch phase first.")
    old = state["commit"]
    if git("cat-file", "-t", old, cwd=clone, ok=(0, 128)).strip() != "commit":
        raise SyncError(
            f"the recorded commit {old[:12]} is not in the template {template} (was its history "
            "rewritten?): set `commit` in .cruft.json to the template commit this repo matches."
        )
    name, new = resolve_target(clone, args.ref or None)
    if new == old or is_ancestor(clone, new, old):
        print(f"{PROG}: up to date: the template at {name} ({new[:12]}) brings nothing new.")
        return None
    moved = dict(answers)
    if "actions_ref" in answers:
        moved["actions_ref"] = moved_actions_ref(answers["actions_ref"], name, new)
    for side in ("old", "new"):
        shutil.rmtree(work / side, ignore_errors=True)
    bake(clone, old, answers, directory, work / "old")
    bake(clone, new, moved, directory, work / "new")
    context = {**state["context"]["cookiecutter"], **moved, "_template": template}
    plan = {
        "base": base,
        "state_before": state,
        "template": template,
        "old": old,
        "new": new,
        "name": name,
        "versions": [describe(clone, old), describe(clone, new)],
        "actions_ref": [answers.get("actions_ref"), moved.get("actions_ref")],
        "state": {**state, "template": template, "commit": new, "checkout": name,
                  "context": {"cookiecutter": context}},
    }  # fmt: skip
    (work / "plan.json").write_text(json.dumps(plan, indent=2))
    with tarfile.open(work / "bundle.tar", "w") as bundle:
        bundle.add(work / "plan.json", "plan.json")
        for side in ("old", "new"):
            bundle.add(output_of(work / side), side)
    return plan


def output_of(bake_dir: Path) -> Path:
    (project,) = (bake_dir / "output").iterdir()
    return project


def unpack(bundle: Path, work: Path) -> dict:
    """The bake phase's plan and bakes, from another job: files only, nothing outside `work`."""
    for side in ("old", "new"):
        shutil.rmtree(work / side, ignore_errors=True)
    with tarfile.open(bundle) as archive:
        archive.extractall(work / "unpacked", filter="data")
    plan = json.loads((work / "unpacked" / "plan.json").read_text())
    for side in ("old", "new"):
        (work / side / "output").mkdir(parents=True)
        (work / "unpacked" / side).rename(work / side / "output" / side)
    return plan


def plan_update(args, trees: Trees, plan: dict, work: Path) -> Plan | None:
    """Merge the baked update into the base branch as it is now."""
    base, state = read_state(trees.repo, args.base)
    if state != plan["state_before"]:
        raise SyncError(
            f".cruft.json on {args.base} changed after the bake (another sync merged?): "
            "run template-sync again."
        )
    update = merge(trees, base, output_of(work / "old"), output_of(work / "new"),
                   state.get("skip") or [], release_label(plan["name"]))  # fmt: skip
    if not update.changes:
        print(f"{PROG}: up to date: at {plan['name']} the template's output for this repo is "
              "the same.")  # fmt: skip
        return None
    return Plan(
        base=base,
        template=plan["template"],
        old=plan["old"],
        new=plan["new"],
        versions=tuple(plan["versions"]),
        actions_ref=tuple(plan["actions_ref"]),
        state=plan["state"],
        update=update,
    )


def release_label(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "template"


# -- commit, push, pull request -------------------------------------------------------------


def commit_update(trees: Trees, plan: Plan) -> str:
    state = json.dumps(plan.state, indent=2, sort_keys=True) + "\n"  # as the post-gen hook does
    tree = with_file(trees, plan.update.tree, ".cruft.json", state)
    conflicts = ", ".join(plan.update.conflicts) or "none"
    message = (
        f"{title(plan)}\n\nTemplate: {plan.template}\nConflicts: {conflicts}\n\n"
        f"{TRAILER}: {plan.new}\n"
    )
    return trees.commit(tree, message, plan.base)


def push(repo: Path, remote: str, branch: str, commit: str, env: dict) -> str | None:
    """Force-push the update to the branch; returns the branch head, or None when left alone.

    A branch whose head is not this script's commit holds someone's work (a conflict
    resolution, say): it is kept, and the run says so.
    """
    ref = f"refs/heads/{branch}"
    if git("ls-remote", remote, ref, cwd=repo, env=env).strip():
        shallow = git("rev-parse", "--is-shallow-repository", cwd=repo).strip() == "true"
        depth = ["--depth=1"] if shallow else []
        git("fetch", "--quiet", "--no-tags", *depth, remote, ref, cwd=repo, env=env)
        head = git("rev-parse", "FETCH_HEAD", cwd=repo).strip()
        if f"\n{TRAILER}: " not in git("log", "-1", "--format=%B", head, cwd=repo):
            print(
                f"::warning::{PROG}: branch {branch} has commits not made by {PROG}; it is left "
                "as it is. Merge or close its pull request, or delete the branch, to get the "
                "next update."
            )
            return None
        same = [f"{head}^{{tree}}", f"{head}^"], [f"{commit}^{{tree}}", f"{commit}^"]
        if git("rev-parse", *same[0], cwd=repo) == git("rev-parse", *same[1], cwd=repo):
            return head  # the same update is already there: no push, no new CI run
    git("push", "--quiet", "--force", remote, f"{commit}:{ref}", cwd=repo, env=env)
    return commit


def open_pull_request(args, plan: Plan, body_file: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_OUTPUT"}  # ours, not its outputs
    command = [
        sys.executable,
        str(OPEN_PR),
        "--repo",
        args.repo,
        "--head",
        args.branch,
        "--base",
        args.base,
        "--title",
        title(plan),
        "--body-file",
        str(body_file),
        "--label",
        LABEL,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SyncError(done.stderr.strip() or f"open_pr.py failed with status {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- what the pull request says -------------------------------------------------------------


def title(plan: Plan) -> str:
    return f"Template update: {plan.versions[0]} → {plan.versions[1]}"


def web_url(template: str) -> str | None:
    """The browsable address of a template on GitHub (https or ssh URL), else None."""
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    host = urlsplit(server).netloc
    match = re.fullmatch(
        rf"(?:https://{re.escape(host)}/|git@{re.escape(host)}:)"
        r"([^/]+/[^/]+?)(?:\.git)?/?",
        template,
    )
    return f"{server}/{match.group(1)}" if match else None


def listing(paths, describe_path) -> list[str]:
    paths = list(paths)
    lines = [describe_path(path) for path in paths[:LIST_LIMIT]]
    if len(paths) > LIST_LIMIT:
        lines.append(f"- … and {len(paths) - LIST_LIMIT} more (see the branch's diff)")
    return lines


def pr_body(plan: Plan) -> str:
    old, new = plan.versions
    update, web = plan.update, web_url(plan.template)
    source = f"[the template]({web})" if web else f"the template (`{plan.template}`)"
    lines = [
        f"## Template update: `{old}` → `{new}`",
        "",
        f"This pull request brings what {source} changed between `{plan.old[:12]}` and "
        f"`{plan.new[:12]}` into this repository, for the answers in `.cruft.json`. It is a "
        "three-way merge: your own changes to these files are kept.",
    ]
    if web:
        lines += [
            "",
            f"Diff of the template: {web}/compare/{plan.old}...{plan.new}. What each "
            f"release brings: [CHANGELOG]({web}/blob/{plan.new}/CHANGELOG.md).",
        ]
    was, now = plan.actions_ref
    if was != now:
        lines += [
            "",
            f"`actions_ref` moves from `{was}` to `{now}`: the workflows call the "
            "Actions of the same template release.",
        ]
    if update.conflicts:
        lines += [
            "",
            f"### Conflicts to resolve before merging ({len(update.conflicts)})",
            "",
            "You and the template changed the same lines. These files are committed with "
            "conflict markers (`<<<<<<< template-sync/yours` … `>>>>>>> template-sync/…`): "
            "check out this branch, keep what you want, remove the markers and push.",
            "",
        ]
        lines += listing(
            update.conflicts,
            lambda path: (
                f"- `{path}`"
                + (
                    ""
                    if update.conflicts[path]
                    else " (no markers possible: binary or whole-file "
                    "conflict; compare it with the template's version)"
                )
            ),
        )
    lines += ["", f"### Changed by the template ({len(update.changes)})", ""]
    lines += listing(sorted(update.changes), lambda path: f"- `{path}`: {update.changes[path]}")
    if update.not_applied:
        lines += [
            "",
            f"### Not applied: files you deleted or skip ({len(update.not_applied)})",
            "",
            "The template changed these files, which this repository deleted (or lists under "
            "`skip` in `.cruft.json`); they stay as they are.",
            "",
        ]
        lines += listing(
            update.not_applied,
            lambda path: f"- `{path}`: {update.not_applied[path]} in the template",
        )
    lines += [
        "",
        "---",
        f"Merging records `{plan.new[:12]}` in `.cruft.json`, so the next update starts there. "
        f"Made by template-sync: later runs update this pull request while its branch holds "
        "only their commit; once you push to it, they leave it alone.",
    ]
    return "\n".join(lines) + "\n"


# -- entry point ------------------------------------------------------------------------------


def write_summary(summary: str) -> None:
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write(summary)


def publish(args, work: Path, plan: dict) -> None:
    repo, env = args.project_dir.resolve(), git_env()
    trees = Trees(repo, work / "scratch", identity(env, repo))
    trees.scratch.mkdir(parents=True, exist_ok=True)
    merged = plan_update(args, trees, plan, work)
    if merged is None:
        return write_outputs({"changed": False})
    body = pr_body(merged)
    head = push(repo, args.remote, args.branch, commit_update(trees, merged), env)
    outputs = {
        "changed": True,
        "conflicts": len(merged.update.conflicts),
        "commit": merged.new,
        "head": head or "",
    }
    if head is None:
        body = f"{PROG}: branch `{args.branch}` holds someone's commits; left as it is.\n"
    else:
        body_file = work / "body.md"
        body_file.write_text(body, encoding="utf-8")
        outputs.update(open_pull_request(args, merged, body_file))
    write_outputs(outputs)
    write_summary(body)


def run(args, work: Path) -> None:
    if args.phase in ("all", "fetch"):
        fetch(args, work)
        if args.phase == "fetch":
            return None
    if args.phase in ("all", "bake"):
        # In one process (all), the token stays in this process: bake() still scrubs the
        # child's environment. The Action runs each phase as its own step instead.
        popped = SECRET_VARIABLES if args.phase == "all" else ()  # bake alone: refused
        saved = {name: os.environ.pop(name) for name in popped if name in os.environ}
        try:
            plan = bake_update(args, work)
        finally:
            os.environ.update(saved)
        if plan is None:
            return write_outputs({"changed": False})
        if args.phase == "bake":
            return write_outputs({"changed": True, "bundle": str(work / "bundle.tar")})
    if args.phase == "publish":
        if args.bundle:
            plan = unpack(args.bundle, work)
        elif (work / "plan.json").exists():
            plan = json.loads((work / "plan.json").read_text())
        else:  # the bake phase found nothing to do
            return write_outputs({"changed": False})
    publish(args, work, plan)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.phase in ("all", "publish") and not REPO_PATTERN.fullmatch(args.repo):
        raise SyncError(f"--repo {args.repo!r} is not OWNER/NAME (or set GITHUB_REPOSITORY).")
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        return run(args, args.work.resolve())
    with tempfile.TemporaryDirectory(prefix="template-sync-") as scratch:
        run(args, Path(scratch))


if __name__ == "__main__":
    try:
        main()
    except SyncError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        sys.exit(1)
