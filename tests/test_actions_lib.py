"""actions/_lib: the one home of what every Action shares (bot identity, git auth, outputs)."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

LIB = ROOT / "actions/_lib"
sys.path.insert(0, str(LIB))
from git_bot import BOT_EMAIL, BOT_NAME  # noqa: E402


def shell_env(**env):
    """The environment a step script has after `eval "$(python3 git_bot.py)"`."""
    script = f'eval "$(python3 {LIB / "git_bot.py"})"; env'
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITHUB_"))}
    done = subprocess.run(["bash", "-c", script], env={**base, **env}, capture_output=True,
                          text=True, check=True)  # fmt: skip
    lines = done.stdout.splitlines()
    exported = dict(line.split("=", 1) for line in lines if "=" in line and "::" not in line)
    return lines, exported


def test_git_bot_commits_as_the_actions_bot_and_pushes_with_the_token_in_a_header():
    lines, env = shell_env(GITHUB_TOKEN="ghs_secret", GITHUB_SERVER_URL="https://ghe.example")
    basic = base64.b64encode(b"x-access-token:ghs_secret").decode()
    assert lines[0] == f"::add-mask::{basic}", "the credential is masked before anything else"
    assert (env["GIT_AUTHOR_NAME"], env["GIT_COMMITTER_EMAIL"]) == (BOT_NAME, BOT_EMAIL)
    assert env["GIT_CONFIG_KEY_0"] == "http.https://ghe.example/.extraheader"
    assert env["GIT_CONFIG_VALUE_0"] == f"AUTHORIZATION: basic {basic}"
    assert not [
        line for line in lines if "ghs_secret" in line and line != "GITHUB_TOKEN=ghs_secret"
    ]


def test_git_bot_without_a_token_sets_the_identity_only():
    lines, env = shell_env()
    assert env["GIT_AUTHOR_NAME"] == BOT_NAME
    assert "GIT_CONFIG_COUNT" not in env and not any("::add-mask::" in line for line in lines)


# fact -> (how it is written, its one home: one file, or one per language)
FACTS = {
    "the bot's e-mail": (re.escape("41898282+github-actions[bot]"), ["_lib/git_bot.py"]),
    "the token-in-header git auth": (re.escape(".extraheader"), ["_lib/git_bot.py"]),
    "writing step outputs": (
        r'>>\s*"\$GITHUB_OUTPUT"|environ(\.get\(|\[)"GITHUB_OUTPUT"',
        ["_lib/github_api.py", "_lib/steps.sh"],
    ),
    "the OWNER/NAME pattern": (
        re.escape("[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"),
        ["_lib/github_api.py"],
    ),
}


@pytest.mark.parametrize("fact", FACTS)
def test_each_shared_fact_of_the_actions_has_one_home(fact):
    pattern, home = FACTS[fact]
    found = [
        str(path.relative_to(ROOT / "actions"))
        for path in sorted((ROOT / "actions").rglob("*"))
        if path.suffix in (".py", ".sh", ".yml") and re.search(pattern, path.read_text())
    ]
    assert found == home, f"{fact} is written in {found}"
