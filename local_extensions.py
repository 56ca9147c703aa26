"""Jinja globals for the template: the commit it is baked from, to pin its own Actions by SHA.

`git` reads the checkout of the template being rendered: cookiecutter's clone of a URL, a
folder a user named, or the worktree template-sync bakes each release in. That folder is
the one cookiecutter appends to sys.path while it renders (to import this file); not this
file's own folder, because one process may bake several copies of the template and Python
imports this module once. Outside a git checkout (a zip) both globals are empty and the
pre-gen hook asks for actions_pin=tag instead.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from jinja2.ext import Extension

RELEASE = re.compile(r"v\d+\.\d+\.\d+")


def _git(folder: str, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", folder, *args], capture_output=True, text=True,
                              timeout=30, check=False)  # fmt: skip
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def template_folder() -> str:
    """The template being rendered (see above); this file's folder outside cookiecutter."""
    last = sys.path[-1] if sys.path else ""
    if last and (Path(last) / "cookiecutter.json").is_file():
        return str(Path(last).resolve())
    return str(Path(__file__).resolve().parent)


def template_commit(folder: str) -> str:
    """HEAD of the template's checkout, or "" when it is not one."""
    if not _git(folder, "ls-files", "--error-unmatch", "cookiecutter.json"):
        return ""
    return _git(folder, "rev-parse", "HEAD")


def template_version(folder: str) -> str:
    """What a reader calls that commit: its release tag, else `git describe`, else the hash."""
    commit = template_commit(folder)
    if not commit:
        return ""
    tags = _git(folder, "tag", "--points-at", commit, "--sort=-version:refname").split()
    releases = [tag for tag in tags if RELEASE.fullmatch(tag)]
    if releases:
        return releases[0]
    return _git(folder, "describe", "--tags", "--match", "v*", commit) or f"commit {commit[:12]}"


class TemplateCommit(Extension):
    """Adds `template_commit` and `template_version` to every template's globals."""

    def __init__(self, environment):
        super().__init__(environment)
        folder = template_folder()
        environment.globals["template_commit"] = template_commit(folder)
        environment.globals["template_version"] = template_version(folder)
