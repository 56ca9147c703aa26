"""Run a repository's GitHub workflow for one event with act (nektos/act), on this machine.

    run = run_workflow(project, "ci.yml", pull_request_event(...), fake=fake_github, tmp=tmp)
    assert run.jobs["model"].result == "success", run.log("model")
    assert [c.method for c in run.calls] == ["GET", "POST"]

What runs for real: the workflow file as act's engine reads it (job graph, `needs:` outputs,
`if:` on events and refs, expressions, composite Actions) and every step of this template's
Actions, taken from this working tree (`--local-repository OWNER/REPO@REF=<tree>`). Jobs run
on the host (`-P ubuntu-latest=-self-hosted`), each in its own copy of the checkout.

What stands in:
- GitHub's REST API is the fake (GITHUB_API_URL, github.api_url); its recorded requests come
  back as `calls`. github.token is the secret GITHUB_TOKEN given here.
- Third-party Actions are the folders under tests/support/standins/OWNER/REPO, mapped by the
  SHA each `uses:` pins. The list is read from the workflows and our Actions: a new pin
  without a stand-in raises MissingStandIn instead of reaching the network.
- actions/checkout of the repository itself is act's own: it copies the working folder (the
  test checks out the event's commit there first).

act logs JSON lines (`--json`); results, step outputs and step logs are read from those.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "tests/support/standins"
ACT = Path(sys.executable).parent / "act"
TIMEOUT = 3600
USES = re.compile(r"^[\s-]*uses:\s*[\"']?([^\"'\s#]+)", re.M)
STEP_OUTPUT = re.compile(r"^\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$")
# Variables of the test process that would leak the template's own environment into jobs.
# PYTHONDONTWRITEBYTECODE: these machines set it, GitHub's runners do not. With it, every
# step of a job compiled scikit-learn, pandas and MLflow from source again in the job's fresh
# .venv (about 10 s of CPU per Python step); without it the first step caches the bytecode.
PRIVATE_ENV = ("VIRTUAL_ENV", "PYTHONPATH", "MLFLOW_", "GITHUB_", "RUNNER_", "ACT", "CI",
               "PYTHONDONTWRITEBYTECODE")  # fmt: skip


class MissingStandIn(Exception):
    """A workflow or Action uses a third-party Action that has no local stand-in."""


@dataclass
class Job:
    id: str
    result: str  # success | failure | skipped (never started: `if:` false, or a need failed)
    outputs: dict[str, str] = field(default_factory=dict)
    steps: dict[str, str] = field(default_factory=dict)  # top-level step id -> result
    step_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    summary: str = ""  # what the steps wrote to GITHUB_STEP_SUMMARY
    log: str = ""


@dataclass
class Run:
    returncode: int
    jobs: dict[str, Job]
    calls: list[Any]  # the fake's Request records made during this run
    seconds: float
    raw: Path  # act's JSON log
    artifacts: Path  # what the upload-artifact stand-in stored, one folder per artifact

    def log(self, job: str | None = None) -> str:
        """One job's output (or every job's), for assertion messages."""
        jobs = [self.jobs[job]] if job else self.jobs.values()
        return "\n".join(f"=== {j.id} [{j.result}]\n{j.log[-6000:]}" for j in jobs)

    def results(self) -> dict[str, str]:
        return {job.id: job.result for job in self.jobs.values()}


def pinned_uses(*files: Path) -> set[str]:
    """Every remote `uses:` (OWNER/REPO[/PATH]@REF) in these workflow or action files."""
    found = set()
    for path in files:
        for ref in USES.findall(path.read_text()):
            if not ref.startswith(("./", "docker://")) and "@" in ref:
                found.add(ref)
    return found


def local_repositories(project: Path, actions_repo: str) -> list[str]:
    """`--local-repository` arguments for every Action the project's workflows can reach."""
    files = sorted((project / ".github/workflows").glob("*.y*ml"))
    files += sorted((ROOT / "actions").glob("*/action.yml"))
    mapping = {}
    for ref in sorted(pinned_uses(*files)):
        name, _, version = ref.partition("@")
        repo = "/".join(name.split("/")[:2])
        if repo.lower() == actions_repo.lower():
            mapping[f"{repo}@{version}"] = actions_repository()
            continue
        standin = STANDINS / repo
        if not (standin / "action.yml").is_file():
            raise MissingStandIn(
                f"{ref} has no stand-in: add {standin.relative_to(ROOT)}/action.yml "
                "with the same inputs and outputs."
            )
        mapping[f"{repo}@{version}"] = standin
    return [f"{key}={path}" for key, path in mapping.items()]


@functools.cache
def actions_repository() -> Path:
    """This repository as act gets it for our own Actions: actions/ alone. act copies a local
    repository whole for every `uses:` of it, and the working tree also holds .venv,
    node_modules and build/: 1.5 GB per Action used, and three act runs at once took 20 GB
    of memory and most of the suite's time."""
    lean = Path(tempfile.mkdtemp(prefix="actions-repository-"))
    atexit.register(shutil.rmtree, lean, ignore_errors=True)
    shutil.copytree(ROOT / "actions", lean / "actions",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    return lean


def runner_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The host environment a runner would have: none of this test process's venv."""
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(PRIVATE_ENV)}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != venv_bin)
    return env | (extra or {})


def run_workflow(
    project: Path,
    workflow: str,
    event: dict,
    *,
    fake,
    tmp: Path,
    job: str | None = None,
    repository: str = "your-org/churn-model",
    actions_repo: str = "your-org/cookiecutter-mlops-gitops",
    variables: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    inputs: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    token: str = "ghs_fake_actions_token",
    cache: Path | None = None,
) -> Run:
    """Run `workflow` of `project` for `event` ({"name": ..., "payload": {...}}) under act.

    `job` runs that job and the ones it needs. Each call gets its own act folder and artifact
    store under `tmp` (GitHub's artifacts live for one run). The actions/cache stand-in keeps
    its entries in `cache` (default: under `tmp`, a cold cache); runs given the same folder
    share them, as a repository's runs share GitHub's cache."""
    tmp.mkdir(parents=True, exist_ok=True)
    event_file = tmp / "event.json"
    event_file.write_text(json.dumps(event["payload"]))
    artifacts = tmp / "artifacts"
    artifacts.mkdir(exist_ok=True)
    command = [
        str(ACT), event["name"], "-W", f".github/workflows/{workflow}", "-e", str(event_file),
        "-P", "ubuntu-latest=-self-hosted", "--action-offline-mode", "--json",
        "--no-cache-server", "--action-cache-path", str(tmp / "act"),
        "--env", f"GITHUB_API_URL={fake.url}", "--env", f"GITHUB_REPOSITORY={repository}",
        "--env", f"STANDIN_ARTIFACTS={artifacts}", "--env", f"STANDIN_REGISTRY={tmp / 'registry'}",
        "--env", f"STANDIN_CACHE={cache or tmp / 'cache'}",
        "--env", f"STANDIN_UV={shutil.which('uv', path=str(Path(sys.executable).parent))}",
        "-s", f"GITHUB_TOKEN={token}",
    ]  # fmt: skip
    for flag, values in (("--var", variables), ("-s", secrets), ("--input", inputs),
                         ("--env", env)):  # fmt: skip
        for name, value in (values or {}).items():
            command += [flag, f"{name}={value}"]
    for mapping in local_repositories(project, actions_repo):
        command += ["--local-repository", mapping]
    if job:
        command += ["-j", job]
    raw = tmp / "act.jsonl"
    start, first_call = time.monotonic(), len(fake.requests)
    with open(raw, "w") as out:
        done = subprocess.run(command, cwd=project, env=runner_env(), stdout=out,
                              stderr=subprocess.STDOUT, timeout=TIMEOUT)  # fmt: skip
    seconds = time.monotonic() - start
    spec = yaml.safe_load((project / ".github/workflows" / workflow).read_text())
    jobs = _parse(raw, spec)
    return Run(done.returncode, jobs, list(fake.requests[first_call:]), seconds, raw, artifacts)


def _parse(raw: Path, spec: dict) -> dict[str, Job]:
    jobs = {name: Job(name, "skipped") for name in spec["jobs"]}
    lines: dict[str, list[str]] = {name: [] for name in jobs}
    for text in raw.read_text().splitlines():
        try:
            record = json.loads(text)
        except ValueError:
            continue  # act's own start-up messages
        name = record.get("jobID")
        if name not in jobs:
            continue
        job, step = jobs[name], record.get("stepID") or record.get("stepid") or []
        if "jobResult" in record:
            job.result = record["jobResult"]
        elif record.get("command") == "summary":
            job.summary += record.get("content", "")
        elif record.get("command") == "set-output" and len(step) == 1:
            job.step_outputs.setdefault(step[0], {})[record["name"]] = record["arg"]
        elif "stepResult" in record and len(step) == 1 and record.get("stage") == "Main":
            job.steps[step[0]] = record["stepResult"]
        if record.get("raw_output") or "stepResult" in record or record.get("level") == "error":
            lines[name].append(record.get("msg", "").rstrip("\n"))
    for name, job in jobs.items():
        job.log = "\n".join(lines[name])
        for key, value in (spec["jobs"][name].get("outputs") or {}).items():
            match = STEP_OUTPUT.match(str(value).strip())
            if match:
                job.outputs[key] = job.step_outputs.get(match[1], {}).get(match[2], "")
    return jobs


# -- event payloads: the fields our workflows and Actions read, shaped as GitHub sends them --


def _repository(repository: str) -> dict:
    owner, name = repository.split("/")
    return {"full_name": repository, "name": name, "owner": {"login": owner},
            "default_branch": "main"}  # fmt: skip


def pull_request_event(repository: str, number: int, head: str, base: str = "main",
                       head_sha: str = "", fork: str | None = None) -> dict:  # fmt: skip
    """A pull request from branch `head` (of `fork`, else the same repository) into `base`."""
    head_repo = _repository(fork or repository)
    payload = {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"ref": head, "sha": head_sha, "repo": head_repo},
            "base": {"ref": base, "repo": _repository(repository)},
        },
        "repository": _repository(repository),
    }
    return {"name": "pull_request", "payload": payload}


def push_event(repository: str, ref: str = "refs/heads/main", before: str = "",
               after: str = "") -> dict:  # fmt: skip
    payload = {"ref": ref, "before": before, "after": after,
               "repository": _repository(repository)}  # fmt: skip
    return {"name": "push", "payload": payload}


def schedule_event(repository: str, cron: str) -> dict:
    return {"name": "schedule", "payload": {"schedule": cron,
                                            "repository": _repository(repository)}}  # fmt: skip


def dispatch_event(repository: str, ref: str = "refs/heads/main",
                   inputs: dict[str, str] | None = None) -> dict:  # fmt: skip
    payload = {"ref": ref, "inputs": inputs or {}, "repository": _repository(repository)}
    return {"name": "workflow_dispatch", "payload": payload}
