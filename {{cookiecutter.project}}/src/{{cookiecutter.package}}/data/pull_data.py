"""`pull-data`: bring the DVC-tracked data into the workspace (CI, or a fresh clone).

1. `dvc pull` of the tracked files (`*.dvc`): from the local DVC cache when CI restored
   it, else from the DVC remote.
2. When that fails and the data is the bundled example, regenerate it with its seeded
   generator and accept it only if its md5 equals the one DVC recorded.
3. Otherwise fail and say why: the default remote is a local folder (`dvc-storage/`)
   that a CI runner or a colleague's laptop does not have.
"""

import hashlib
import importlib.util
import subprocess
from pathlib import Path

import yaml

from ..config import PACKAGE, CliError, load_params
from ..reports import write_report

EXAMPLE_PATH = Path("data/raw/dataset.csv")


def tracked_files():
    """The .dvc files of this project (outside hidden folders such as .dvc/ and .venv/)."""
    return sorted(
        path
        for path in Path().rglob("*.dvc")
        if not any(part.startswith(".") for part in path.parts)
    )


def recorded_md5(dvc_file):
    outs = (yaml.safe_load(dvc_file.read_text()) or {}).get("outs") or [{}]
    return outs[0].get("md5")


def md5_of(path):
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dvc_pull(targets):
    done = subprocess.run(["dvc", "pull", *map(str, targets)], capture_output=True, text=True)
    reason = _error_text(done.stderr or done.stdout) or f"exit {done.returncode}"
    return done.returncode == 0, reason


def _error_text(output):
    """DVC's ERROR paragraph on one line, without its help link."""
    lines = output.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("ERROR")), 0)
    kept = [line.strip() for line in lines[start:] if not line.startswith("<http")]
    return " ".join(kept).removeprefix("ERROR: ")


def regenerate_example(data_path):
    """True when the example generator rebuilt `data_path` byte for byte."""
    dvc_file = Path(f"{data_path}.dvc")
    module = f"{PACKAGE}.data.example"
    if Path(data_path) != EXAMPLE_PATH or not dvc_file.exists():
        return False
    if importlib.util.find_spec(module) is None:
        return False
    importlib.import_module(module).make_example().to_csv(data_path, index=False)
    if md5_of(data_path) == recorded_md5(dvc_file):
        return True
    Path(data_path).unlink()
    raise CliError(
        f"{data_path} could not be pulled, and the example generator no longer reproduces "
        f"the version in {dvc_file} (md5 differs): you changed the data, so push it to a "
        "shared DVC remote (`dvc remote add -d shared s3://bucket/path`, then `dvc push`)."
    )


def pull_data(args):
    del args
    data_path = load_params()["data"]["path"]
    targets = tracked_files()
    if not targets:
        if Path(data_path).exists():
            return report("present", f"No DVC-tracked files; {data_path} is already here.")
        raise CliError(
            f"{data_path} is missing and nothing is tracked by DVC: put the data there, "
            "`dvc add` it, and push it to a shared remote so CI can pull it."
        )
    pulled, reason = dvc_pull(targets)
    if pulled:
        return report("pulled", f"Pulled {len(targets)} DVC-tracked file(s).")
    if regenerate_example(data_path):
        return report(
            "regenerated", f"dvc pull failed ({reason}); regenerated the example data: md5 matches."
        )
    raise CliError(
        f"dvc pull failed: {reason}. The DVC remote cannot be reached from here: the default "
        "remote is the local folder dvc-storage/, which only exists on the machine that ran "
        "`dvc push`. Configure a shared remote (`dvc remote add -d shared s3://bucket/path`, "
        "credentials as CI secrets) and run `dvc push`."
    )


def report(source, message):
    """reports/pull-data.json says where the data came from (`source`: pulled, regenerated or
    present), for the setup Action; people read the message."""
    print(message)
    write_report("pull-data", {"source": source, "message": message}, f"## Data\n\n{message}")


def add_arguments(parser):
    del parser


run = pull_data
