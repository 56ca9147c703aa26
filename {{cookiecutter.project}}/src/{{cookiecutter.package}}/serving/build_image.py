"""`build-image`: bake the registered model into the serving image (Dockerfile) and build it.

The model is baked in, not fetched at start: the image digest then pins code and model
together, so the version in `deploy/<env>.yaml`, a rollback (the previous digest) and what
runs are one and the same, and a container needs no access to the MLflow registry.

Steps: resolve `models:/<name>@<alias>` (default `serve.alias`), export the pipeline to
`build/model/` (model.joblib + model.json with version and lineage tags), then
`<engine> build` with the OCI label build args. `--no-build` stops after the export and
writes the build args to reports/image.json for a CI builder of its own.
"""

import json
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import joblib

from ..config import CliError, load_params
from ..registry import git_commit
from ..reports import markdown_table, write_report
from .model_source import MODEL_INFO, MODEL_JOBLIB, RegistrySource

EXPORT_DIR = Path("build/model")


def export_model(source, out_dir=EXPORT_DIR):
    """Write the pipeline and its identity where the Dockerfile copies them from."""
    model = source.load()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    joblib.dump(model.pipeline, out_dir / MODEL_JOBLIB)
    (out_dir / MODEL_INFO).write_text(json.dumps(model.info(), indent=2, sort_keys=True) + "\n")
    return model


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


def build_command(engine, tag, args, engine_flags):
    command = [engine, "build", *engine_flags, "-t", tag, "-f", "Dockerfile"]
    for name, value in args.items():
        command += ["--build-arg", f"{name}={value}"]
    return [*command, "."]


def build_image(args):
    params = load_params()
    source = RegistrySource(
        params["registry"]["model_name"], args.alias or params["serve"]["alias"]
    )
    model = export_model(source)
    tag = args.tag or f"{model.name}:model-{model.version}"
    arguments = build_args(model, args.base_image)
    result = {"tag": tag, "model": model.describe(), "build_args": arguments, "built": False}
    if not args.no_build:
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
    ]
    rows += [(f"build arg {name}", f"`{value}`") for name, value in result["build_args"].items()]
    return "## Serving image\n\n" + markdown_table(["", ""], rows)


def add_arguments(parser):
    parser.add_argument("--alias", help="registry alias to bake in (default: serve.alias)")
    parser.add_argument("--tag", help="image tag (default <model name>:model-<version>)")
    parser.add_argument(
        "--engine",
        default="docker" if shutil.which("docker") else "podman",
        help="container engine (default docker if installed, else podman)",
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
