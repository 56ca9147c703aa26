"""The `kubernetes` target: the kustomize overlay of an environment, applied with kubectl.

`kubectl kustomize deploy/k8s/overlays/<env>` renders the objects; the deploy file then
sets the image (reference@digest: the image bakes the model in), MODEL_VERSION, the
canary's replicas and the autoscaler's bounds. A rollout, when a stable Deployment runs
already and rollout.canary_percent > 0:

1. apply the canary Deployment alone with the new image, wait for `rollout status`, and
   smoke-test it through `kubectl port-forward` (the stable pods are untouched);
2. apply everything (stable gets the new image, the canary goes back to 0 pods), wait for
   `rollout status`, smoke-test the Service (kubernetes.url, or a port-forward).

Rolling back: `kubectl rollout undo` of the stable Deployment (or, after a failed first
rollout, `kubectl delete` of what it applied) and the canary scaled to 0. KUBECTL names
the kubectl binary (default `kubectl`); the cluster is kubectl's current context.
"""

import contextlib
import copy
import math
import os
import re
import select
import subprocess
import time

import yaml

from ..config import REPORTS_DIR, CliError, load_params
from .desired_state import DeployFailed, image_ref, shadow_alias

CONTAINER = "server"
SERVER_PORT = 8000  # the container port of the Deployments; the Service listens on 80


class KubernetesTarget:
    def __init__(self, env, settings):
        self.env, self.kubectl = env, os.environ.get("KUBECTL", "kubectl")
        self.image, self.shadow = image_ref(settings), shadow_alias(settings)
        if self.image is None:
            raise CliError(
                f"deploy/{env}.yaml pins no image.digest: the kubernetes target runs "
                "reference@digest (the build-image Action outputs the digest)."
            )
        rollout, cluster = settings["rollout"], settings.get("kubernetes") or {}
        self.replicas, self.max_replicas = int(rollout["replicas"]), int(rollout["max_replicas"])
        self.canary_percent = float(rollout.get("canary_percent") or 0)
        self.timeout = int(rollout["timeout_seconds"])
        self.timeouts = load_params()["timeouts"]
        self.url = cluster.get("url")
        self.objects = self.render(cluster.get("overlay") or f"deploy/k8s/overlays/{env}")
        self.stable, self.canary = find_deployments(self.objects)
        self.namespace = self.stable["metadata"].get("namespace", "default")
        self.applied = []  # phases applied in the cluster: "canary", "stable"
        self.revision_before = None  # the stable Deployment's revision before this rollout

    def describe(self):
        return f"namespace {self.namespace} (kubectl context of this machine)"

    # -- kubectl ---------------------------------------------------------------------------
    def run(self, *args, stdin=None, fail=DeployFailed):
        try:
            done = subprocess.run(
                [self.kubectl, *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=self.timeout + 60,
            )
        except FileNotFoundError:
            raise CliError(f"{self.kubectl} not found: install kubectl or set KUBECTL.") from None
        except subprocess.TimeoutExpired:
            raise fail(f"`kubectl {' '.join(args)}` did not finish in time") from None
        if done.returncode != 0:
            raise fail(f"`kubectl {' '.join(args)}` failed: {done.stderr.strip()[-600:]}")
        return done.stdout

    def render(self, overlay):
        """The overlay's objects; rendering changes nothing, so a failure is a plain error."""
        text = self.run("kustomize", overlay, fail=CliError)
        return [doc for doc in yaml.safe_load_all(text) if doc]

    def apply(self, objects):
        # Namespaces first, so the namespaced objects of a first rollout have a home.
        ordered = sorted(objects, key=lambda o: o["kind"] != "Namespace")
        self.run("apply", "-f", "-", stdin=yaml.safe_dump_all(ordered, sort_keys=False))

    def rollout_status(self, deployment):
        self.run(
            "rollout",
            "status",
            f"deployment/{deployment['metadata']['name']}",
            "-n",
            self.namespace,
            f"--timeout={self.timeout}s",
        )

    def revision(self, deployment):
        """The Deployment's current revision number, or None when it does not exist."""
        name = f"deployment/{deployment['metadata']['name']}"
        path = r"-o=jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}"
        try:
            return self.run("get", name, "-n", self.namespace, path).strip() or None
        except DeployFailed:
            return None

    @contextlib.contextmanager
    def port_forward(self, resource, remote_port):
        """A local URL that reaches resource (deployment/x, service/y) while the block runs.
        kubectl picks the local port itself (`:PORT`), so no other process can take it
        between a choice and its use."""
        command = [self.kubectl, "port-forward", "-n", self.namespace, "--address=127.0.0.1",
                   resource, f":{remote_port}"]  # fmt: skip
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            what = f"kubectl port-forward {resource}"
            local = forwarded_port(process, what, self.timeouts["port_forward"])
            yield f"http://127.0.0.1:{local}"
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=self.timeouts["server_stop"])

    # -- rollout ---------------------------------------------------------------------------
    def canary_replicas(self):
        """Pods for the canary so that it gets canary_percent of all pods (at least one)."""
        if self.canary_percent <= 0:
            return 0
        share = self.canary_percent / 100
        return max(1, math.ceil(self.replicas * share / (1 - share)))

    def configured(self, version, canary_replicas):
        """The rendered objects with this version's image and the deploy file's numbers."""
        objects = copy.deepcopy(self.objects)
        stable, canary = find_deployments(objects)
        for deployment in (stable, canary):
            set_image(deployment, self.image, version, self.shadow)
            annotations = deployment["metadata"].setdefault("annotations", {})
            # shown by `kubectl rollout history`
            annotations["kubernetes.io/change-cause"] = f"deploy --env {self.env}: model {version}"
        canary["spec"]["replicas"] = canary_replicas
        for item in objects:
            if item["kind"] == "HorizontalPodAutoscaler":
                item["spec"]["minReplicas"] = self.replicas
                item["spec"]["maxReplicas"] = self.max_replicas
        return objects, canary

    def roll_out(self, version, smoke):
        self.save_manifest(version)
        self.revision_before = self.revision(self.stable)
        canary_pods = self.canary_replicas()
        if canary_pods and self.revision_before is not None:
            _, canary = self.configured(version, canary_pods)
            self.applied.append("canary")
            self.apply([canary])
            self.rollout_status(canary)
            with self.port_forward(f"deployment/{canary['metadata']['name']}", SERVER_PORT) as url:
                smoke(url, f"the canary ({canary_pods} pod(s))")
        objects, _ = self.configured(version, 0)
        if self.revision_before is not None:  # the namespace exists: a namespaced Role suffices
            objects = [o for o in objects if o["kind"] != "Namespace"]
        self.applied.append("stable")
        self.apply(objects)
        self.rollout_status(self.stable)
        service = next(o["metadata"]["name"] for o in objects if o["kind"] == "Service")
        if self.url:
            smoke(self.url, f"service {service}")
        else:
            with self.port_forward(f"service/{service}", 80) as url:
                smoke(url, f"service {service}")

    def roll_back(self, previous):
        if not self.applied:
            return "nothing had been applied in the cluster"
        name, canary = self.stable["metadata"]["name"], self.canary["metadata"]["name"]
        if "stable" not in self.applied:  # the canary failed: the stable pods never changed
            self.run("scale", f"deployment/{canary}", "--replicas=0", "-n", self.namespace)
            return f"canary {canary} scaled to 0; {name} kept its pods (version {previous})"
        if self.revision_before is None:  # nothing ran before: take the failed first rollout away
            objects = [o for o in self.configured(previous, 0)[0] if o["kind"] != "Namespace"]
            self.run("delete", "-f", "-", "--ignore-not-found", stdin=yaml.safe_dump_all(objects))
            return f"deleted the objects of the failed first rollout from {self.namespace}"
        # --to-revision: when the apply itself failed, a plain undo would go one step too far
        self.run(
            "rollout",
            "undo",
            f"deployment/{name}",
            "-n",
            self.namespace,
            f"--to-revision={self.revision_before}",
        )
        self.rollout_status(self.stable)
        return (
            f"`kubectl rollout undo deployment/{name}` restored revision "
            f"{self.revision_before} (version {previous})"
        )

    def save_manifest(self, version):
        """What was applied, for the record (reports/k8s-<env>.yaml)."""
        objects, _ = self.configured(version, 0)
        REPORTS_DIR.mkdir(exist_ok=True)
        (REPORTS_DIR / f"k8s-{self.env}.yaml").write_text(
            yaml.safe_dump_all(objects, sort_keys=False)
        )


def find_deployments(objects):
    """(stable, canary) Deployments by their `track` label; their pod specs must match."""
    by_track = {
        o["spec"]["template"]["metadata"]["labels"].get("track"): o
        for o in objects
        if o["kind"] == "Deployment"
    }
    if not {"stable", "canary"} <= by_track.keys():
        raise CliError("The overlay needs two Deployments, labelled track: stable and canary.")
    stable, canary = by_track["stable"], by_track["canary"]
    if stable["spec"]["template"]["spec"] != canary["spec"]["template"]["spec"]:
        raise CliError(
            f"The pod specs of {stable['metadata']['name']} and {canary['metadata']['name']} "
            "differ: a canary must run what the stable Deployment will. Make them the same "
            "in deploy/k8s (base/deployment.yaml, base/canary.yaml and the overlays)."
        )
    return stable, canary


def set_image(deployment, image, version, shadow=None):
    """The image and MODEL_VERSION; SHADOW_ALIAS when the deploy file names a shadow (the
    pod then loads it from the registry: MLFLOW_TRACKING_URI, the `mlflow` Secret)."""
    pinned = {"MODEL_VERSION": str(version), **({"SHADOW_ALIAS": shadow} if shadow else {})}
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        if container["name"] == CONTAINER:
            container["image"] = image
            env = [e for e in container.get("env", []) if e["name"] not in pinned]
            container["env"] = [*env, *({"name": k, "value": v} for k, v in pinned.items())]
            return
    raise CliError(f"Deployment {deployment['metadata']['name']} has no container {CONTAINER!r}.")


def forwarded_port(process, what, seconds):
    """The local port kubectl reports (`Forwarding from 127.0.0.1:PORT -> ...`) once it
    listens."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([process.stdout], [], [], left)[0]:
            break
        line = process.stdout.readline()
        if not line:
            raise DeployFailed(f"{what} exited: {process.stderr.read().strip()[-400:]}")
        found = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
        if found:
            return int(found.group(1))
    raise DeployFailed(
        f"{what} did not listen within {seconds} s (params.yaml `timeouts.port_forward`)"
    )
