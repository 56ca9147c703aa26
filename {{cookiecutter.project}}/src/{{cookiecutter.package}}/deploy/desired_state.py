"""The desired state of each environment, `deploy/<env>.yaml`, read and re-pinned.

Git is the source of truth for what runs where: `deploy` makes an environment match its
file, and a promotion changes nothing but the pinned lines of a file. Re-pinning edits
those lines in place, so the comments and layout of the file survive every promotion.
"""

import json
import re
from pathlib import Path

import yaml

from ..config import CliError

DEPLOY_DIR = Path("deploy")
SMOKE_CASES_FILE = DEPLOY_DIR / "smoke-cases.yaml"
ENVIRONMENTS = ("staging", "production")
TARGETS = ("local", "kubernetes")


class DeployFailed(Exception):
    """A rollout or smoke-test failure: `deploy` rolls back and reports this reason."""


def deploy_file(env):
    return DEPLOY_DIR / f"{env}.yaml"


def load_deploy(env):
    """deploy/<env>.yaml as a dict, checked enough that later steps cannot trip on it."""
    path = deploy_file(env)
    if not path.exists():
        raise CliError(f"{path} is missing: every environment needs its deploy file.")
    settings = yaml.safe_load(path.read_text()) or {}
    problems = []
    if settings.get("environment") != env:
        problems.append(f"environment is {settings.get('environment')!r}, not {env!r}")
    if settings.get("target") not in TARGETS:
        problems.append(f"target must be one of {', '.join(TARGETS)}")
    for section, key in (
        ("model", "name"),
        ("model", "version"),
        ("image", "reference"),
        ("rollout", "timeout_seconds"),
        ("smoke", "requests"),
        ("smoke", "max_p95_ms"),
    ):
        if key not in (settings.get(section) or {}):
            problems.append(f"{section}.{key} is missing")
    if problems:
        raise CliError(f"{path} is not a valid deploy file: " + "; ".join(problems) + ".")
    return settings


def shadow_alias(settings):
    """The alias whose version the environment's server scores in the shadow (deploy file
    `shadow.alias`), or None: then serve.shadow_alias of params.yaml applies."""
    return (settings.get("shadow") or {}).get("alias")


def pinned_version(settings):
    """The registry version the file pins, as MLflow spells versions (a string), or None."""
    version = settings["model"]["version"]
    return None if version is None else str(version)


def image_ref(settings):
    """`reference@digest` when a digest is pinned, else None."""
    image = settings["image"]
    return f"{image['reference']}@{image['digest']}" if image.get("digest") else None


def pin(env, version, digest=None):
    """Set model.version (and image.digest when given) in deploy/<env>.yaml; keep the rest."""
    path = deploy_file(env)
    text = path.read_text()
    text = _set_scalar(text, "model", "version", int(version), path)
    if digest:
        text = _set_scalar(text, "image", "digest", digest, path)
    if str(yaml.safe_load(text)["model"]["version"]) != str(version):
        raise CliError(f"{path}: could not pin model.version to {version}; edit it by hand.")
    path.write_text(text)


def _set_scalar(text, section, key, value, path):
    """Replace `  key: ...` inside the top-level `section:` block, keeping its comment."""
    lines = text.splitlines(keepends=True)
    inside = False
    for index, line in enumerate(lines):
        if line.strip() and not line[0].isspace() and not line.startswith("#"):
            inside = line.split(":", 1)[0].strip() == section
            continue
        found = re.match(rf"^(\s+){re.escape(key)}:\s*[^#\n]*?(\s+#.*)?$", line.rstrip("\n"))
        if inside and found:
            # JSON scalars are YAML scalars: 3, null, "sha256:..."
            lines[index] = f"{found[1]}{key}: {json.dumps(value)}{found[2] or ''}\n"
            return "".join(lines)
    raise CliError(f"{path} has no `{key}:` line under `{section}:` to pin.")


def load_smoke_cases(path=SMOKE_CASES_FILE):
    """Records with a known answer: [{name, expect, record}]; may be empty."""
    if not path.exists():
        return []
    cases = (yaml.safe_load(path.read_text()) or {}).get("cases") or []
    for number, case in enumerate(cases, 1):
        if not isinstance(case, dict) or not {"expect", "record"} <= case.keys():
            raise CliError(f"{path}: case {number} needs `expect` and `record`.")
    return cases
