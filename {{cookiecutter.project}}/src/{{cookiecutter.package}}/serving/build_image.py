"""`build-image`: bake the registered model into the serving image (Dockerfile) and build it.

The model is baked in, not fetched at start: the image digest then pins code and model
together, so the version in `deploy/<env>.yaml`, a rollback (the previous digest) and what
runs are one and the same, and a container needs no access to the MLflow registry.

Steps: resolve `models:/<name>@<alias>` (default `serve.alias`), export the pipeline to
`build/model/` (model.joblib + model.json with version and lineage tags) with the CycloneDX
SBOM of the image's Python environment (sbom.cdx.json, from requirements-serve.lock, which
the Dockerfile installs with hashes; cyclonedx-bom, offline), then `<engine> build` with
the OCI label build args. The SBOM is copied into the image with the model, so every image
carries its own. `--no-build` stops after the export and writes the build args to
reports/image.json for a CI builder of its own.
"""

import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import joblib

from ..config import CliError, load_params
from ..registry import git_commit
from ..reports import markdown_table, write_report
from .model_source import MODEL_INFO, MODEL_JOBLIB, RegistrySource

EXPORT_DIR = Path("build/model")
SBOM = "sbom.cdx.json"
SERVE_LOCK = Path("requirements-serve.lock")  # what the Dockerfile installs


def export_model(source, out_dir=EXPORT_DIR):
    """Write the pipeline and its identity where the Dockerfile copies them from."""
    model = source.load()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    joblib.dump(model.pipeline, out_dir / MODEL_JOBLIB)
    (out_dir / MODEL_INFO).write_text(json.dumps(model.info(), indent=2, sort_keys=True) + "\n")
    return model


def write_sbom(out_dir=EXPORT_DIR):
    """The image environment's CycloneDX SBOM, from the lock the image installs."""
    command = [sys.executable, "-m", "cyclonedx_py", "requirements", "--pyproject",
               "pyproject.toml", "--output-reproducible", "--no-validate",
               "-o", str(out_dir / SBOM), str(SERVE_LOCK)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise CliError(f"the SBOM of {SERVE_LOCK} could not be written: {done.stderr.strip()}")
    return out_dir / SBOM


def git_remote():
    done = subprocess.run(["git", "remote", "get-url", "origin"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def build_args(model, base_image):
    args = {
        "SOURCE": git_remote(),
        "REVISION": git_commit(),
        "MODEL_NAME": model.name,
        "MODEL_VERSION": model.version,
    }
    if base_image:
        args["BASE_IMAGE"] = base_image
    return args


ENGINES = ("docker", "podman")


def choose_engine():
    """The first engine that answers, not merely the first installed: a `docker` binary
    whose daemon is not running would fail the build after the model export."""
    tried = []
    for engine in ENGINES:
        if shutil.which(engine) is None:
            continue
        try:
            done = subprocess.run([engine, "info"], capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            tried.append(f"`{engine} info` did not answer in 20 s")
            continue
        if done.returncode == 0:
            return engine
        tried.append(f"`{engine} info` failed ({_first_line(done.stderr or done.stdout)})")
    if not tried:
        raise CliError("no container engine found: install podman or docker, or pass --engine.")
    raise CliError(f"no container engine answers: {'; '.join(tried)}. Start one, or pass --engine.")


def _first_line(text):
    return next((line.strip() for line in text.splitlines() if line.strip()), "no output")


def build_command(engine, tag, args, engine_flags):
    flags = list(engine_flags)
    # podman builds OCI images by default, and the OCI format has no HEALTHCHECK: podman drops
    # the Dockerfile's with a warning. The docker format keeps it.
    if Path(engine).name == "podman" and not any(f.startswith("--format") for f in flags):
        flags.append("--format=docker")
    command = [engine, "build", *flags, "-t", tag, "-f", "Dockerfile"]
    for name, value in args.items():
        command += ["--build-arg", f"{name}={value}"]
    return [*command, "."]


def build_image(args):
    params = load_params()
    source = RegistrySource(
        params["registry"]["model_name"], args.alias or params["serve"]["alias"]
    )
    model = export_model(source)
    sbom = write_sbom()
    tag = args.tag or f"{model.name}:model-{model.version}"
    arguments = build_args(model, args.base_image)
    result = {"tag": tag, "model": model.describe(), "build_args": arguments, "built": False,
              "sbom": str(sbom)}  # fmt: skip
    if not args.no_build:
        args.engine = args.engine or choose_engine()
        command = build_command(args.engine, tag, arguments, args.engine_flag)
        print("+", shlex.join(command), flush=True)
        start = time.monotonic()
        try:
            done = subprocess.run(command)
        except FileNotFoundError:
            raise CliError(
                f"{args.engine} is not installed: pass --engine podman (or docker)."
            ) from None
        if done.returncode != 0:
            raise CliError(f"`{args.engine} build` failed (exit {done.returncode}); see above.")
        result.update(built=True, build_seconds=round(time.monotonic() - start, 1))
    write_report("image", result, _markdown(result))
    print(f"{'Built' if result['built'] else 'Exported for'} {tag}: {model.name} version "
          f"{model.version} baked in ({EXPORT_DIR}).")  # fmt: skip


def _markdown(result):
    rows = [
        ("image", f"`{result['tag']}`"),
        ("model", result["model"]["name"]),
        ("model version", result["model"]["version"]),
        ("built", f"{result['build_seconds']} s" if result["built"] else "no (export only)"),
        ("SBOM (CycloneDX, in the image too)", f"`{result['sbom']}`"),
    ]
    rows += [(f"build arg {name}", f"`{value}`") for name, value in result["build_args"].items()]
    return "## Serving image\n\n" + markdown_table(["", ""], rows)


def add_arguments(parser):
    parser.add_argument("--alias", help="registry alias to bake in (default: serve.alias)")
    parser.add_argument("--tag", help="image tag (default <model name>:model-<version>)")
    parser.add_argument(
        "--engine",
        help="container engine (default: docker if its daemon answers, else podman if it does)",
    )
    parser.add_argument("--base-image", help="BASE_IMAGE build arg (default: the Dockerfile's)")
    parser.add_argument(
        "--engine-flag",
        action="append",
        default=[],
        metavar="FLAG",
        help="extra flag for `ENGINE build`, e.g. --engine-flag=--pull=never",
    )
    parser.add_argument(
        "--no-build",
        action="store_true",
        help="only export the model to build/model and report the build args",
    )


run = build_image
