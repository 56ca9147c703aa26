"""Three-way merge of a template update into a generated repository, with git alone.

The update is what the template's output changed between two commits, for this repo's
answers: bake the recorded commit (old) and the target commit (new), then merge with the
old bake as the common ancestor. Both bakes and the repo's base tree become commits in the
repo's own object store, so `git merge-tree` (git 2.38+) does the merge, renames, binary
files and conflict markers included, without touching the working tree.

Files the repo deleted, or lists in `skip`, are taken out of both bakes first: the merge
then sees no change to them, so they stay deleted (cruft does the same).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_lib"))
from git_bot import identity_env  # noqa: E402

RELEASE_TAG = re.compile(r"v(\d+)\.\d+\.\d+")
MAJOR_TAG = re.compile(r"v\d+")
FULL_SHA = re.compile(r"[0-9a-f]{40}")
REFS = "refs/template-sync"  # temporary refs; their names label the conflict markers
STATUS = {"A": "added", "M": "modified", "D": "deleted", "T": "type changed"}
# Baked in a child process: cookiecutter's hooks print next steps to the inherited stdout.
BAKE = (
    "import json, sys\n"
    "from cookiecutter.main import cookiecutter\n"
    "cookiecutter(**json.loads(sys.argv[1]))\n"
)


class SyncError(Exception):
    """The update cannot be computed; the text says why and what to do."""


@dataclass
class Update:
    tree: str  # the base tree plus the template's changes; conflicts hold markers
    changes: dict[str, str] = field(default_factory=dict)  # path -> added/modified/deleted
    conflicts: dict[str, bool] = field(default_factory=dict)  # path -> has conflict markers
    not_applied: dict[str, str] = field(default_factory=dict)  # deleted or skipped -> change


def git(*args, cwd, env=None, stdin=None, ok=(0,)) -> str:
    done = subprocess.run(
        ["git", *map(str, args)], cwd=cwd, env=env, input=stdin, capture_output=True, text=True
    )
    if done.returncode not in ok:
        command = " ".join(map(str, args[:2]))
        raise SyncError(f"git {command} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


# -- the template side ---------------------------------------------------------------------


def resolve_target(clone: Path, ref: str | None) -> tuple[str, str]:
    """(tag, commit) to update to: the release tag given, else the newest vX.Y.Z tag.

    Only release tags are merged: a branch or a commit of the template is code nobody
    released, and a tag name is checked against the clone's tags, never taken as a path
    or an option.
    """
    tags = git("tag", "--list", "v*", "--sort=-version:refname", cwd=clone).split()
    releases = [tag for tag in tags if RELEASE_TAG.fullmatch(tag)]
    if ref:
        if not RELEASE_TAG.fullmatch(ref):
            raise SyncError(
                f"ref {ref!r} is not a release tag: template-sync merges only tags vX.Y.Z of "
                "the template (for example v1.2.0); leave it empty for the newest."
            )
        if ref not in releases:
            raise SyncError(f"the template has no release tag {ref!r}.")
        name = ref
    elif releases:
        name = releases[0]
    else:
        raise SyncError("the template has no release tag vX.Y.Z yet: nothing to update to.")
    return name, git("rev-parse", f"refs/tags/{name}^{{commit}}", cwd=clone).strip()


def describe(clone: Path, commit: str) -> str:
    """The release tag at a commit, else its short hash."""
    tags = git("tag", "--points-at", commit, "--sort=-version:refname", cwd=clone).split()
    return next((tag for tag in tags if RELEASE_TAG.fullmatch(tag)), commit[:12])


def moved_actions_ref(current: str, target_name: str, target_commit: str) -> str:
    """The Actions ref for the release the repo moves to, in the style the user chose.

    A full SHA stays a SHA (the target commit); a moving major tag (v1) stays a major tag
    (the target release's); anything else becomes the target ref itself.
    """
    if FULL_SHA.fullmatch(current):
        return target_commit
    release = RELEASE_TAG.fullmatch(target_name)
    if MAJOR_TAG.fullmatch(current) and release:
        return f"v{release.group(1)}"
    return target_name


def scrubbed_env(workdir: Path) -> dict:
    """What template code (hooks, extensions) gets: a PATH and a home of its own, no token,
    no runner variables, no git configuration of the caller."""
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "LANG": "C.UTF-8", "TMPDIR": str(home)}  # fmt: skip


def bake(clone: Path, commit: str, answers: dict, directory: str | None, workdir: Path) -> Path:
    """The template's output at `commit` for `answers`, without .git and .cruft.json."""
    checkout = workdir / "template"
    git("worktree", "add", "--detach", "--quiet", checkout, commit, cwd=clone)
    config = workdir / "cookiecutter.yaml"  # keeps the runner's config and replay files out
    config.write_text(
        f"cookiecutters_dir: {json.dumps(str(workdir / 'cutters'))}\n"
        f"replay_dir: {json.dumps(str(workdir / 'replay'))}\n"
    )
    request = {
        "template": str(checkout / (directory or "")),
        "no_input": True,
        "extra_context": answers,
        "output_dir": str(workdir / "output"),
        "config_file": str(config),
    }
    done = subprocess.run(
        [sys.executable, "-c", BAKE, json.dumps(request)],
        capture_output=True,
        text=True,
        env=scrubbed_env(workdir),
    )
    if done.returncode != 0:
        output = (done.stderr.strip() or done.stdout.strip())[-3000:]
        raise SyncError(
            f"baking the template at {commit[:12]} with this repo's answers failed:\n{output}"
        )
    (project,) = (workdir / "output").iterdir()
    shutil.rmtree(project / ".git", ignore_errors=True)  # the post-gen hook's `git init`
    (project / ".cruft.json").unlink(missing_ok=True)  # written by the sync itself
    return project


# -- the repository side -------------------------------------------------------------------


class Trees:
    """Write folders and commits into the repository's object store, away from its index."""

    def __init__(self, repo: Path, scratch: Path, env: dict):
        self.repo, self.scratch, self.env = repo, scratch, env
        self.git_dir = git("rev-parse", "--absolute-git-dir", cwd=repo).strip()

    def index_env(self, name: str) -> dict:
        return {**self.env, "GIT_INDEX_FILE": str(self.scratch / f"{name}.index")}

    def add_folder(self, name: str, folder: Path) -> None:
        """Stage a folder as `git add --all` would, honouring its .gitignore files."""
        git(
            f"--git-dir={self.git_dir}",
            f"--work-tree={folder}",
            "add",
            "--all",
            "--",
            ".",
            cwd=folder,
            env=self.index_env(name),
        )

    def files(self, name: str) -> set[str]:
        listed = git("ls-files", "-z", cwd=self.repo, env=self.index_env(name))
        return set(filter(None, listed.split("\0")))

    def drop(self, name: str, paths: set[str]) -> None:
        if paths:
            listed = "".join(f"{path}\0" for path in sorted(paths))
            git(
                "update-index",
                "--force-remove",
                "-z",
                "--stdin",
                cwd=self.repo,
                env=self.index_env(name),
                stdin=listed,
            )

    def write_tree(self, name: str) -> str:
        return git("write-tree", cwd=self.repo, env=self.index_env(name)).strip()

    def commit(self, tree: str, message: str, *parents: str) -> str:
        flags = [arg for parent in parents for arg in ("-p", parent)]
        return git("commit-tree", tree, *flags, "-m", message, cwd=self.repo, env=self.env).strip()

    def diff(self, old: str, new: str) -> dict[str, str]:
        out = git(
            "diff-tree", "-r", "-z", "--no-renames", "--name-status", old, new, cwd=self.repo
        ).split("\0")[:-1]
        return {
            path: STATUS.get(code, code)
            for code, path in zip(out[0::2], out[1::2], strict=True)
            if path
        }


def skipped(path: str, patterns: list[str]) -> bool:
    """cruft's `skip`: a file, a folder (everything under it) or a glob."""
    return any(
        path == pattern or path.startswith(pattern.rstrip("/") + "/") or fnmatch(path, pattern)
        for pattern in patterns
    )


def merge(trees: Trees, base: str, old: Path, new: Path, skip: list[str], label: str) -> Update:
    """Merge old -> new into the base commit's tree; nothing on disk changes."""
    trees.add_folder("old", old)
    trees.add_folder("new", new)
    full_change = trees.diff(trees.write_tree("old"), trees.write_tree("new"))
    base_files = set(
        filter(None, git("ls-tree", "-r", "-z", "--name-only", base, cwd=trees.repo).split("\0"))
    )
    deleted = trees.files("old") - base_files
    both = trees.files("old") | trees.files("new")
    left_out = deleted | {path for path in both if skipped(path, skip)}
    for name in ("old", "new"):
        trees.drop(name, left_out)
    old_tree, new_tree = trees.write_tree("old"), trees.write_tree("new")
    changes = trees.diff(old_tree, new_tree)
    update = Update(
        tree=git("rev-parse", f"{base}^{{tree}}", cwd=trees.repo).strip(),
        changes=changes,
        not_applied={path: full_change[path] for path in sorted(left_out & set(full_change))},
    )
    if not changes:
        return update
    ancestor = trees.commit(old_tree, "template output before the update")
    refs = {
        "yours": trees.commit(update.tree, "this repository", ancestor),
        label: trees.commit(new_tree, "template output after the update", ancestor),
    }
    try:
        for name, commit in refs.items():
            git("update-ref", f"{REFS}/{name}", commit, cwd=trees.repo)
        out = git(
            "merge-tree",
            "--write-tree",
            "--name-only",
            "-z",
            "template-sync/yours",
            f"template-sync/{label}",
            cwd=trees.repo,
            ok=(0, 1),
        ).split("\0")
    finally:
        for name in refs:
            git("update-ref", "-d", f"{REFS}/{name}", cwd=trees.repo, ok=(0, 1))
    update.tree = out[0]
    for path in out[1 : out.index("", 1)]:
        blob = git("cat-file", "-p", f"{update.tree}:{path}", cwd=trees.repo, ok=(0, 128))
        update.conflicts[path] = "<<<<<<< template-sync/yours" in blob
    return update


def with_file(trees: Trees, tree: str, path: str, text: str) -> str:
    """`tree` with one file written (or replaced)."""
    blob = git("hash-object", "-w", "--stdin", cwd=trees.repo, stdin=text).strip()
    env = trees.index_env("final")
    git("read-tree", tree, cwd=trees.repo, env=env)
    git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", cwd=trees.repo, env=env)
    return git("write-tree", cwd=trees.repo, env=env).strip()


def identity(env: dict, repo: Path) -> dict:
    """Commits need an author; on a runner nobody configured one, so use the Actions bot."""
    if git("config", "user.email", cwd=repo, env=env, ok=(0, 1)).strip():
        return env
    return {**identity_env(), **env}
