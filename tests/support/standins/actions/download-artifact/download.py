"""download-artifact stand-in: copy $STANDIN_ARTIFACTS/<name>/ (or every artifact, each into
a folder of its name) to the destination, as the real Action unzips them."""

import os
import shutil
import sys
from pathlib import Path


def fail(message):
    print(f"::error::{message}")
    sys.exit(1)


def download():
    store = Path(os.environ.get("STANDIN_ARTIFACTS") or fail("STANDIN_ARTIFACTS is not set."))
    dest = Path(os.environ.get("GITHUB_WORKSPACE", ".")) / (os.environ.get("DEST") or ".")
    name = os.environ.get("NAME", "")
    if name:
        if not (store / name).is_dir():
            fail(f"Unable to download artifact(s): Artifact not found for name: {name}")
        shutil.copytree(store / name, dest, dirs_exist_ok=True)
    else:
        for source in sorted(store.iterdir()):
            shutil.copytree(source, dest / source.name, dirs_exist_ok=True)
    with open(os.environ["GITHUB_OUTPUT"], "a") as out:
        out.write(f"download-path={dest.resolve()}\n")


if __name__ == "__main__":
    download()
