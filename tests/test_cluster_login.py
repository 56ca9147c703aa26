# ruff: noqa: F811 (the fixtures of test_deploy_k8s.py, imported, are the test arguments)
"""The kubernetes target's short-lived credentials (issue 19, item 6), without a cloud.

The deploy Action runs as the runner runs it (tests/support/action_runner.py) with cloud
aws: the official login Action is replaced by a stand-in that records what it was given (no
network, no cloud), the cloud's CLI by a stand-in `aws` that writes the kubeconfig `aws eks
update-kubeconfig` writes, and kubectl is the fake of test_deploy_k8s.py, which records the
KUBECONFIG each call ran with. What is proved: the login gets the role and region, the
kubeconfig is built for the cluster from it, the deploy uses it, and no long-lived secret is
read. What cannot be proved here: that AWS accepts the role (see the README's trust policy).
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from tests.conftest import ROOT, bake, project_env
from tests.support.action_runner import run_action
from tests.test_deploy_k8s import (  # noqa: F401 (fixtures)
    PACKAGE,
    Cluster,
    cluster,
    k8s_bake,
    kubectl,
    pin,
    project,
)

DEPLOY = ROOT / "actions" / "deploy"
AWS_LOGIN = "aws-actions/configure-aws-credentials"
LOGIN = {
    "cloud": "aws",
    "cluster": "ml-cluster",
    "cluster-location": "eu-west-1",
    "cloud-identity": "arn:aws:iam::123456789012:role/churn-model-deploy",
}
# `aws eks update-kubeconfig --name N --region R --kubeconfig F`, as far as kubectl cares.
FAKE_AWS = """#!/bin/sh
echo "$@" >> "{log}"
[ "$1 $2" = "eks update-kubeconfig" ] || exit 2
while [ $# -gt 0 ]; do
  case "$1" in --name) name=$2;; --region) region=$2;; --kubeconfig) file=$2;; esac
  shift
done
cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters: [{{name: arn:aws:eks:$region:123456789012:cluster/$name, cluster: {{server: https://eks.example}}}}]
users: [{{name: eks, user: {{exec: {{command: aws,
  args: [eks, get-token, --cluster-name, $name]}}}}}}]
EOF
"""
# kubectl as the deploy verb calls it, recording the kubeconfig of each call.
RECORDING_KUBECTL = """#!/bin/sh
{{ echo "KUBECONFIG=$KUBECONFIG"; cat "$KUBECONFIG" 2>/dev/null; }} >> "{log}"
exec "{fake}" "$@"
"""


def script(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return path


def login_stand_in(calls):
    def uses(step, with_):
        action = step["uses"].split("@")[0]
        calls.append((action, with_))
        assert action == AWS_LOGIN, f"only the AWS login should run, not {action}"
        return {}  # its effect, AWS credentials in the environment, is the stand-in aws's

    return uses


def run_deploy(project, cluster, tmp_path, inputs):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script(bin_dir / "aws", FAKE_AWS.format(log=tmp_path / "aws.log"))
    recording = script(tmp_path / "kubectl-recording",
                       RECORDING_KUBECTL.format(log=tmp_path / "kubectl.log",
                                                fake=cluster.wrapper))  # fmt: skip
    env = {**project_env(project), "KUBECTL": str(recording), "FAKE_KUBECTL_DIR": str(cluster.dir),
           "REAL_KUBECTL": kubectl()}  # fmt: skip
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env.pop("KUBECONFIG", None)
    calls = []
    result = run_action(DEPLOY, {"package": PACKAGE, "environment": "staging", **inputs},
                        cwd=project, env=env, uses=login_stand_in(calls))  # fmt: skip
    return result, calls


def test_oidc_login_builds_the_kubeconfig_the_deploy_uses(project, cluster, tmp_path):
    pin(project, "staging", 1)
    result, calls = run_deploy(project, cluster, tmp_path, LOGIN)
    assert not result.failed, result.log
    assert result.outputs["outcome"] == "succeeded"
    assert calls == [(AWS_LOGIN, {"role-to-assume": LOGIN["cloud-identity"],
                                  "aws-region": "eu-west-1"})]  # fmt: skip
    aws = (tmp_path / "aws.log").read_text().split()
    assert aws[:6] == ["eks", "update-kubeconfig", "--name", "ml-cluster", "--region", "eu-west-1"]
    built = aws[aws.index("--kubeconfig") + 1]
    used = (tmp_path / "kubectl.log").read_text()
    assert f"KUBECONFIG={built}" in used  # every kubectl call ran with the login's kubeconfig
    assert "cluster/ml-cluster" in used and "get-token" in used
    assert cluster.commands()[-1].startswith("port-forward")  # deployed and smoke-tested


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({**LOGIN, "cluster": ""}, "cloud aws needs the inputs cluster"),
        ({**LOGIN, "cloud": "digitalocean"}, "cloud must be none, aws, gcp or azure"),
        ({**LOGIN, "kubeconfig": "apiVersion: v1"}, "pass no kubeconfig"),
    ],
)
def test_bad_login_settings_stop_before_any_login(project, cluster, tmp_path, inputs, message):
    pin(project, "staging", 1)
    result, calls = run_deploy(project, cluster, tmp_path, inputs)
    assert result.failed and message in result.log
    assert calls == [] and not (tmp_path / "aws.log").exists() and cluster.calls() == []


# -- the generated workflows, per cloud ------------------------------------------------------

CLOUDS = ["none", "aws", "gcp", "azure"]


@pytest.fixture(scope="module")
def bakes(tmp_path_factory):
    return {cloud: bake(tmp_path_factory.mktemp(cloud), deploy_target="kubernetes", cloud=cloud)
            for cloud in CLOUDS}  # fmt: skip


def deploy_jobs(project):
    for name in ("cd", "promote"):
        workflow = yaml.safe_load((project / f".github/workflows/{name}.yml").read_text())
        for job_name, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                if "/actions/deploy@" in step.get("uses", ""):
                    yield f"{name}.yml {job_name}", job, step["with"]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_each_cloud_bakes_its_login_and_only_the_deploy_jobs_get_id_tokens(bakes, cloud):
    jobs = list(deploy_jobs(bakes[cloud]))
    assert len(jobs) == 2
    for where, job, with_ in jobs:
        if cloud == "none":
            assert job["permissions"]["id-token"] == "none", where
            assert with_["kubeconfig"] == "${{ secrets.KUBECONFIG }}" and "cloud" not in with_
        else:
            assert job["permissions"]["id-token"] == "write", where
            assert with_["cloud"] == cloud and "kubeconfig" not in with_
            assert with_["cluster"] == "${{ vars.CLUSTER_NAME }}"
            assert "KUBECONFIG" not in json.dumps(job)  # no long-lived secret on this path
    deploying = {where for where, _, _ in jobs}
    for path in (bakes[cloud] / ".github/workflows").glob("*.yml"):
        workflow = yaml.safe_load(path.read_text())
        for job_name, job in workflow["jobs"].items():
            if f"{path.name} {job_name}" not in deploying:
                assert (job.get("permissions") or {}).get("id-token") in (None, "none"), job_name


@pytest.mark.parametrize("cloud", CLOUDS)
def test_each_cloud_passes_the_linters(bakes, cloud):
    from tests.support import linters

    workflows = sorted((bakes[cloud] / ".github/workflows").glob("*.yml"))
    for done in (linters.check_jsonschema("vendor.github-workflows", workflows),
                 linters.actionlint(workflows),
                 linters.zizmor(bakes[cloud], persona="auditor"),
                 linters.zizmor(bakes[cloud], persona="pedantic")):  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
