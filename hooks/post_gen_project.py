"""Prune what the chosen options do not use, start a git repository, print the next steps."""

import json
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
            f"src/{PACKAGE}/example_data.py",
            "tests/unit/test_example_data.py",
        ],
    },
    "deploy_target": {"local": ["deploy/k8s"]},
    "license": {"Proprietary": ["LICENSE"]},
}


def prune_unused_files():
    for option, by_value in UNUSED.items():
        for relative in by_value.get(ANSWERS[option], []):
            path = Path(relative)
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


def init_git_repository():
    """DVC needs git; skip when git is missing or the project sits inside another repository."""
    if shutil.which("git") is None:
        return
    inside = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True
    )
    if inside.returncode != 0:
        subprocess.run(["git", "init", "--quiet", "--initial-branch", "main"], check=True)


def print_next_steps():
    steps = [f"cd {ANSWERS['project']}", "make setup"]
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
    prune_unused_files()
    init_git_repository()
    print_next_steps()
