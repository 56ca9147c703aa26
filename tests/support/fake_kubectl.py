"""A fake `kubectl` for deploy tests: records every call and keeps a tiny cluster in a file.

    KUBECTL=<wrapper running this file> FAKE_KUBECTL_DIR=<dir> python -m pkg deploy ...

What it does, per subcommand (anything else exits 1):
- `kustomize DIR`: runs the real kubectl (REAL_KUBECTL, default `kubectl`), so the real
  overlays are rendered;
- `apply -f -` / `delete -f -`: reads the objects; Deployments keep revisions as the
  cluster does: a pod template seen before takes its old revision to the top (renumbered
  max + 1), a new one gets max + 1, an unchanged one changes nothing; the newest 10 old
  revisions are kept (revisionHistoryLimit); replicas are kept when the object has none;
- `get deployment/NAME -o=jsonpath=...revision}`: the current revision, or NotFound;
- `rollout status deployment/NAME`: success, or the progress-deadline error when NAME is in
  FAKE_KUBECTL_FAIL_ROLLOUT (comma-separated); when the current template's MODEL_VERSION is
  in FAKE_KUBECTL_HANG_VERSIONS it writes FAKE_KUBECTL_DIR/hanging and waits until killed
  (a rollout that never ends, for tests that interrupt the deploy);
- `rollout undo deployment/NAME [--to-revision=N]`: revision N (default: the one before the
  current) becomes current under a new number, as after an apply of its template;
- `scale deployment/NAME --replicas=N`;
- `port-forward -n NS TYPE/NAME [LOCAL]:REMOTE`: serves, on 127.0.0.1:LOCAL (empty: a free
  port, printed as kubectl prints it), a stand-in of the model server whose /version is
  the MODEL_VERSION of that Deployment's current template (a Service forwards to the
  Deployment of the same name). Its /predict is a fixed rule of the stand-in, not a model
  and not the smoke cases: churn "yes" below 12 months of tenure,
  else "no"; versions listed in FAKE_KUBECTL_BROKEN_VERSIONS answer the opposite. So a
  deploy test proves the verb's decisions on a server's answers, never that an image's model
  answers right (tests/test_deploy_local.py does that with real servers).

The calls are appended to FAKE_KUBECTL_DIR/calls.jsonl: {"argv": [...], "objects": [...]}
with `kind/name` (and replicas, image, MODEL_VERSION of Deployments) of any stdin manifest.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import yaml


def state_file(name: str) -> Path:
    """cluster.json or calls.jsonl in FAKE_KUBECTL_DIR (read when called: tests import this)."""
    return Path(os.environ["FAKE_KUBECTL_DIR"]) / name


def listed(variable: str) -> set[str]:
    return {item.strip() for item in os.environ.get(variable, "").split(",") if item.strip()}


def load() -> dict:
    state = state_file("cluster.json")
    return json.loads(state.read_text()) if state.exists() else {"deployments": {}}


def save(cluster: dict) -> None:
    state_file("cluster.json").write_text(json.dumps(cluster, indent=2))


def model_version(template: dict) -> str | None:
    for container in template["spec"]["containers"]:
        for item in container.get("env", []):
            if item["name"] == "MODEL_VERSION":
                return item["value"]
    return None


def summary(item: dict) -> dict:
    out = {"kind": item["kind"], "name": item["metadata"]["name"]}
    if item["kind"] == "Deployment":
        template = item["spec"]["template"]
        out.update(replicas=item["spec"].get("replicas"), version=model_version(template),
                   image=template["spec"]["containers"][0]["image"])  # fmt: skip
    if item["kind"] == "HorizontalPodAutoscaler":
        out.update(min=item["spec"]["minReplicas"], max=item["spec"]["maxReplicas"])
    return out


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)


def deployment_name(resource: str) -> str:
    kind, _, name = resource.partition("/")
    if kind not in ("deployment", "deployments", "deploy", "service", "svc"):
        fail(f"fake kubectl: unsupported resource {resource}")
    return name


HISTORY_LIMIT = 10  # a Deployment's revisionHistoryLimit default


def current(deployment: dict) -> dict:
    """The pod template of the Deployment's current (highest) revision."""
    return deployment["revisions"][str(max(map(int, deployment["revisions"])))]


def make_current(deployment: dict, template: dict) -> bool:
    """Kubernetes' revision rule; False when the template already is the current one."""
    revisions = deployment["revisions"]
    if revisions and current(deployment) == template:
        return False
    for number, seen in list(revisions.items()):
        if seen == template:  # an old ReplicaSet comes back: it moves to the top
            del revisions[number]
    top = max(map(int, revisions), default=0) + 1
    revisions[str(top)] = template
    for number in sorted(map(int, revisions))[: -(HISTORY_LIMIT + 1)]:
        del revisions[str(number)]
    return True


def apply(objects: list[dict]) -> None:
    cluster = load()
    for item in objects:
        if item["kind"] == "Deployment":
            name = item["metadata"]["name"]
            deployment = cluster["deployments"].setdefault(name, {"revisions": {}, "replicas": 1})
            make_current(deployment, item["spec"]["template"])
            if "replicas" in item["spec"]:
                deployment["replicas"] = item["spec"]["replicas"]
        print(f"{item['kind'].lower()}/{item['metadata']['name']} configured")
    save(cluster)


def delete(objects: list[dict]) -> None:
    cluster = load()
    for item in objects:
        if item["kind"] == "Deployment":
            cluster["deployments"].pop(item["metadata"]["name"], None)
        print(f"{item['kind'].lower()}/{item['metadata']['name']} deleted")
    save(cluster)


def rollout(action: str, resource: str, flags: list[str]) -> None:
    name = deployment_name(resource)
    cluster = load()
    if name not in cluster["deployments"]:
        fail(f'Error from server (NotFound): deployments.apps "{name}" not found')
    deployment = cluster["deployments"][name]
    if action == "status":
        if model_version(current(deployment)) in listed("FAKE_KUBECTL_HANG_VERSIONS"):
            state_file("hanging").write_text(name)
            signal.pause()
        if name in listed("FAKE_KUBECTL_FAIL_ROLLOUT"):
            fail(f'error: deployment "{name}" exceeded its progress deadline')
        print(f'deployment "{name}" successfully rolled out')
    elif action == "undo":
        numbers = sorted(map(int, deployment["revisions"]))
        wanted = [f for f in flags if f.startswith("--to-revision=")]
        revision = int(wanted[0].split("=", 1)[1]) if wanted else (numbers[-2:-1] or [0])[0]
        if str(revision) not in deployment["revisions"]:
            fail(f'error: unable to find specified revision {revision} in history of "{name}"')
        if make_current(deployment, deployment["revisions"][str(revision)]):
            save(cluster)
            print(f"deployment.apps/{name} rolled back")
        else:
            print(f"deployment.apps/{name} skipped rollback (current template already matches "
                  f"revision {revision})")  # fmt: skip
    else:
        fail(f"fake kubectl: unsupported rollout {action}")


def stand_in_prediction(record: dict, broken: bool) -> str:
    """The stand-in pods' fixed rule (see the module docstring)."""
    churns = float(record.get("tenure_months", 0)) < 12
    return "yes" if churns != broken else "no"


def port_forward(resource: str, ports: str) -> None:
    name = deployment_name(resource)
    deployment = load()["deployments"].get(name)
    if not deployment:
        fail(f'Error from server (NotFound): deployments.apps "{name}" not found')
    version = model_version(current(deployment))
    broken = version in listed("FAKE_KUBECTL_BROKEN_VERSIONS")

    class Handler(BaseHTTPRequestHandler):
        def answer(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            self.answer({"version": version} if self.path == "/version" else {"status": "ok"})

        def do_POST(self):  # noqa: N802
            record = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            label = stand_in_prediction(record, broken)
            self.answer({"prediction": label, "score": 0.5, "model_version": version})

        def log_message(self, *args):
            pass

    local, remote = ports.split(":")
    server = HTTPServer(("127.0.0.1", int(local or 0)), Handler)  # `:80`: a free local port
    print(f"Forwarding from 127.0.0.1:{server.server_address[1]} -> {remote}", flush=True)
    server.serve_forever()


def main(argv: list[str]) -> None:
    stdin_objects = []
    if "-f" in argv and argv[argv.index("-f") + 1] == "-":
        stdin_objects = [doc for doc in yaml.safe_load_all(sys.stdin.read()) if doc]
    with state_file("calls.jsonl").open("a") as log:
        entry = {"argv": argv, "objects": [summary(o) for o in stdin_objects]}
        log.write(json.dumps(entry) + "\n")
    words = [a for a in argv if not a.startswith("-")]
    namespace_value = argv[argv.index("-n") + 1] if "-n" in argv else None
    words = [w for w in words if w != namespace_value]
    flags = [a for a in argv if a.startswith("--")]
    match words:
        case ["kustomize", directory]:
            real = os.environ.get("REAL_KUBECTL", "kubectl")
            sys.exit(subprocess.run([real, "kustomize", directory]).returncode)
        case ["apply"]:
            apply(stdin_objects)
        case ["delete"]:
            delete(stdin_objects)
        case ["get", resource]:
            name = deployment_name(resource)
            found = load()["deployments"].get(name)
            if found is None:
                fail(f'Error from server (NotFound): deployments.apps "{name}" not found')
            print(max(map(int, found["revisions"])), end="")
        case ["rollout", action, resource]:
            rollout(action, resource, flags)
        case ["scale", resource]:
            cluster = load()
            replicas = int(next(f for f in flags if f.startswith("--replicas=")).split("=")[1])
            cluster["deployments"][deployment_name(resource)]["replicas"] = replicas
            save(cluster)
            print(f"{resource} scaled")
        case ["port-forward", resource, ports]:
            port_forward(resource, ports)
        case _:
            fail(f"fake kubectl: unsupported call {argv}")


if __name__ == "__main__":
    main(sys.argv[1:])
