"""The build-image Action: the flags it gives buildx (a recorded `docker`). Real builds with
podman behind the same flags run in the generated workflows under act
(tests/test_workflows_act.py: ci.yml's image job, cd.yml's release job)."""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.support.action_helpers import (
    ACTIONS,
    UsesRecorder,
)
from tests.support.action_runner import run_action

FAKE_DOCKER = """#!{python}
# Records the call, then answers like buildx: a metadata file with the image digest.
import hashlib, json, sys
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps(args) + "\\n")
digest = "sha256:" + hashlib.sha256(" ".join(args).encode()).hexdigest()
with open(args[args.index("--metadata-file") + 1], "w") as meta:
    json.dump({{"containerimage.digest": digest}}, meta)
"""


def fake_docker(tmp_path):
    """A recorded `docker` on PATH: returns (env, log file)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "docker-calls.jsonl"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER.format(python=sys.executable, log=str(log)))
    (bin_dir / "docker").chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, log


def build_uses():
    def upload(with_):  # relative to the workspace; the tests check the file is there
        assert with_["name"] == "sbom" and with_["path"].endswith("sbom.cdx.json")
        return {}

    return UsesRecorder({"docker/setup-buildx-action": {}, "docker/login-action": {},
                         "actions/upload-artifact": upload})  # fmt: skip


GITHUB = {"repository": "Octo-Org/Churn-Model", "sha": "c0ffee" + "0" * 34, "actor": "octocat",
          "token": "ghs_fake"}  # fmt: skip


def test_build_image_builds_labels_and_loads_without_pushing(tmp_path):
    env, log = fake_docker(tmp_path)
    uses = build_uses()
    result = run_action(ACTIONS / "build-image", {"model-version": "7", "tags": "pr-12, latest"},
                        cwd=tmp_path, env=env, github=GITHUB, uses=uses)  # fmt: skip
    assert not result.failed, result.log
    (args,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert args[:2] == ["buildx", "build"] and args[-1] == "."
    assert "--load" in args and "--push" not in args
    labels = {args[i + 1] for i, arg in enumerate(args) if arg == "--label"}
    assert f"org.opencontainers.image.revision={GITHUB['sha']}" in labels
    assert "org.opencontainers.image.version=7" in labels
    assert "ai.mlops.model.version=7" in labels
    assert "org.opencontainers.image.source=https://github.com/Octo-Org/Churn-Model" in labels
    tags = [args[i + 1] for i, arg in enumerate(args) if arg == "--tag"]
    assert tags == ["ghcr.io/octo-org/churn-model:pr-12", "ghcr.io/octo-org/churn-model:latest"]
    digest = result.outputs["digest"]
    assert digest.startswith("sha256:") and len(digest) == 71
    assert result.outputs["image"] == f"ghcr.io/octo-org/churn-model@{digest}"
    assert uses.called("docker/login-action") == [], "no login when not pushing"
    assert f"| digest | `{digest}` |" in result.summary
    assert "| pushed | false |" in result.summary


def test_build_image_pushes_only_when_asked(tmp_path):
    env, log = fake_docker(tmp_path)
    uses = build_uses()
    result = run_action(ACTIONS / "build-image", {"push": "true"}, cwd=tmp_path, env=env,
                        github=GITHUB, uses=uses)  # fmt: skip
    assert not result.failed, result.log
    args = json.loads(log.read_text())
    assert "--push" in args and "--load" not in args
    assert f"ghcr.io/octo-org/churn-model:{GITHUB['sha']}" in args  # default tag: the commit
    assert "org.opencontainers.image.version=unregistered" in args
    assert uses.called("docker/login-action") == [
        {"registry": "ghcr.io", "username": "octocat", "password": "ghs_fake"}
    ]


def test_build_image_takes_the_build_args_the_project_exported(tmp_path):
    """`build-image --no-build` (the project's verb) wrote reports/image.json: use it."""
    env, log = fake_docker(tmp_path)
    (tmp_path / "reports").mkdir()
    report = {"build_args": {"MODEL_NAME": "churn-model", "MODEL_VERSION": "4",
                             "REVISION": "abc123-dirty", "SOURCE": ""},
              "sbom": "build/model/sbom.cdx.json"}  # fmt: skip
    (tmp_path / "reports/image.json").write_text(json.dumps(report))
    (tmp_path / "build/model").mkdir(parents=True)
    (tmp_path / "build/model/sbom.cdx.json").write_text("{}")
    uses = build_uses()
    result = run_action(ACTIONS / "build-image", {}, cwd=tmp_path, env=env, github=GITHUB,
                        uses=uses)  # fmt: skip
    assert not result.failed, result.log
    # The SBOM the verb wrote is the Action's output and is attached to the run.
    assert result.outputs["sbom"] == "build/model/sbom.cdx.json"
    assert uses.called("actions/upload-artifact")[0]["path"] == "build/model/sbom.cdx.json"
    args = json.loads(log.read_text())
    build_args = [args[i + 1] for i, arg in enumerate(args) if arg == "--build-arg"]
    assert "MODEL_NAME=churn-model" in build_args
    # The commit of the workflow run wins over the (dirty) one the export saw: last one counts.
    revisions = [a for a in build_args if a.startswith("REVISION=")]
    assert revisions[-1] == f"REVISION={GITHUB['sha']}"
    assert "org.opencontainers.image.version=4" in args
    assert "| model version | 4 |" in result.summary


@pytest.mark.parametrize("push", ["false", "true"])
def test_build_image_never_outputs_an_image_id_as_a_pullable_reference(tmp_path, push):
    """A builder that reports only the config digest (podman, some buildx drivers on --load):
    `image` stays empty, and a push without a manifest digest fails."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(
        '#!/bin/sh\nwhile [ "$1" != --metadata-file ]; do shift; done\n'
        'echo \'{"containerimage.config.digest": "sha256:' + "c" * 64 + '"}\' > "$2"\n'
    )
    (bin_dir / "docker").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = run_action(ACTIONS / "build-image", {"push": push}, cwd=tmp_path, env=env,
                        github=GITHUB, uses=build_uses())  # fmt: skip
    if push == "true":
        assert result.failed
        assert "no reference a registry can serve" in result.step("build").stderr
        return
    assert not result.failed, result.log
    assert (result.outputs["image"], result.outputs["digest"]) == ("", "")
    assert result.outputs["image-id"] == "sha256:" + "c" * 64


def test_build_image_failure_fails_the_step(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text("#!/bin/sh\necho 'ERROR: failed to solve' >&2\nexit 1\n")
    (bin_dir / "docker").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = run_action(ACTIONS / "build-image", {}, cwd=tmp_path, env=env, github=GITHUB,
                        uses=build_uses())  # fmt: skip
    assert result.failed
    assert "failed to solve" in result.step("build").stderr
    assert "digest" not in result.step("build").outputs
