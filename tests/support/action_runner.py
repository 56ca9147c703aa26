"""Run a composite Action's steps the way the GitHub runner does, on this machine.

    result = run_action(ROOT / "actions/data-check", {"package": "churn_model"}, cwd=project)
    assert result.outputs["passed"] == "true"
    assert "Data check passed" in result.summary

What it does like the runner:
- inputs: the given values, else the `default:` of action.yml (expressions evaluated
  against the `github` context given), a missing required input is an error;
- `${{ }}` in `env:`, `with:`, `if:`, `working-directory:` and the action's `outputs:`
  is evaluated: inputs.*, github.* (incl. github.action_path, github.event.*),
  env.*, runner.*, steps.<id>.outputs.* / .outcome / .conclusion, literals,
  == != && || ! ( ), and the functions success() failure() always() cancelled()
  contains() startsWith() endsWith() format() hashFiles();
- `run:` steps run as `bash --noprofile --norc -eo pipefail FILE`, with the runner's
  variables (GITHUB_ACTION_PATH, GITHUB_WORKSPACE, RUNNER_TEMP, ...) and real
  GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ENV and GITHUB_PATH files; what a step
  writes to GITHUB_ENV / GITHUB_PATH reaches the later steps;
- a failed step skips the later steps unless their `if:` says otherwise.

Deliberately NOT like the runner:
- INPUT_* variables are not set. The runner sets them for JavaScript and Docker
  actions only, never for composite steps; a script that read them would pass here
  and fail on GitHub. Inputs reach scripts only through `env:`.
- `uses:` steps are not run (no network, no node actions). Each is handed to the
  `uses` callback, which returns the step's outputs (the test asserting that the
  step's effect is present, e.g. Python on PATH) or None to record it as skipped.
- `${{ }}` inside `run:` is refused outright: our rule is that inputs reach shell
  only through `env:`.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TIMEOUT = 1800
EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)


class ActionError(Exception):
    """The action.yml or a call of run_action is wrong (not: a step failed)."""


@dataclass
class StepResult:
    id: str
    name: str
    outcome: str  # success | failure | skipped
    outputs: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    uses: str | None = None
    with_: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionResult:
    outputs: dict[str, str]
    steps: list[StepResult]
    summary: str
    env: dict[str, str]  # what the steps exported through GITHUB_ENV
    path: list[str]  # what the steps added through GITHUB_PATH

    @property
    def failed(self) -> bool:
        return any(step.outcome == "failure" for step in self.steps)

    @property
    def log(self) -> str:
        return "\n".join(
            f"--- {s.id or s.name} [{s.outcome}]\n{s.stdout}{s.stderr}" for s in self.steps
        )

    def step(self, key: str) -> StepResult:
        for step in self.steps:
            if key in (step.id, step.name, step.uses):
                return step
        raise KeyError(key)


UsesHandler = Callable[[dict, dict[str, str]], "dict[str, str] | None"]


def run_action(
    action_dir: str | os.PathLike,
    inputs: dict[str, Any] | None = None,
    *,
    cwd: str | os.PathLike,
    env: dict[str, str] | None = None,
    github: dict[str, Any] | None = None,
    uses: UsesHandler | None = None,
) -> ActionResult:
    """Run the composite action in `action_dir` with `inputs`, in the workspace `cwd`."""
    action_dir = Path(action_dir).resolve()
    spec = yaml.safe_load((action_dir / "action.yml").read_text())
    if spec.get("runs", {}).get("using") != "composite":
        raise ActionError(f"{action_dir.name}: only composite actions can be run here")
    workspace = Path(cwd).resolve()
    with tempfile.TemporaryDirectory(prefix="runner-") as temp:
        files = _RunnerFiles(Path(temp))
        context = _context(spec, action_dir, workspace, dict(inputs or {}), github or {}, temp)
        base_env = _base_env(env, context, files, workspace, temp)
        steps = _run_steps(spec, context, base_env, files, workspace, uses)
        outputs = {
            name: _to_str(_interpolate(out.get("value", ""), context))
            for name, out in (spec.get("outputs") or {}).items()
        }
        return ActionResult(outputs, steps, files.summary.read_text(), files.env_vars(),
                            files.paths())  # fmt: skip


def _run_steps(spec, context, base_env, files, workspace, uses) -> list[StepResult]:
    results = []
    for index, step in enumerate(spec["runs"].get("steps") or []):
        result = _run_step(step, index, context, base_env, files, workspace, uses)
        results.append(result)
        if result.id:
            context["steps"][result.id] = {
                "outputs": result.outputs,
                "outcome": result.outcome,
                "conclusion": result.outcome,
            }
        if result.outcome == "failure":
            context["_failed"] = True
    return results


class _RunnerFiles:
    """The files the runner hands each step: outputs per step, the rest shared."""

    def __init__(self, temp: Path):
        self.temp = temp
        self.summary = temp / "step_summary.md"
        self.env = temp / "github_env"
        self.path = temp / "github_path"
        for path in (self.summary, self.env, self.path):
            path.write_text("")

    def new_output(self) -> Path:
        path = self.temp / f"output-{uuid.uuid4().hex}"
        path.write_text("")
        return path

    def env_vars(self) -> dict[str, str]:
        return parse_key_values(self.env.read_text())

    def paths(self) -> list[str]:
        return [line for line in self.path.read_text().splitlines() if line.strip()]


def _context(spec, action_dir, workspace, given, github, temp) -> dict:
    defaults = {
        "repository": "octo-org/demo",
        "repository_owner": "octo-org",
        "sha": "0" * 40,
        "ref": "refs/heads/main",
        "event_name": "push",
        "event": {},
        "token": "fake-token",
        "actor": "octocat",
        "api_url": "https://api.github.com",
        "server_url": "https://github.com",
        "run_id": "1",
        "run_number": "1",
        "base_ref": "",
        "head_ref": "",
        "workflow": "ci",
        "job": "test",
    }
    github = {**defaults, **github, "action_path": str(action_dir), "workspace": str(workspace)}
    context = {
        "github": github,
        "runner": {"os": "Linux", "arch": "X64", "temp": temp, "name": "local-harness"},
        "env": {},
        "steps": {},
        "inputs": {},
        "_failed": False,
        "_workspace": workspace,
    }
    declared = spec.get("inputs") or {}
    unknown = set(given) - set(declared)
    if unknown:
        raise ActionError(f"{action_dir.name}: no such input(s) {sorted(unknown)}")
    for name, decl in declared.items():
        if name in given:
            context["inputs"][name] = _to_str(given[name])
        elif decl.get("required") and "default" not in decl:
            raise ActionError(f"{action_dir.name}: required input {name!r} not given")
        else:
            context["inputs"][name] = _to_str(_interpolate(decl.get("default", ""), context))
    return context


def _base_env(env, context, files, workspace, temp) -> dict[str, str]:
    github = context["github"]
    base = dict(os.environ if env is None else env)
    base.update(
        {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": github["action_path"],
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_REPOSITORY": github["repository"],
            "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
            "GITHUB_SHA": github["sha"],
            "GITHUB_REF": github["ref"],
            "GITHUB_EVENT_NAME": github["event_name"],
            "GITHUB_BASE_REF": github["base_ref"],
            "GITHUB_HEAD_REF": github["head_ref"],
            "GITHUB_API_URL": github["api_url"],
            "GITHUB_SERVER_URL": github["server_url"],
            "GITHUB_RUN_ID": str(github["run_id"]),
            "GITHUB_ACTOR": github["actor"],
            "GITHUB_ENV": str(files.env),
            "GITHUB_PATH": str(files.path),
            "GITHUB_STEP_SUMMARY": str(files.summary),
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": temp,
        }
    )
    return base


def _run_step(step, index, context, base_env, files, workspace, uses) -> StepResult:
    step_id = step.get("id", "")
    name = step.get("name") or step.get("uses") or f"step {index + 1}"
    result = StepResult(step_id, name, "skipped", uses=step.get("uses"))
    if not _condition(step.get("if"), context):
        return result
    env = {**base_env, **files.env_vars()}
    extra_path = files.paths()
    if extra_path:  # GITHUB_PATH entries come first, newest first
        env["PATH"] = os.pathsep.join([*reversed(extra_path), env.get("PATH", "")])
    context["env"] = env
    step_env = {k: _to_str(_interpolate(v, context)) for k, v in (step.get("env") or {}).items()}
    env.update(step_env)
    context["env"] = env
    if "uses" in step:
        result.with_ = {
            k: _to_str(_interpolate(v, context)) for k, v in (step.get("with") or {}).items()
        }
        outputs = uses(step, result.with_) if uses else None
        if outputs is not None:
            result.outcome, result.outputs = "success", dict(outputs)
        return result
    script = step.get("run")
    if script is None:
        raise ActionError(f"step {name!r} has neither run nor uses")
    if EXPR.search(script):
        raise ActionError(f"step {name!r} has ${{{{ }}}} inside run:; map it through env:")
    if step.get("shell") != "bash":
        raise ActionError(f"step {name!r}: shell must be bash, got {step.get('shell')!r}")
    cwd = workspace / _to_str(_interpolate(step.get("working-directory", "."), context))
    output_file = files.new_output()
    env["GITHUB_OUTPUT"] = str(output_file)
    script_file = files.temp / f"step-{index}.sh"
    script_file.write_text(script)
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    result.stdout, result.stderr, result.returncode = done.stdout, done.stderr, done.returncode
    result.outputs = parse_key_values(output_file.read_text())
    result.outcome = "success" if done.returncode == 0 else "failure"
    return result


def parse_key_values(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV syntax: `key=value` lines and `key<<DELIM ... DELIM` blocks."""
    values, lines = {}, iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            else:
                raise ActionError(f"unterminated {key}<<{delimiter} block")
            values[key] = "\n".join(block)
        elif "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
        elif line.strip():
            raise ActionError(f"malformed line {line!r}")
    return values


# -- expressions -------------------------------------------------------------------------


def _condition(expression, context) -> bool:
    if expression is None:
        return not context["_failed"]
    if isinstance(expression, bool):
        return expression and not context["_failed"]
    text = str(expression).strip()
    match = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.S)
    text = match.group(1) if match else text
    if not re.search(r"\b(success|failure|always|cancelled)\s*\(", text):
        text = f"success() && ({text})"
    return _truthy(evaluate(text, context))


def _interpolate(value, context):
    """Evaluate `${{ }}` in a string; a string that is one expression keeps its type."""
    if not isinstance(value, str):
        return value
    found = list(EXPR.finditer(value.strip()))
    if len(found) == 1 and found[0].span() == (0, len(value.strip())):
        return evaluate(found[0].group(1), context)
    return EXPR.sub(lambda m: _to_str(evaluate(m.group(1), context)), value)


def _to_str(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _truthy(value) -> bool:
    return value not in (None, False, 0, "", 0.0)


TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|'(?P<str>(?:[^']|'')*)'|(?P<op>==|!=|<=|>=|&&|\|\||[!<>(),.\[\]*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ActionError(f"cannot parse expression {text!r} at {text[position:]!r}")
        position = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "num":
            tokens.append(("lit", float(value) if "." in value else int(value)))
        elif kind == "str":
            tokens.append(("lit", value.replace("''", "'")))
        elif kind == "name" and value in ("true", "false", "null"):
            tokens.append(("lit", {"true": True, "false": False, "null": None}[value]))
        else:
            tokens.append((kind, value))
    return tokens


def evaluate(text: str, context: dict):
    """Evaluate one GitHub expression (the part between `${{` and `}}`)."""
    parser = _Parser(_tokens(text), context)
    value = parser.either()
    if parser.position != len(parser.tokens):
        raise ActionError(f"unexpected {parser.tokens[parser.position]} in {text!r}")
    return value


class _Parser:
    def __init__(self, tokens, context):
        self.tokens, self.position, self.context = tokens, 0, context

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else (None, None)

    def take(self, value=None):
        token = self.peek()
        if value is not None and token[1] != value:
            raise ActionError(f"expected {value!r}, got {token[1]!r}")
        self.position += 1
        return token

    def either(self):
        left = self.both()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.both()
            left = left if _truthy(left) else right
        return left

    def both(self):
        left = self.compare()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.compare()
            left = right if _truthy(left) else left
        return left

    def compare(self):
        left = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in ("==", "!=", "<", ">", "<=", ">="):
            op = self.take()[1]
            right = self.unary()
            left = _compare(op, left, right)
        return left

    def unary(self):
        if self.peek() == ("op", "!"):
            self.take()
            return not _truthy(self.unary())
        return self.primary()

    def primary(self):
        kind, value = self.take()
        if kind == "lit":
            return value
        if (kind, value) == ("op", "("):
            inner = self.either()
            self.take(")")
            return inner
        if kind != "name":
            raise ActionError(f"unexpected {value!r}")
        if self.peek() == ("op", "("):
            return self.call(value)
        current = self.context.get(value) if not value.startswith("_") else None
        if value not in ("github", "inputs", "env", "steps", "runner", "matrix", "vars"):
            raise ActionError(f"unknown context {value!r}")
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = self.either()
                self.take("]")
            current = current.get(key) if isinstance(current, dict) else None
        return current

    def call(self, name):
        self.take("(")
        args = []
        while self.peek() != ("op", ")"):
            args.append(self.either())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        return _call(name.lower(), args, self.context)


def _compare(op, left, right):
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.lower(), right.lower()  # GitHub compares strings ignoring case
    elif type(left) is not type(right):
        left, right = _number(left), _number(right)
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    try:
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]
    except TypeError:
        return False


def _number(value):
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return int(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _call(name, args, context):
    failed = context["_failed"]
    if name == "success":
        return not failed
    if name == "failure":
        return failed
    if name == "always":
        return True
    if name == "cancelled":
        return False
    text = [_to_str(a) for a in args]
    if name == "contains":
        haystack = args[0]
        if isinstance(haystack, list):
            return any(_to_str(item).lower() == text[1].lower() for item in haystack)
        return text[1].lower() in text[0].lower()
    if name == "startswith":
        return text[0].lower().startswith(text[1].lower())
    if name == "endswith":
        return text[0].lower().endswith(text[1].lower())
    if name == "format":
        return re.sub(r"\{(\d+)\}", lambda m: text[1 + int(m.group(1))], text[0])
    if name == "hashfiles":
        return _hash_files(context["_workspace"], text)
    raise ActionError(f"function {name}() is not supported by the harness")


def _hash_files(workspace: Path, patterns: list[str]) -> str:
    """Like GitHub's: sha256 over the sha256 of every matching file; '' when none match."""
    found = sorted({p for pattern in patterns for p in workspace.glob(pattern) if p.is_file()})
    if not found:
        return ""
    outer = hashlib.sha256()
    for path in found:
        outer.update(hashlib.sha256(path.read_bytes()).digest())
    return outer.hexdigest()
