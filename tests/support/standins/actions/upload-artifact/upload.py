"""upload-artifact stand-in: copy the files into $STANDIN_ARTIFACTS/<name>/, laid out from
the paths' common folder as the real Action zips them."""

import glob
import hashlib
import os
import shutil
import sys
from pathlib import Path


def fail(message):
    print(f"::error::{message}")
    sys.exit(1)


def search_root(pattern):
    """The folder a path or pattern starts from, as upload-artifact computes it."""
    parts = Path(pattern).parts
    for i, part in enumerate(parts):
        if set(part) & set("*?["):
            return Path(*parts[:i])
    path = Path(pattern)
    return path if path.is_dir() else path.parent


def matches(pattern):
    for match in map(Path, glob.glob(pattern, recursive=True)):
        yield from (p for p in match.rglob("*") if p.is_file()) if match.is_dir() else [match]


def upload():
    store = Path(os.environ.get("STANDIN_ARTIFACTS") or fail("STANDIN_ARTIFACTS is not set."))
    workspace = Path(os.environ.get("GITHUB_WORKSPACE", "."))
    name = os.environ["NAME"]
    lines = [line.strip() for line in os.environ["PATHS"].splitlines() if line.strip()]
    patterns = [str(workspace / line) for line in lines]
    root = Path(os.path.commonpath([search_root(p).resolve() for p in patterns]))
    files = sorted({path.resolve() for pattern in patterns for path in matches(pattern)})
    if os.environ.get("HIDDEN") != "true":  # v4.4+ leaves out dot files unless asked
        files = [f for f in files if not any(p.startswith(".") for p in f.relative_to(root).parts)]
    if not files:
        message = f"No files were found with the provided path: {' '.join(lines)}."
        mode = os.environ.get("IF_NO_FILES", "warn")
        if mode == "error":
            fail(message)
        print(f"::warning::{message} No artifacts will be uploaded." if mode == "warn" else message)
        return
    target = store / name
    if target.exists():
        if os.environ.get("OVERWRITE") != "true":
            fail(f"An artifact with this name already exists on the workflow run: {name}")
        shutil.rmtree(target)
    digest = hashlib.sha256()
    for path in files:
        relative = path.relative_to(root)
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / relative)
        digest.update(str(relative).encode() + path.read_bytes())
    with open(os.environ["GITHUB_OUTPUT"], "a") as out:
        out.write(f"artifact-id={len(list(store.iterdir()))}\n")
        out.write(f"artifact-digest={digest.hexdigest()}\n")
    print(f"Artifact {name}: {len(files)} file(s) stored in {target}.")


if __name__ == "__main__":
    upload()
