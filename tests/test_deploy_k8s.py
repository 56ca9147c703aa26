"""The kubernetes deploy target without a cluster.

The overlays are rendered by kubectl's kustomize and every object is validated against the
Kubernetes schemas (kubernetes-validate). Then the generated `deploy` verb runs against a
fake kubectl (tests/support/fake_kubectl.py: it records each call, keeps a small cluster in a
file with Kubernetes' revision rules, and its port-forward serves a stand-in model server), so
the exact kubectl sequence of a first rollout, a canary rollout, a failed canary and a failed
rollout is asserted.

What these tests cannot prove: that the image's model answers the smoke cases right. The
stand-in pods answer by a fixed rule of the fake (not by reading deploy/smoke-cases.yaml),
right or, for FAKE_KUBECTL_BROKEN_VERSIONS, wrong; so they prove what `deploy` does with the
answers. Real servers with real models are deployed in tests/test_deploy_local.py.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT, bake, project_env
from tests.support.fake_kubectl import current, model_version

PACKAGE = "churn_model"
NAME = "churn-model"
DIGEST = "sha256:" + "ab" * 32
FAKE = ROOT / "tests/support/fake_kubectl.py"
K8S_VERSION = "1.30.0"  # a cluster version still in support; the schemas are bundled


def kubectl():
    found = shutil.which("kubectl")
    assert found, "kubectl is needed (Debian: apt-get install kubernetes-client)"
    return found


def render(project: Path, env: str) -> list[dict]:
    done = subprocess.run([kubectl(), "kustomize", f"deploy/k8s/overlays/{env}"], cwd=project,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def k8s_bake(tmp_path_factory) -> Path:
    """A kubernetes bake whose registry (sqlite) holds versions 1-3 that passed their gates
    and version 4 that did not."""
    project = bake(tmp_path_factory.mktemp("k8s"), deploy_target="kubernetes")
    script = (
        "from mlflow import MlflowClient\n"
        "c = MlflowClient('sqlite:///mlflow.db', 'sqlite:///mlflow.db')\n"
        f"c.create_registered_model({NAME!r})\n"
        "for v in range(1, 5):\n"
        "    tags = {'gates': 'passed' if v < 4 else 'failed', 'metric.auc': str(0.8 + v / 100)}\n"
        f"    c.create_model_version({NAME!r}, source=f'/models/{{v}}', tags=tags)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=project, env=project_env(project),
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return project


@pytest.fixture
def project(k8s_bake, tmp_path) -> Path:
    """A private copy (deploys move aliases and write files)."""
    return Path(shutil.copytree(k8s_bake, tmp_path / "project", symlinks=True))


class Cluster:
    """The fake kubectl's directory: its calls and its cluster."""

    def __init__(self, root: Path):
        self.dir = root / "fake-kubectl"
        self.dir.mkdir()
        self.wrapper = root / "kubectl"
        self.wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
        self.wrapper.chmod(0o755)

    def calls(self) -> list[dict]:
        path = self.dir / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def commands(self) -> list[str]:
        """Each call as `verb resource` (no namespace, ports or flags), e.g. `apply -`."""
        out = []
        for call in self.calls():
            argv, words = call["argv"], []
            skip = False
            for arg in argv:
                if skip:
                    skip = False
                elif arg == "-n":
                    skip = True
                elif not arg.startswith("-") and not re.fullmatch(r"\d*:\d+", arg):
                    words.append(arg)
            out.append(" ".join(words))
        return out

    def state(self) -> dict:
        return json.loads((self.dir / "cluster.json").read_text())["deployments"]

    def serves(self, name: str) -> str:
        """The MODEL_VERSION of the Deployment's current pod template."""
        return model_version(current(self.state()[name]))

    def revisions(self, name: str) -> dict[int, str]:
        """Revision number -> MODEL_VERSION of its pod template."""
        return {int(n): model_version(t) for n, t in self.state()[name]["revisions"].items()}

    def clear_calls(self) -> None:
        (self.dir / "calls.jsonl").unlink(missing_ok=True)


@pytest.fixture
def cluster(tmp_path) -> Cluster:
    return Cluster(tmp_path)


def pin(project: Path, env: str, version: int, digest: str = DIGEST) -> None:
    path = project / f"deploy/{env}.yaml"
    text = re.sub(r"(?m)^  version: \S+", f"  version: {version}", path.read_text(), count=1)
    text = re.sub(r"(?m)^  digest: \S+", f'  digest: "{digest}"', text, count=1)
    path.write_text(text)


def deploy(project: Path, cluster: Cluster, env: str, **extra: str):
    return subprocess.run(deploy_command(env), cwd=project, env=deploy_env(project, cluster, extra),
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def deploy_command(env: str) -> list[str]:
    return [sys.executable, "-m", PACKAGE, "deploy", "--env", env]


def deploy_env(project: Path, cluster: Cluster, extra: dict) -> dict:
    return {**project_env(project), "KUBECTL": str(cluster.wrapper),
            "FAKE_KUBECTL_DIR": str(cluster.dir), "REAL_KUBECTL": kubectl(), **extra}  # fmt: skip


def alias(project: Path, env: str) -> str:
    """The version the registry alias points to, or 'none'; any failure to read it fails."""
    script = (
        "from mlflow import MlflowClient\n"
        "c = MlflowClient('sqlite:///mlflow.db', 'sqlite:///mlflow.db')\n"
        f"print(c.get_registered_model({NAME!r}).aliases.get({env!r}, 'none'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=project, env=project_env(project),
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, f"reading alias {env} failed:\n{done.stderr}"
    return str(done.stdout.strip().splitlines()[-1])


# -- the manifests ------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["staging", "production"])
def test_overlays_render_and_every_object_validates(k8s_bake, env):
    objects = render(k8s_bake, env)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == ["Deployment", "Deployment", "HorizontalPodAutoscaler", "Namespace",
                     "PersistentVolumeClaim", "PodDisruptionBudget", "Service"]  # fmt: skip
    for item in objects:
        kubernetes_validate.validate(item, K8S_VERSION, strict=True)
        if item["kind"] != "Namespace":
            assert item["metadata"]["namespace"] == f"{NAME}-{env}"
    namespace = next(o for o in objects if o["kind"] == "Namespace")
    assert namespace["metadata"]["name"] == f"{NAME}-{env}"
    for deployment in (o for o in objects if o["kind"] == "Deployment"):  # its own log
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert {"name": "SERVE_ENVIRONMENT", "value": env} in container["env"]


def test_a_broken_object_fails_validation(k8s_bake):
    """The validation above can fail: a probe without a port is rejected."""
    deployment = next(o for o in render(k8s_bake, "staging") if o["kind"] == "Deployment")
    del deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_the_objects_fit_together(k8s_bake):
    objects = render(k8s_bake, "production")
    by_kind = {}
    for item in objects:
        by_kind.setdefault(item["kind"], []).append(item)
    tracks = {
        d["spec"]["template"]["metadata"]["labels"]["track"]: d for d in by_kind["Deployment"]
    }
    stable, canary = tracks["stable"], tracks["canary"]
    assert stable["metadata"]["name"] == NAME and canary["metadata"]["name"] == f"{NAME}-canary"

    def selects(selector, labels):
        return all(labels.get(key) == value for key, value in selector.items())

    for deployment in (stable, canary):  # each Deployment owns exactly its own pods
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects(deployment["spec"]["selector"]["matchLabels"], labels)
        other = canary if deployment is stable else stable
        assert not selects(deployment["spec"]["selector"]["matchLabels"],
                           other["spec"]["template"]["metadata"]["labels"])  # fmt: skip
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    service = by_kind["Service"][0]
    for deployment in (stable, canary):  # traffic goes to both tracks, weighted by pods
        assert selects(
            service["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"]
        )
    pdb = by_kind["PodDisruptionBudget"][0]
    assert selects(
        pdb["spec"]["selector"]["matchLabels"], stable["spec"]["template"]["metadata"]["labels"]
    )
    assert not selects(
        pdb["spec"]["selector"]["matchLabels"], canary["spec"]["template"]["metadata"]["labels"]
    )
    hpa = by_kind["HorizontalPodAutoscaler"][0]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == NAME
    assert "replicas" not in stable["spec"]  # the autoscaler owns it
    assert canary["spec"]["replicas"] == 0  # at rest
    assert stable["spec"]["template"]["spec"] == canary["spec"]["template"]["spec"]


def test_the_fake_keeps_revisions_as_kubernetes_does(tmp_path, monkeypatch):
    """A template seen before moves to the top under a new number; an undo is such a move."""
    from tests.support import fake_kubectl

    monkeypatch.setenv("FAKE_KUBECTL_DIR", str(tmp_path))

    def deployment(version):
        env = [{"name": "MODEL_VERSION", "value": version}]
        template = {"spec": {"containers": [{"name": "server", "env": env}]}}
        return {"kind": "Deployment", "metadata": {"name": NAME}, "spec": {"template": template}}

    def revisions():
        state = fake_kubectl.load()["deployments"][NAME]["revisions"]
        return {int(n): model_version(t) for n, t in state.items()}

    for version in ("1", "2", "1", "1"):
        fake_kubectl.apply([deployment(version)])
    assert revisions() == {2: "2", 3: "1"}
    fake_kubectl.rollout("undo", f"deployment/{NAME}", [])
    assert revisions() == {3: "1", 4: "2"}
    fake_kubectl.rollout("undo", f"deployment/{NAME}", ["--to-revision=3"])
    assert revisions() == {4: "2", 5: "1"}


# -- the kubectl sequence (each deploy is a CLI process importing MLflow: slow) -------------


@pytest.mark.slow
def test_first_deploy_applies_everything_then_smoke_tests_the_service(project, cluster):
    pin(project, "production", 1)
    done = deploy(project, cluster, "production")
    assert done.returncode == 0, done.stdout + done.stderr
    assert cluster.commands() == [
        "kustomize deploy/k8s/overlays/production",
        f"get deployment/{NAME}",  # not there yet: no canary phase, nothing to protect
        "apply",
        f"rollout status deployment/{NAME}",
        f"port-forward service/{NAME}",
    ]
    applied = {(o["kind"], o["name"]): o for o in cluster.calls()[2]["objects"]}
    stable, canary = applied["Deployment", NAME], applied["Deployment", f"{NAME}-canary"]
    assert stable["image"] == canary["image"] == f"ghcr.io/your-org/{NAME}@{DIGEST}"
    assert stable["version"] == "1" and stable["replicas"] is None  # the autoscaler's
    assert canary["replicas"] == 0
    hpa = applied["HorizontalPodAutoscaler", NAME]
    assert (hpa["min"], hpa["max"]) == (2, 6)  # rollout.replicas, rollout.max_replicas
    assert ("Namespace", f"{NAME}-production") in applied  # made by the first rollout only
    assert alias(project, "production") == "1"
    report = json.loads((project / "reports/deploy-production.json").read_text())
    assert report["outcome"] == "succeeded" and report["smoke"][0]["passed"]


@pytest.mark.slow
def test_a_new_version_goes_to_the_canary_first(project, cluster):
    pin(project, "production", 1)
    assert deploy(project, cluster, "production").returncode == 0
    cluster.clear_calls()
    pin(project, "production", 2)
    done = deploy(project, cluster, "production")
    assert done.returncode == 0, done.stdout + done.stderr
    assert cluster.commands() == [
        "kustomize deploy/k8s/overlays/production",
        f"get deployment/{NAME}",
        "apply",  # the canary alone
        f"rollout status deployment/{NAME}-canary",
        f"port-forward deployment/{NAME}-canary",
        "apply",  # everything: stable gets the version, the canary goes back to 0
        f"rollout status deployment/{NAME}",
        f"port-forward service/{NAME}",
    ]
    canary_only = cluster.calls()[2]["objects"]
    # 25 % of the pods: 2 stable replicas -> 1 canary pod (1 of 3)
    image = f"ghcr.io/your-org/{NAME}@{DIGEST}"
    assert canary_only == [
        {
            "kind": "Deployment",
            "name": f"{NAME}-canary",
            "replicas": 1,
            "version": "2",
            "image": image,
        }
    ]
    assert "Smoke test of the canary (1 pod(s))" in done.stdout
    assert "Namespace" not in {o["kind"] for o in cluster.calls()[5]["objects"]}
    assert cluster.serves(NAME) == "2"
    assert cluster.state()[f"{NAME}-canary"]["replicas"] == 0
    assert alias(project, "production") == "2"


@pytest.mark.slow
def test_a_canary_that_fails_its_smoke_test_never_reaches_the_stable_pods(project, cluster):
    pin(project, "production", 2)
    assert deploy(project, cluster, "production").returncode == 0
    cluster.clear_calls()
    pin(project, "production", 3)
    done = deploy(project, cluster, "production", FAKE_KUBECTL_BROKEN_VERSIONS="3")
    assert done.returncode == 1
    assert cluster.commands() == [
        "kustomize deploy/k8s/overlays/production",
        f"get deployment/{NAME}",
        "apply",
        f"rollout status deployment/{NAME}-canary",
        f"port-forward deployment/{NAME}-canary",
        f"scale deployment/{NAME}-canary",  # the rollback: the stable pods never changed
    ]
    assert "--replicas=0" in cluster.calls()[-1]["argv"]
    assert "the smoke test of the canary (1 pod(s)) failed" in done.stderr
    assert "predicted 'no', expected 'yes'" in done.stderr
    assert "alias production points to version 2 again" in done.stderr
    assert alias(project, "production") == "2"
    assert cluster.revisions(NAME) == {1: "2"}, "the stable pods never changed"
    report = json.loads((project / "reports/deploy-production.json").read_text())
    assert report["outcome"] == "rolled_back" and "canary" in report["reason"]


@pytest.mark.slow
def test_a_failed_rollout_is_undone_to_the_revision_before_it(project, cluster):
    pin(project, "staging", 1)  # staging: no canary (canary_percent 0)
    assert deploy(project, cluster, "staging").returncode == 0
    pin(project, "staging", 2)
    assert deploy(project, cluster, "staging").returncode == 0
    assert cluster.revisions(NAME) == {1: "1", 2: "2"}
    cluster.clear_calls()
    pin(project, "staging", 3)
    done = deploy(project, cluster, "staging", FAKE_KUBECTL_FAIL_ROLLOUT=NAME)
    assert done.returncode == 1
    assert cluster.commands() == [
        "kustomize deploy/k8s/overlays/staging",
        f"get deployment/{NAME}",
        "apply",
        f"rollout status deployment/{NAME}",  # fails: progress deadline
        f"rollout undo deployment/{NAME}",
        f"rollout status deployment/{NAME}",  # (the fake fails it again; reported)
    ]
    assert "--to-revision=2" in cluster.calls()[4]["argv"]
    assert "exceeded its progress deadline" in done.stderr
    assert alias(project, "staging") == "2"
    # As in Kubernetes: revision 2 (version 2's pods) came back as revision 4.
    assert cluster.revisions(NAME) == {1: "1", 3: "3", 4: "2"}


@pytest.mark.slow
def test_a_failed_smoke_test_after_the_rollout_is_undone(project, cluster):
    pin(project, "staging", 1)
    assert deploy(project, cluster, "staging").returncode == 0
    cluster.clear_calls()
    pin(project, "staging", 3)
    done = deploy(project, cluster, "staging", FAKE_KUBECTL_BROKEN_VERSIONS="3")
    assert done.returncode == 1
    assert cluster.commands()[-3:] == [
        f"port-forward service/{NAME}",
        f"rollout undo deployment/{NAME}",
        f"rollout status deployment/{NAME}",
    ]
    assert "revision 1 (version 1)" in done.stderr
    assert alias(project, "staging") == "1"
    assert cluster.revisions(NAME) == {2: "3", 3: "1"}


@pytest.mark.slow
def test_a_failed_first_rollout_is_removed(project, cluster):
    pin(project, "staging", 3)
    done = deploy(project, cluster, "staging", FAKE_KUBECTL_BROKEN_VERSIONS="3")
    assert done.returncode == 1
    assert cluster.commands()[-1] == "delete"
    deleted = {o["kind"] for o in cluster.calls()[-1]["objects"]}
    assert "Namespace" not in deleted and "Deployment" in deleted
    assert alias(project, "staging") == "none"
    assert "alias staging removed" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "cancelled-job"])
def test_an_interrupted_rollout_is_rolled_back(project, cluster, stop):
    """Ctrl-C, or the SIGTERM of a cancelled or timed-out job, midway through the rollout."""
    pin(project, "staging", 1)
    assert deploy(project, cluster, "staging").returncode == 0
    pin(project, "staging", 2)
    extra = {"FAKE_KUBECTL_HANG_VERSIONS": "2"}  # version 2's rollout never finishes
    # A suite started in the background (`make test &`, some CI runners) ignores SIGINT, and its
    # children inherit that: the deploy gets Ctrl-C's default back, as in a terminal.
    process = subprocess.Popen(deploy_command("staging"), cwd=project, text=True,
                               env=deploy_env(project, cluster, extra), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, preexec_fn=default_sigint)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (cluster.dir / "hanging").exists():  # the alias moved, the apply is done
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
            time.sleep(0.1)
        assert alias(project, "staging") == "2"
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode != 0
    assert "alias staging points to version 1 again" in stderr
    assert alias(project, "staging") == "1"
    assert cluster.serves(NAME) == "1"
    report = json.loads((project / "reports/deploy-staging.json").read_text())
    assert report["outcome"] == "rolled_back" and "interrupted" in report["reason"]
    # The interruption goes on as it came: Ctrl-C ends as Ctrl-C, SIGTERM with its traceback.
    assert ("KeyboardInterrupt" if stop == signal.SIGINT else "Terminated") in stderr


@pytest.mark.slow
def test_nothing_is_touched_for_a_version_that_did_not_pass_its_gates(project, cluster):
    pin(project, "production", 4)
    done = deploy(project, cluster, "production")
    assert done.returncode == 1
    assert "does not carry the lineage tag gates=passed" in done.stderr
    assert cluster.calls() == []


@pytest.mark.slow
def test_the_kubernetes_target_needs_an_image_digest(project, cluster):
    path = project / "deploy/production.yaml"
    path.write_text(re.sub(r"(?m)^  version: \S+", "  version: 1", path.read_text(), count=1))
    done = deploy(project, cluster, "production")
    assert done.returncode == 1
    assert "pins no image.digest" in done.stderr
    assert alias(project, "production") == "none"
