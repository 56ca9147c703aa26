"""The decay drill: live performance on real outcomes, and the champion/challenger gate.

A trained default project serves its production version for real; 1,000 new customers are
sent with their ids, so the server logs every prediction (and, at sample rate 1, every
feature row). Then, as drift.yml runs it, the `monitor-report` Action judges the window:

- outcomes that agree with the data: exit 0, `decay-detected: false`, no branch, no PR;
- the same outcomes with 40% of the labels flipped: exit 4 naming the metric and its drop,
  then `retrain --push` appends the 1,000 labelled live rows and one pull request is opened,
  its body holding live against training metrics and the fairness gaps.

Last, a deliberately weaker challenger (C: 0.0001) is refused promotion over the champion
with the comparison table, nothing pinned; `--override-reason` promotes it and keeps the
reason as a registry tag.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, project_env, run_in, wait_until_ready
from tests.support.action_runner import run_action
from tests.support.mlflow_server import free_port
from tests.test_drift import GIT_ID, back_to_main, git, refs, requests, window

pytestmark = pytest.mark.slow

PACKAGE = "churn_model"
REPOSITORY = "octo-org/churn-model"
BRANCH = "retraining/drift"
SENT = 1000


def set_alias(project: Path, alias: str, version: int):
    run_in(project, "python", "-c", (
        "from mlflow import MlflowClient; c = MlflowClient('sqlite:///mlflow.db', "
        f"'sqlite:///mlflow.db'); c.set_registered_model_alias('churn-model', {alias!r}, "
        f"{version})"
    ))  # fmt: skip


def serve_and_send(project: Path, rows: pd.DataFrame, env: dict | None = None,
                   shadow: str | None = None) -> dict:  # fmt: skip
    """Serve @production for real (with the version behind `shadow` in the shadow), send the
    rows (ids included, target left out) in one batch, stop the server so its logs are
    flushed; the server's answer."""
    port = free_port()
    command = [sys.executable, "-m", PACKAGE, "serve", "--port", str(port), "--alias",
               "production", *(["--shadow-alias", shadow] if shadow else [])]  # fmt: skip
    server = subprocess.Popen(command, cwd=project, env={**project_env(project), **(env or {})},
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(server, url)
        if shadow:  # the shadow loads after the served model; what comes before is not shadowed
            wait_for_shadow(server, url)
        records = json.loads(rows.drop(columns=["churned"]).to_json(orient="records"))
        body = json.dumps({"records": records}).encode()
        request = urllib.request.Request(f"{url}/predict/batch", data=body,
                                         headers={"content-type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for_shadow(server, url, seconds=120):
    deadline = time.monotonic() + seconds
    while True:
        assert server.poll() is None, "the server exited"
        with urllib.request.urlopen(f"{url}/version", timeout=5) as answer:
            shadow = json.load(answer)["shadow"]
        if shadow["status"] == "scoring":
            return
        assert time.monotonic() < deadline, f"the shadow did not load in {seconds} s: {shadow}"
        time.sleep(0.25)


@pytest.fixture(scope="module")
def decay(tmp_path_factory, trained_project):
    """The trained project, committed with a bare remote, version 1 in production, its
    prediction logs holding 1,000 served customers, and their outcomes as two files."""
    root = tmp_path_factory.mktemp("decay")
    project = Path(shutil.copytree(trained_project, root / "churn-model", symlinks=True))
    params = project / "params.yaml"
    params.write_text(re.sub(r"log_sample_rate: [\d.]+", "log_sample_rate: 1.0",
                             params.read_text()))  # fmt: skip
    env = {**project_env(project), **GIT_ID}
    subprocess.run(["git", "add", "-A"], cwd=project, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "start"], cwd=project, check=True, env=env)
    git(root, "init", "-q", "--bare", "remote.git")
    git(project, "remote", "add", "origin", str(root / "remote.git"))
    git(project, "push", "-q", "origin", "main")
    run_in(project, "dvc", "push", "--quiet")
    set_alias(project, "production", 1)
    rows = window(project, seed=21, shifted=False).head(SENT)
    answer = serve_and_send(project, rows)
    inputs = root / "inputs"
    inputs.mkdir()
    truth = rows[["customer_id", "churned"]]
    truth.to_csv(inputs / "agree.csv", index=False)
    flipped = truth.copy()
    picked = np.random.default_rng(5).random(len(flipped)) < 0.4
    flipped.loc[picked, "churned"] = flipped.loc[picked, "churned"].map({"yes": "no", "no": "yes"})
    flipped.to_csv(inputs / "disagree.csv", index=False)
    return project, inputs, answer


def monitor_step(project: Path, outcomes: str | Path = ""):
    return run_action(ROOT / "actions/monitor-report",
                      {"package": PACKAGE, "outcomes": str(outcomes), "artifact-name": ""},
                      cwd=project, env=project_env(project))  # fmt: skip


def test_the_server_logs_every_prediction_with_its_id(decay):
    project, _, answer = decay
    assert answer["prediction_ids"][:2] == ["W21-00000", "W21-00001"]
    logged = (project / "logs/prediction-ids-production.jsonl").read_text().splitlines()
    assert len(logged) == SENT
    first = json.loads(logged[0])
    assert first["prediction_id"] == "W21-00000" and first["model_version"] == "1"
    assert {"ts", "prediction", "score"} <= set(first)


def test_outcomes_that_agree_give_exit_0_and_no_pull_request(decay, fake_github, tmp_path):
    project, inputs, _ = decay
    back_to_main(project)
    before = refs(project)
    store = tmp_path / "agree-store"  # outside the project: a plain folder (a share, a URL)
    added = run_in(project, "python", "-m", PACKAGE, "add-outcomes",
                   str(inputs / "agree.csv"), "--store", str(store))  # fmt: skip
    assert f"Added {SENT} outcomes" in added.stdout
    step = monitor_step(project, store)
    assert not step.failed, step.log
    assert step.outputs["decay-detected"] == "false"
    report = json.loads((project / "reports/monitor.json").read_text())
    print("\nagreeing outcomes:", report["summary"])
    print(json.dumps({r["metric"]: [round(r["old"] or 0, 4), round(r["new"], 4)]
                      for r in report["metrics"]}))  # fmt: skip
    assert report["labelled"] == SENT and report["coverage"] == 1.0 and not report["decay"]
    assert "Healthy" in step.summary and "### Live against training" in step.summary
    assert refs(project) == before and fake_github.requests == []


def test_outcomes_that_disagree_give_exit_4_and_one_pull_request(decay, fake_github):
    project, inputs, _ = decay
    back_to_main(project)
    run_in(project, "python", "-m", PACKAGE, "add-outcomes", str(inputs / "disagree.csv"))
    git(project, "add", "data/outcomes.dvc", "data/.gitignore")  # as a user commits them
    subprocess.run(["git", "commit", "-qm", "outcomes"], cwd=project, check=True,
                   env={**project_env(project), **GIT_ID})  # fmt: skip
    main_head = git(project, "rev-parse", "main")
    step = monitor_step(project)  # the default store, data/outcomes
    assert not step.failed, step.log
    assert step.outputs["decay-detected"] == "true"
    report = json.loads((project / "reports/monitor.json").read_text())
    print("\n40% flipped:", report["summary"])
    dropped = {r["metric"]: r for r in report["metrics"] if r["refuses"]}
    assert "roc_auc" in dropped and dropped["roc_auc"]["gain"] < -0.05, report["metrics"]
    assert "roc_auc" in report["summary"] and "a drop of" in report["summary"]
    assert report["labelled_rows"]["rows"] == SENT  # every row sampled: all of them retrain

    retrain = run_in(project, "python", "-m", PACKAGE, "retrain", "--push")
    # Random flips are not learnable: the retrained model fails its ROC AUC gate, and the pull
    # request is opened anyway, saying so (its CI fails on the same gate).
    assert "1000 rows appended" in retrain.stdout
    assert "the new model fails roc_auc" in retrain.stdout
    remote = Path(git(project, "remote", "get-url", "origin"))
    pushed = git(remote, "rev-parse", BRANCH)
    assert git(project, "rev-parse", f"{pushed}^") == main_head
    subject = git(project, "log", "-1", "--format=%s", pushed)
    assert subject.startswith(f"Retrain on live outcomes: {SENT} new rows (live decay of "
                              "production in roc_auc")  # fmt: skip
    assert subject.endswith("; the retrained model fails roc_auc")
    pull = run_action(
        ROOT / "actions/open-pr",
        {"head": BRANCH, "base": "main", "title": "Retrain churn-model: live performance decayed",
         "body-file": "reports/retrain.md", "labels": "retraining", "repository": REPOSITORY,
         "token": "fake-token", "api-url": fake_github.url},
        cwd=project, env=project_env(project),
    )  # fmt: skip
    assert not pull.failed, pull.log
    assert len(requests(fake_github, "POST", "/pulls")) == 1
    body = fake_github.pulls[REPOSITORY][1]["body"]
    assert "## Retrain churn-model on the decayed window" in body
    assert "**The retrained model fails its gates (roc_auc)**" in body
    assert "### Live performance of production" in body and "#### Live against training" in body
    assert "| `roc_auc` | 0.8" in body  # training's value beside the live one
    assert "#### Fairness gaps on the" in body
    assert "| production (v1) | retrained |" in body
    back_to_main(project)


@pytest.fixture
def object_storage(monkeypatch):
    """A local S3-compatible stand-in (moto's server) and the environment that points
    fsspec's s3fs at it; one bucket, `logs`."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import s3fs

    storage = s3fs.S3FileSystem()
    storage.mkdir("logs")
    yield env, storage
    server.stop()


def test_logs_and_outcomes_at_object_storage_urls(decay, object_storage, tmp_path):
    """Both logs and the outcome store at s3:// URLs: the server writes Parquet parts there,
    and add-outcomes, monitor and drift read the same URLs (a runner sees what pods wrote)."""
    env, storage = object_storage
    project = Path(shutil.copytree(decay[0], tmp_path / "s3", symlinks=True))
    params = project / "params.yaml"
    text = params.read_text()
    for key, url in (("prediction_log", "s3://logs/predictions-{environment}"),
                     ("prediction_ids_log", "s3://logs/prediction-ids-{environment}"),
                     ("store", "s3://logs/outcomes")):  # fmt: skip
        text = re.sub(rf"(\n  {key}: )\S+", rf"\g<1>{url}", text, count=1)
    params.write_text(text.replace("log_flush_seconds: 60", "log_flush_seconds: 1"))
    serve_and_send(project, window(project, seed=22, shifted=False).head(SENT), env)
    parts = storage.glob("logs/prediction-ids-production/part-*.parquet")
    assert parts and storage.glob("logs/predictions-production/part-*.parquet")
    local = project / "logs/prediction-ids-production.jsonl"  # copied: the earlier serve's
    assert local.read_text().count("\n") == SENT  # untouched: this run wrote to the bucket
    truth = window(project, seed=22, shifted=False).head(SENT)[["customer_id", "churned"]]
    truth.to_csv(tmp_path / "outcomes.csv", index=False)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", PACKAGE, *args], cwd=project,
                              env={**project_env(project), **env}, capture_output=True,
                              text=True, timeout=600)  # fmt: skip

    added = cli("add-outcomes", str(tmp_path / "outcomes.csv"))
    assert added.returncode == 0, added.stderr
    assert "s3://logs/outcomes/outcomes-" in added.stdout
    judged = cli("monitor")
    assert judged.returncode == 0, judged.stderr
    report = json.loads((project / "reports/monitor.json").read_text())
    assert report["labelled"] == SENT and report["predictions"].startswith("s3://")
    drifted = cli("drift")
    assert drifted.returncode in (0, 3), drifted.stderr
    current = json.loads((project / "reports/drift.json").read_text())["current"]
    assert current["rows"] == SENT and all(f.startswith("s3://") for f in current["files"])


def weaker_challenger(project: Path):
    """Version 2, @candidate: the same pipeline, regularised until it barely learns."""
    back_to_main(project)
    params = project / "params.yaml"
    if "    C: 0.0001" not in params.read_text():
        params.write_text(params.read_text().replace("    C: 1.0", "    C: 0.0001"))
        run_in(project, "dvc", "repro", "--quiet")
        run_in(project, "python", "-m", PACKAGE, "register")


def test_a_weaker_challenger_is_refused_promotion_with_the_table(decay, tmp_path):
    project, _, _ = decay
    weaker_challenger(project)
    staging = (project / "deploy/staging.yaml").read_text()
    refused = run_in(project, "python", "-m", PACKAGE, "promote", "--from", "candidate",
                     "--to", "staging", "--live-rows", "reports/monitor-rows.parquet",
                     check=False)  # fmt: skip
    print("\nweaker challenger:", refused.stderr.strip())
    assert refused.returncode == 1
    assert "The challenger v2 is refused against the champion v1 on the same" in refused.stderr
    assert "roc_auc" in refused.stderr and "gates.max_regression.roc_auc: 0.01" in refused.stderr
    assert "Nothing was promoted: deploy/staging.yaml is unchanged" in refused.stderr
    assert (project / "deploy/staging.yaml").read_text() == staging
    table = (project / "reports/promote-staging.md").read_text()
    print(table)
    assert "| `roc_auc` | 0.8" in table and "**worse beyond the limit**" in table
    assert f"### On the labelled live window ({SENT} rows)" in table  # monitor's rows, scored

    forced = run_in(project, "python", "-m", PACKAGE, "promote", "--from", "candidate", "--to",
                    "staging", "--override-reason", "pilot: recall matters less")  # fmt: skip
    assert "version none -> 2" in forced.stdout
    body = (project / "reports/promote-staging.md").read_text()
    assert "**Promoted over the refusal**" in body and "pilot: recall matters less" in body
    tag = run_in(project, "python", "-c", (
        "from mlflow import MlflowClient; c = MlflowClient('sqlite:///mlflow.db', "
        "'sqlite:///mlflow.db'); print(c.get_model_version('churn-model', '2').tags"
        "['promotion_override.staging'])"
    ))  # fmt: skip
    assert tag.stdout.strip() == "pilot: recall matters less"


def test_a_shadow_challenger_is_compared_on_the_same_live_requests(decay, tmp_path):
    """Production (v1) answers 600 new customers while the weaker challenger (v2, behind
    `candidate`) scores them in the shadow; their outcomes arrive; `shadow-report` puts both
    versions side by side on those requests, and v2's promotion PR carries the table."""
    project, _, _ = decay
    weaker_challenger(project)
    rows = window(project, seed=23, shifted=False).head(600)
    answer = serve_and_send(project, rows, shadow="candidate")
    assert answer["model_version"] == "1"  # the answers are production's
    rows[["customer_id", "churned"]].to_csv(tmp_path / "truth.csv", index=False)
    run_in(project, "python", "-m", PACKAGE, "add-outcomes", str(tmp_path / "truth.csv"))
    done = run_in(project, "python", "-m", PACKAGE, "shadow-report", "--environment",
                  "production")  # fmt: skip
    table = (project / "reports/shadow-production.md").read_text()
    print("\n" + done.stdout + table)
    result = json.loads((project / "reports/shadow-production.json").read_text())
    assert result["versions"] == {"served": {"1": 600}, "shadow": {"2": 600}}
    assert result["outcomes"]["rows"] == 600
    served, shadow = (result["outcomes"]["metrics"][side] for side in ("served", "shadow"))
    assert served["roc_auc"] > shadow["roc_auc"] and result["agreement"] < 1
    assert "| on the same requests | served v1 | shadow v2 |" in table
    assert "### Metrics on the 600 requests with an outcome" in table
    run_in(project, "python", "-m", PACKAGE, "promote", "--from", "candidate", "--to",
           "production", "--override-reason", "shadow trial")  # fmt: skip
    body = (project / "reports/promote-production.md").read_text()
    assert "## Shadow: version 2 beside version 1 (production)" in body
