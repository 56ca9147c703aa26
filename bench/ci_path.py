"""Wall time of the generated project's ci.yml on a pull request, job by job, under act.

    make bench-ci                    # bake, run ci.yml once (cold caches), print the tables
    make bench-ci RUNS=2             # then run it again on the same cache store (warm caches)
    python bench/ci_path.py --log build/bench-ci/run-1/act.jsonl   # read a run already made

Runs ci.yml as tests/test_workflows_act.py does (tests/support/act_runner.py: act on this
machine, our Actions from this tree, the local stand-ins for third-party Actions, the fake
GitHub API) for a pull request that changes a hyper-parameter. Runs after the first share
one cache store, as a repository's runs share GitHub's cache (a new commit on the same pull
request).

Prints, per job, its wall time (act's first and last record of it) and each top-level step's
time (act's executionTime), then the critical path: the longest chain of `needs:`, each job
counted from when its needs end, as GitHub schedules jobs. act itself starts a job only when
every job of the previous stage has ended, so its own elapsed time is printed beside it.
Not a test: machines are noisy, so compare runs made one after the other.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "build" / "bench-ci"


def _time(record: dict) -> datetime:
    return datetime.fromisoformat(record["time"].replace("Z", "+00:00"))


def read_log(raw: Path) -> dict[str, dict]:
    """Per job: wall seconds, result, and (name, seconds) of each top-level Main step."""
    jobs: dict[str, dict] = {}
    for text in raw.read_text().splitlines():
        try:
            record = json.loads(text)
        except ValueError:
            continue
        name = record.get("jobID")
        if not name or "time" not in record:
            continue
        job = jobs.setdefault(name, {"start": _time(record), "steps": [], "result": "?"})
        job["end"] = _time(record)
        step = record.get("stepID") or record.get("stepid") or []
        if "jobResult" in record:
            job["result"] = record["jobResult"]
        elif "stepResult" in record and len(step) == 1 and record.get("stage") == "Main":
            seconds = record.get("executionTime", 0) / 1e9
            label = record["msg"].split(" - Main ", 1)[-1].split(" [")[0].splitlines()[0]
            job["steps"].append((step[0], label[:70], seconds))
    for job in jobs.values():
        job["wall"] = (job["end"] - job["start"]).total_seconds()
    return jobs


def critical_path(jobs: dict[str, dict], needs: dict[str, list[str]]) -> tuple[float, list[str]]:
    """The longest chain of `needs:` among the jobs that ran, in job wall seconds."""
    done: dict[str, tuple[float, list[str]]] = {}

    def finish(name: str) -> tuple[float, list[str]]:
        if name not in done:
            before = max((finish(n) for n in needs.get(name, []) if n in jobs),
                         default=(0.0, []))  # fmt: skip
            done[name] = (before[0] + jobs[name]["wall"], [*before[1], name])
        return done[name]

    return max((finish(name) for name in jobs), default=(0.0, []))


def report(raw: Path, workflow: Path) -> str:
    spec = yaml.safe_load(workflow.read_text())
    needs = {}
    for name, job in spec["jobs"].items():
        wanted = job.get("needs") or []
        needs[name] = [wanted] if isinstance(wanted, str) else list(wanted)
    jobs = read_log(raw)
    lines = ["| job | result | wall s |", "|---|---|---:|"]
    lines += [f"| {n} | {j['result']} | {j['wall']:.0f} |" for n, j in jobs.items()]
    for name, job in jobs.items():
        lines += ["", f"{name}:", "| step | s |", "|---|---:|"]
        lines += [f"| {label} | {seconds:.1f} |" for _, label, seconds in job["steps"]]
    total, chain = critical_path(jobs, needs)
    first = min(j["start"] for j in jobs.values())
    elapsed = (max(j["end"] for j in jobs.values()) - first).total_seconds()
    lines += ["", f"critical path (needs:): {' -> '.join(chain)} = {total:.0f} s",
              f"act elapsed (stage by stage): {elapsed:.0f} s"]  # fmt: skip
    return "\n".join(lines)


def run(runs: int) -> list[Path]:
    """Bake the default project, open a pull request, run ci.yml `runs` times."""
    from tests.support.act_runner import pull_request_event, run_workflow
    from tests.support.fake_github import FakeGitHub
    from tests.test_workflows_act import (
        REPOSITORY,
        Checkout,
        bake_for_act,
        first_commit_pushed,
        set_param,
        slim_base_tagged,
    )

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    repo = first_commit_pushed(Checkout(bake_for_act(WORK / "bake")), WORK)
    logs = []
    with slim_base_tagged(), FakeGitHub() as fake:  # the tests' protocol for the shared tag
        for n in range(1, runs + 1):
            value = f"C: 0.{n + 4}"
            head = repo.branch("tune", lambda p, v=value: set_param(p, "C: 1.0", v), value,
                               base="main")  # fmt: skip
            event = pull_request_event(REPOSITORY, 7, "tune", head_sha=head)
            result = run_workflow(repo.path, "ci.yml", event, fake=fake, tmp=WORK / f"run-{n}",
                                  cache=WORK / "cache")  # fmt: skip
            print(f"run {n}: {result.results()} in {result.seconds:.0f} s", flush=True)
            logs.append(result.raw)
            subprocess.run(["podman", "rmi", "-f", f"ghcr.io/{REPOSITORY}:{head}"],
                           capture_output=True)  # the image job's build  # fmt: skip
    shutil.rmtree(WORK / "cache", ignore_errors=True)  # a GB per environment saved
    return logs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, action="append", help="act.jsonl of a run made")
    parser.add_argument("--runs", type=int, default=1, help="runs on one cache store")
    args = parser.parse_args()
    workflow = ROOT / "{{cookiecutter.project}}/.github/workflows/ci.yml"
    if not args.log:
        args.log = run(args.runs)
        workflow = WORK / "bake/churn-model/.github/workflows/ci.yml"
    for n, raw in enumerate(args.log, 1):
        print(f"\n## run {n}: {raw}\n")
        print(report(raw, workflow))


if __name__ == "__main__":
    main()
