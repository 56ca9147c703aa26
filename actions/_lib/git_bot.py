"""Who the Actions commit as, and how their git pushes authenticate: the one home of both.

Python scripts beside an Action import it (as they import github_api); shell steps evaluate
what it prints, which masks the credential in the log and exports the variables:

    eval "$(python3 "$GITHUB_ACTION_PATH/../_lib/git_bot.py")"

The token travels as the HTTP header actions/checkout sets, scoped to the server, but in
GIT_CONFIG_* variables: never written to .git/config, so a workflow's checkout can keep
`persist-credentials: false`.
"""

from __future__ import annotations

import base64
import os
import shlex
import sys

BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"


def identity_env() -> dict[str, str]:
    """Author and committer: the Actions bot, as GitHub shows commits made with its token."""
    return {
        f"GIT_{role}_{key}": value
        for role in ("AUTHOR", "COMMITTER")
        for key, value in (("NAME", BOT_NAME), ("EMAIL", BOT_EMAIL))
    }


def auth_env(token: str, server: str = "") -> dict[str, str]:
    """git's config for fetches and pushes to `server` with `token`; empty without a token."""
    if not token:
        return {}
    server = server or "https://github.com"
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{server}/.extraheader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
    }


def shell(environ=os.environ) -> str:
    """Shell lines that mask the credential and export the bot's identity and the git auth
    of GITHUB_TOKEN for GITHUB_SERVER_URL."""
    auth = auth_env(environ.get("GITHUB_TOKEN", ""), environ.get("GITHUB_SERVER_URL", ""))
    lines = []
    if auth:
        secret = auth["GIT_CONFIG_VALUE_0"].removeprefix("AUTHORIZATION: basic ")
        lines.append(f"echo {shlex.quote('::add-mask::' + secret)}")
    lines += [f"export {k}={shlex.quote(v)}" for k, v in {**identity_env(), **auth}.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(shell())
