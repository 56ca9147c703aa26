"""The cache/restore and cache/save stand-ins: one tar file per key in the folder STANDIN_CACHE.

    python3 store.py restore   # KEY, RESTORE_KEYS, CACHE_PATHS, FAIL_ON_MISS, LOOKUP_ONLY
    python3 store.py save      # KEY, CACHE_PATHS

Paths are relative to the workspace, as actions/cache takes them; GNU tar keeps symlinks and
modes, as actions/cache's tar does. The first save of a key wins, later ones are refused, as
GitHub refuses them.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def entries(store: Path) -> list[tuple[float, str, Path]]:
    """(saved at, key, tar) of every stored entry, newest first."""
    found = []
    for meta in store.glob("*.json"):
        record = json.loads(meta.read_text())
        found.append((record["saved"], record["key"], meta.with_suffix(".tar")))
    return sorted(found, reverse=True)


def tar_of(store: Path, key: str) -> Path:
    return store / (hashlib.sha256(key.encode()).hexdigest() + ".tar")


def set_output(name: str, value: str) -> None:
    with open(os.environ["GITHUB_OUTPUT"], "a") as out:
        out.write(f"{name}={value}\n")


def restore(store: Path | None, workspace: Path) -> int:
    key = os.environ["KEY"]
    prefixes = [k.strip() for k in os.environ.get("RESTORE_KEYS", "").splitlines() if k.strip()]
    stored = entries(store) if store and store.is_dir() else []
    match = next((e for e in stored if e[1] == key), None)
    for prefix in prefixes:
        match = match or next((e for e in stored if e[1].startswith(prefix)), None)
    if match is None:
        print(f"Cache not found for input keys: {', '.join([key, *prefixes])}")
        set_output("cache-hit", "false")
        if os.environ.get("FAIL_ON_MISS") == "true":
            print("Failed to restore cache entry. Exiting as fail-on-cache-miss is set.")
            return 1
        return 0
    if os.environ.get("LOOKUP_ONLY") != "true":
        subprocess.run(["tar", "-xf", str(match[2]), "-C", str(workspace)], check=True)
    print(f"Cache restored from key: {match[1]}")
    set_output("cache-hit", str(match[1] == key).lower())
    set_output("cache-matched-key", match[1])
    return 0


def save(store: Path | None, workspace: Path) -> int:
    key = os.environ["KEY"]
    if store is None:
        print("Cache not saved: the harness gave no STANDIN_CACHE.")
        return 0
    store.mkdir(parents=True, exist_ok=True)
    target = tar_of(store, key)
    if target.exists():
        print(f"Failed to save: Unable to reserve cache with key {key}, another job may be "
              "creating this cache.")  # fmt: skip
        return 0
    paths = [p.strip() for p in os.environ["CACHE_PATHS"].splitlines() if p.strip()]
    paths = [path for path in paths if (workspace / path).exists()]
    if not paths:
        print("Path Validation Error: no path given exists, hence no cache is being saved.")
        return 0
    handle, part = tempfile.mkstemp(dir=store, suffix=".part")
    os.close(handle)
    # Exit 1 is GNU tar's "a file changed as we read it": here a file's ctime, when another
    # job's uv hard-links the same file of uv's cache into its own .venv; the bytes are whole.
    done = subprocess.run(["tar", "-cf", part, "-C", str(workspace), "--", *paths])
    if done.returncode not in (0, 1):
        os.unlink(part)
        # actions/cache/save warns and goes on: a cache that cannot be saved fails no job.
        print(f"::warning::Failed to save: tar exited {done.returncode}")
        return 0
    os.replace(part, target)
    meta = {"key": key, "saved": os.path.getmtime(target)}
    target.with_suffix(".json").write_text(json.dumps(meta))
    print(f"Cache saved with key: {key}")
    return 0


if __name__ == "__main__":
    folder = os.environ.get("STANDIN_CACHE")
    store = Path(folder) if folder else None
    workspace = Path(os.environ.get("GITHUB_WORKSPACE", "."))
    sys.exit({"restore": restore, "save": save}[sys.argv[1]](store, workspace))
