"""Benchmark the generated `drift` verb: time and peak memory at 10k, 100k and 1M rows x 20 columns.

    make bench-drift                 # bakes build/bench-drift/churn-model first
    make bench-drift ROWS=10000,100000

The baked project is given 20 feature columns (15 numeric, 5 categorical) in params.yaml and
schema.yaml; the reference is a CSV (training data), the current data a JSON-lines prediction
log (the server's format), shifted in 3 columns. Each size runs `python -m PACKAGE drift` as a
child process with the project's shipped drift settings; wall time covers start-up, imports,
reading both files, Evidently and the reports, and peak memory is the child's ru_maxrss.
Bytecode is compiled once, before timing, into build/bench-drift/pycache (PYTHONPYCACHEPREFIX):
a machine that sets PYTHONDONTWRITEBYTECODE would otherwise recompile Evidently's hundreds of
modules on every run, which no installed deployment does.
Prints a table and ends with the line
`1M rows: S.S s, peak M MiB, growth per 10x rows: G.G`.
Not a test: machines are noisy, so read one run's ratios rather than absolute numbers.
"""

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "bench-drift"
PYCACHE = WORK / "pycache"
NUMERIC = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
SHIFTED = ["num_00", "num_01", "cat_0"]
DRIFT_EXIT = 3


def bake():
    from cookiecutter.main import cookiecutter

    shutil.rmtree(WORK / "churn-model", ignore_errors=True)
    project = Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(WORK)))
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["columns"].update(numeric=NUMERIC, categorical=CATEGORICAL, sensitive=[], ignore=[])
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    contract = {"min_rows": 1, "columns": {name: {"dtype": "float", "nullable": True}
                                           for name in NUMERIC}}  # fmt: skip
    contract["columns"] |= {name: {"dtype": "str", "nullable": False} for name in CATEGORICAL}
    (project / "schema.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    return project


def table(rows, seed, shift):
    """Continuous floats (every value distinct: the worst case), a few missing; text categories."""
    rng = np.random.default_rng(seed)
    data = {}
    for index, name in enumerate(NUMERIC):
        values = rng.gamma(2.0 + index % 4, 10.0, rows) if index % 2 else rng.normal(50, 12, rows)
        if name in SHIFTED:
            values = values + shift * values.std()
        if index % 5 == 4:
            values[rng.random(rows) < 0.02] = np.nan
        data[name] = values
    for index, name in enumerate(CATEGORICAL):
        levels = [f"level-{i}" for i in range(3 + 2 * index)]
        weights = np.linspace(1, 2, len(levels))
        if name in SHIFTED:
            weights = weights[::-1] ** (1 + shift * 4)
        data[name] = rng.choice(levels, rows, p=weights / weights.sum())
    return pd.DataFrame(data)


def write_inputs(rows, folder):
    folder.mkdir(parents=True, exist_ok=True)
    reference, current = folder / f"reference-{rows}.csv", folder / f"current-{rows}.jsonl"
    if not reference.exists():
        table(rows, seed=1, shift=0.0).to_csv(reference, index=False)
    if not current.exists():
        frame = table(rows, seed=2, shift=0.5)
        frame["_ts"], frame["_model_version"], frame["_score"] = "2026-11-25T10:00:00Z", "3", 0.5
        frame["_prediction"] = "no"
        frame.to_json(current, orient="records", lines=True)
    return reference, current


def child_env(project):
    env = dict(os.environ, PYTHONPATH=str(project / "src"), PYTHONPYCACHEPREFIX=str(PYCACHE))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def startup_seconds(project):
    """Wall time of a child that only imports what `drift` imports: the fixed cost per run."""
    package = next(p.parent.name for p in (project / "src").glob("*/cli.py"))
    code = f"import evidently.presets, pyarrow.csv, pyarrow.json, {package}.monitoring.drift"
    env = child_env(project)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=project, env=env, check=True)
    return time.perf_counter() - started


def run_drift(project, reference, current):
    """(seconds, peak MiB, exit code, what it printed) of one `drift` child process."""
    package = next(p.parent.name for p in (project / "src").glob("*/cli.py"))
    env = child_env(project)
    command = [sys.executable, "-m", package, "drift", "--reference", str(reference),
               "--current", str(current)]  # fmt: skip
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=project, env=env, stdout=out, stderr=out, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, not all children's
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        said = out.read().strip()
    if child.returncode not in (0, DRIFT_EXIT):
        sys.exit(f"drift failed on {reference.name} / {current.name}:\n{said}")
    return seconds, usage.ru_maxrss / 1024, child.returncode, said


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000")
    parser.add_argument("--write", type=int, help=argparse.SUPPRESS)  # inputs of one size
    args = parser.parse_args()
    if args.write:
        return write_inputs(args.write, WORK / "data")
    sizes = [int(rows) for rows in args.rows.split(",")]
    project = bake()
    print(f"baked {project}; compiling bytecode, writing the inputs (not timed) ...", flush=True)
    startup_seconds(project)  # warm-up: compiles the imported modules into PYCACHE
    results = []
    for rows in sizes:
        # In a child: a child's ru_maxrss starts from its parent's (fork), so keep this one small.
        subprocess.run([sys.executable, __file__, "--write", str(rows)], check=True)
        reference, current = write_inputs(rows, WORK / "data")
        seconds, peak, code, said = run_drift(project, reference, current)
        results.append((rows, seconds, peak, code))
        print(f"  {rows:>9,} rows: {said}", flush=True)
    startup = startup_seconds(project)
    print(f"\nstart-up (interpreter and imports, paid once per run): {startup:.1f} s")
    print(f"{'rows':>10} {'seconds':>8} {'work s':>7} {'peak MiB':>9} {'rows/s':>10} {'exit':>5}")
    for rows, seconds, peak, code in results:
        work = max(seconds - startup, 0.0)
        print(f"{rows:>10,} {seconds:>8.1f} {work:>7.1f} {peak:>9.0f} {rows / seconds:>10,.0f}"
              f" {code:>5}")  # fmt: skip
    if len(results) > 1:
        worked = [(rows, max(seconds - startup, 1e-3), 0, 0) for rows, seconds, *_ in results]
        print(f"growth per 10x rows of the work after start-up: {_growth(worked):.1f}")
    (rows, seconds, peak, _), growth = results[-1], _growth(results)
    label = "1M" if rows == 1_000_000 else f"{rows:,}"
    print(f"{label} rows: {seconds:.1f} s, peak {peak:.0f} MiB, growth per 10x rows: {growth:.1f}")


def _growth(results):
    """Time ratio per tenfold rows between the two largest sizes (10.0 is linear); 1.0 with
    one size."""
    if len(results) < 2:
        return 1.0
    (small, small_s, *_), (large, large_s, *_) = results[-2], results[-1]
    return (large_s / small_s) ** (1 / math.log10(large / small))


if __name__ == "__main__":
    main()
