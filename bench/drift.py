"""Benchmark the generated `drift` verb: time and peak memory at 10k to 10M rows x 20 columns.

    make bench-drift                 # bakes build/bench-drift/churn-model first
    make bench-drift ROWS=10000,100000

The baked project is given 20 feature columns (15 numeric, 5 categorical) in params.yaml and
schema.yaml; the reference is a CSV (training data), the current data a prediction log as the
server writes it to a URL: a folder of Parquet parts (1M rows each), read here through a
file:// URL, shifted in 3 columns. Each size runs `python -m PACKAGE drift` as a child process
with the project's shipped drift settings (drift.engine: stream); wall time covers start-up,
imports, reading both sides, the comparison, Evidently's report and the reports, and peak
memory is the child's ru_maxrss. The baseline, in the same run on the same files, is
drift.engine: memory (both sides in pandas, every row through Evidently: the verb before the
stream engine), at sizes up to BASELINE_ROWS (beyond, it needs more memory than the goal).
Bytecode is compiled once, before timing, into build/bench-drift/pycache (PYTHONPYCACHEPREFIX):
a machine that sets PYTHONDONTWRITEBYTECODE would otherwise recompile Evidently's hundreds of
modules on every run, which no installed deployment does.
Prints a table, the goals met or not, and the ratios to the baseline.
Not a test: machines are noisy, so read one run's ratios rather than absolute numbers.
"""

import argparse
import json
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
import pyarrow as pa
import pyarrow.csv as pa_csv
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "bench-drift"
PYCACHE = WORK / "pycache"
NUMERIC = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
SHIFTED = ["num_00", "num_01", "cat_0"]
DRIFT_EXIT = 3
CHUNK = 1_000_000  # rows written at a time, and rows per Parquet part of the current log
BASELINE_ROWS = 1_000_000
GOALS = {1_000_000: 10.0, 10_000_000: 60.0}  # seconds end to end
PEAK_GOAL_MIB = 2048  # at 10M rows


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


def chunks(rows, seed, shift):
    for start in range(0, rows, CHUNK):
        yield table(min(CHUNK, rows - start), seed=(seed, start), shift=shift)


def write_inputs(rows, folder):
    """(reference CSV, current log folder), written once per size (a done-marker per side)."""
    folder.mkdir(parents=True, exist_ok=True)
    reference, current = folder / f"reference-{rows}.csv", folder / f"current-{rows}"
    if not (folder / f"reference-{rows}.done").exists():
        writer = None
        for frame in chunks(rows, seed=1, shift=0.0):
            batch = pa.Table.from_pandas(frame, preserve_index=False)
            writer = writer or pa_csv.CSVWriter(reference, batch.schema)
            writer.write_table(batch)
        writer.close()
        (folder / f"reference-{rows}.done").touch()
    if not (folder / f"current-{rows}.done").exists():
        shutil.rmtree(current, ignore_errors=True)
        current.mkdir()
        for index, frame in enumerate(chunks(rows, seed=2, shift=0.5)):
            hour = f"20261125T{index % 24:02d}0000"  # parts named as the server names them
            frame["_ts"], frame["_model_version"] = "2026-11-25T10:00:00Z", "3"
            frame["_score"], frame["_prediction"] = 0.5, "no"
            frame.to_parquet(current / f"part-{hour}-{index:05d}.parquet", index=False)
        (folder / f"current-{rows}.done").touch()
    return reference, current


def set_engine(project, engine):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["drift"]["engine"] = engine
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


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
               "--current", f"file://{current}"]  # fmt: skip
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
    verdict = json.loads((project / "reports" / "drift.json").read_text())
    said += f" [Evidently report: {verdict['report']['evidently']}]"
    return seconds, usage.ru_maxrss / 1024, child.returncode, said, verdict


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000,10000000")
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
        found = {}
        for engine in ("stream", "memory") if rows <= BASELINE_ROWS else ("stream",):
            set_engine(project, engine)
            *found[engine], said, verdict = run_drift(project, reference, current)
            found[engine].append(verdict)
            print(f"  {rows:>10,} rows, {engine:<6}: {said}", flush=True)
        results.append((rows, found))
    set_engine(project, "stream")
    report(results, startup_seconds(project))


def report(results, startup):
    print(
        f"\nstart-up (interpreter and every import, in one process): {startup:.1f} s; the "
        "command imports Evidently in a child process beside its own work, so 'work s' "
        "(seconds minus start-up) understates the work"
    )
    heads = [("rows", 10), ("seconds", 8), ("work s", 7), ("peak MiB", 9), ("rows/s", 10),
             ("exit", 5), ("memory s", 9), ("memory MiB", 10), ("time x", 7), ("peak x", 7),
             ("same", 5)]  # fmt: skip
    print(" ".join(f"{head:>{width}}" for head, width in heads))
    for rows, found in results:
        seconds, peak, code, verdict = found["stream"]
        line = (f"{rows:>10,} {seconds:>8.1f} {max(seconds - startup, 0):>7.1f} {peak:>9.0f}"
                f" {rows / seconds:>10,.0f} {code:>5}")  # fmt: skip
        if "memory" in found:
            base_s, base_peak, base_code, base = found["memory"]
            same = base_code == code and base["drifted_columns"] == verdict["drifted_columns"]
            line += (f" {base_s:>9.1f} {base_peak:>10.0f} {seconds / base_s:>7.2f}"
                     f" {peak / base_peak:>7.2f} {'yes' if same else 'NO':>5}")  # fmt: skip
        print(line)
    stream = [(rows, found["stream"][0]) for rows, found in results]
    if len(stream) > 1:
        worked = [(rows, max(seconds - startup, 1e-3)) for rows, seconds in stream]
        print(
            f"growth per 10x rows ({stream[-2][0]:,} to {stream[-1][0]:,}; 10.0 is linear): "
            f"end to end {_growth(stream):.1f}, work after start-up {_growth(worked):.1f}"
        )
    for rows, found in results:
        if rows in GOALS:
            seconds = found["stream"][0]
            met = "met" if seconds <= GOALS[rows] else "NOT met"
            print(f"{rows:,} rows: {seconds:.1f} s end to end (goal <= {GOALS[rows]:.0f} s: {met})")
        if rows == max(GOALS):
            peak = found["stream"][1]
            met = "met" if peak <= PEAK_GOAL_MIB else "NOT met"
            print(f"{rows:,} rows: peak {peak:.0f} MiB (goal <= {PEAK_GOAL_MIB} MiB: {met})")
    compared = [(rows, found) for rows, found in results if "memory" in found]
    if compared:
        rows, found = compared[-1]
        print(
            f"against drift.engine: memory at {rows:,} rows: "
            f"{found['stream'][0] / found['memory'][0]:.2f}x the time, "
            f"{found['stream'][1] / found['memory'][1]:.2f}x the peak memory"
        )


def _growth(results):
    """Time ratio per tenfold rows between the two largest sizes (10.0 is linear); 1.0 with
    one size."""
    if len(results) < 2:
        return 1.0
    (small, small_s), (large, large_s) = results[-2], results[-1]
    return (large_s / small_s) ** (1 / math.log10(large / small))


if __name__ == "__main__":
    main()
