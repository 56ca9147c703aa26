"""Prune what the chosen options do not use, record the template, start git, print next steps."""

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
PACKAGE = ANSWERS["package"]

# option -> value -> paths that value does not use
UNUSED = {
    "dataset": {
        "custom": [
            "data/raw/dataset.csv",
            "data/raw/dataset.csv.dvc",
            "schema.yaml",
            f"src/{PACKAGE}/data/example.py",
            "tests/unit/test_example_data.py",
        ],
    },
    "deploy_target": {
        "local": [
            "deploy/k8s",
            f"src/{PACKAGE}/monitoring/alert_rules.py",
            "tests/unit/test_alert_rules.py",
        ],
    },
    "license": {"Proprietary": ["LICENSE"]},
}


TASKS = ("binary_classification", "multiclass_classification", "regression")


def pick_example_data():
    """The template bundles one example CSV per task; the project keeps its task's, as the
    dataset.csv that dataset.csv.dvc tracks (the binary one already has that name)."""
    raw = Path("data/raw")
    for task in TASKS:
        path = raw / f"dataset.{task}.csv"
        if not path.exists():
            continue
        if task == ANSWERS["task"] and ANSWERS["dataset"] == "example":
            path.replace(raw / "dataset.csv")
        else:
            path.unlink()


def prune_unused_files():
    for option, by_value in UNUSED.items():
        for relative in by_value.get(ANSWERS[option], []):
            path = Path(relative)
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


def record_template_source():
    """Write .cruft.json (cruft's format): template, commit and answers, read by template-sync.

    Cookiecutter gives the template's local folder as `_repo_dir`: its clone of a URL, or the
    folder a user named (relative to the shell they ran cookiecutter in, hence PWD). When that
    folder is a git checkout, its origin (or its path) and HEAD are what was baked.
    """
    if "_repo_dir" not in ANSWERS:  # rendered by cruft itself, which writes .cruft.json
        return
    folder = Path(os.environ.get("PWD", "."), ANSWERS["_repo_dir"])

    def git(*args):
        if shutil.which("git") is None or not folder.is_dir():
            return None
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    tracked = git("ls-files", "--error-unmatch", "cookiecutter.json") is not None
    commit = git("rev-parse", "HEAD") if tracked else None
    template = git("remote", "get-url", "origin") or git("rev-parse", "--show-toplevel")
    if commit is None:
        given = Path(os.environ.get("PWD", "."), ANSWERS["_template"])  # a folder or a zip
        template = str(given.resolve()) if given.is_dir() else ANSWERS["_template"]
        print("Note: the template is not a git checkout, so .cruft.json records no commit;")
        print("template-sync cannot update this repo until you fill in template and commit.")
    elif git("status", "--porcelain", "--untracked-files=no"):
        print(f"Note: the template had uncommitted changes; .cruft.json records {commit[:12]}.")
    answers = {key: value for key, value in ANSWERS.items() if not key.startswith("_")}
    state = {
        "template": template,
        "commit": commit,
        "checkout": ANSWERS.get("_checkout"),
        "context": {"cookiecutter": {**answers, "_template": template}},
        "directory": (git("rev-parse", "--show-prefix") or "").rstrip("/") or None,
        "skip": [],
    }
    Path(".cruft.json").write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")


def write_prometheus_rule():
    """The kubernetes target's PrometheusRule, written by the project's own `alert-rules` code
    from monitoring/prometheus/rules.yml (PyYAML only, which cookiecutter has too)."""
    if ANSWERS["deploy_target"] != "kubernetes":
        return
    import importlib
    import sys

    sys.path.insert(0, "src")
    sys.dont_write_bytecode = True  # no __pycache__ left in the new project
    try:
        importlib.import_module(f"{PACKAGE}.monitoring.alert_rules").write(ANSWERS["project"])
    finally:
        sys.path.remove("src")


def init_git_repository():
    """The project is a repository of its own (DVC, workflows), even when baked inside another."""
    if shutil.which("git") is None or Path(".git").exists():
        return
    subprocess.run(["git", "init", "--quiet", "--initial-branch", "main"], check=True)


def project_path_from_shell():
    """How the user's shell reaches the project: relative when below it, else absolute.

    The hook runs inside the project; PWD is still the folder cookiecutter was started in,
    which is not the project's parent when `--output-dir` wrote it elsewhere."""
    here = Path.cwd()
    shell = Path(os.environ.get("PWD", here.parent)).resolve()
    relative = os.path.relpath(here, shell)
    return shlex.quote(str(here) if relative.startswith("..") else relative)


def print_next_steps():
    steps = [f"cd {project_path_from_shell()}", "make setup"]
    if ANSWERS["dataset"] == "custom":
        steps += [
            "cp /path/to/your.csv data/raw/dataset.csv",
            "make schema      # review schema.yaml and the columns in params.yaml",
            "dvc add data/raw/dataset.csv",
        ]
    steps += [
        "make pipeline    # dvc repro, then register the model in MLflow",
        "make test",
        'git add -A && git commit -m "Start from cookiecutter-mlops-gitops"',
    ]
    print("\nNext steps:\n" + "\n".join(f"  {step}" for step in steps) + "\n")


if __name__ == "__main__":
    pick_example_data()
    prune_unused_files()
    write_prometheus_rule()
    record_template_source()
    init_git_repository()
    print_next_steps()
