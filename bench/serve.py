"""Benchmark the generated server against `mlflow models serve` and the bare model, one model.

    make bench-serve                    # bakes and trains build/bench/churn-model first
    make bench-serve PROJECT=path       # a trained, registered project

In one run, on the registered version the alias `candidate` points to:
  (a) our server (`serve`, registry mode), (b) `mlflow models serve --env-manager local`,
  (c) the bare in-process `predict_proba` loop (the limit a server can approach),
for single records at a fixed concurrency and for 10k-row batches. Load comes from
bench/loadgen.py in its own process. Prints a table and ends with the line
`ours/mlflow throughput X.XX p99 X.XX ours/bare X.XX batch/bare X.XX`.
Not a test: machines are noisy, so read the ratios of one run, not absolute numbers.
"""

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOADGEN = ROOT / "bench" / "loadgen.py"
WORK = ROOT / "build" / "bench"
BATCH_ROWS = 10_000


def bake_default_project():
    from cookiecutter.main import cookiecutter

    shutil.rmtree(WORK / "churn-model", ignore_errors=True)
    project = Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(WORK)))
    print(f"baked {project}; training (make pipeline) ...", flush=True)
    subprocess.run(["make", "--no-print-directory", "pipeline", f"VENV={sys.prefix}"],
                   cwd=project, env=project_env(project), check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return project


def project_env(project):
    env = dict(os.environ, PYTHONPATH=str(project / "src"))
    env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env['PATH']}"  # uvicorn for mlflow
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{project / 'mlflow.db'}"
    return env


def package_of(project):
    return next(p.parent.name for p in (project / "src").glob("*/cli.py"))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def server(command, project, ready_url, log_name):
    log = open(WORK / log_name, "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, cwd=project, env=project_env(project), stdout=log,
                               stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, f"{command[0]} exited: see {WORK / log_name}"
            assert time.monotonic() < deadline, f"not ready after 180 s: {WORK / log_name}"
            with (
                contextlib.suppress(urllib.error.URLError, ConnectionError),
                urllib.request.urlopen(ready_url, timeout=2) as answer,
            ):
                if answer.status == 200:
                    break
            time.sleep(0.5)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def load(url, body, concurrency, seconds):
    path = WORK / "body.json"
    path.write_bytes(body)
    done = subprocess.run(
        [sys.executable, str(LOADGEN), "--url", url, "--body", str(path),
         "-c", str(concurrency), "-s", str(seconds), "--warmup", "2"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout)
    assert result["failures"] == 0, f"{url}: {result['failures']} failed requests"
    return result


def bare_loop(call, seconds):
    """Calls per second and per-call p50/p99 of `call()` in this process."""
    call()
    times, end = [], time.perf_counter() + seconds
    while (start := time.perf_counter()) < end:
        call()
        times.append(time.perf_counter() - start)
    times.sort()
    return {"rps": len(times) / sum(times), "p50_ms": statistics.median(times) * 1000,
            "p99_ms": times[int(0.99 * (len(times) - 1))] * 1000}  # fmt: skip


def records_of(project, count):
    """`count` feature records from the project's data set (repeated when it has fewer rows)."""
    sys.path.insert(0, str(project / "src"))
    os.chdir(project)
    loadtest = __import__(f"{package_of(project)}.serving.load_test", fromlist=["sample_records"])
    config = __import__(f"{package_of(project)}.config", fromlist=["columns"])
    features = config.columns(config.load_params()).features
    rows = [{k: r[k] for k in features} for r in loadtest.sample_records(count)]
    return (rows * (count // len(rows) + 1))[:count]


def measure(project, seconds, concurrency):
    import mlflow
    import pandas as pd

    package, name = package_of(project), json.loads(
        (project / "reports/register.json").read_text())["name"]  # fmt: skip
    version = json.loads((project / "reports/register.json").read_text())["version"]
    rows = records_of(project, BATCH_ROWS)
    one, batch = json.dumps(rows[0]).encode(), json.dumps({"records": rows}).encode()
    mlflow_one = json.dumps({"dataframe_records": rows[:1]}).encode()
    mlflow_batch = json.dumps({"dataframe_records": rows}).encode()
    results = {}

    mlflow.set_tracking_uri(project_env(project)["MLFLOW_TRACKING_URI"])
    model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    frame_one, frame_batch = pd.DataFrame(rows[:1]), pd.DataFrame(rows)
    results["bare", "single"] = bare_loop(lambda: model.predict_proba(frame_one), seconds)
    results["bare", "batch"] = bare_loop(lambda: model.predict_proba(frame_batch), seconds)
    print("bare model measured", flush=True)

    port = free_port()
    ours = [sys.executable, "-m", package, "serve", "--port", str(port), "--alias", "candidate"]
    with server(ours, project, f"http://127.0.0.1:{port}/ready", "ours.log"):
        url = f"http://127.0.0.1:{port}"
        results["ours", "single"] = load(f"{url}/predict", one, concurrency, seconds)
        results["ours", "batch"] = load(f"{url}/predict/batch", batch, 1, seconds)
    print("our server measured", flush=True)

    port = free_port()
    theirs = ["mlflow", "models", "serve", "-m", f"models:/{name}/{version}", "--env-manager",
              "local", "-h", "127.0.0.1", "-p", str(port)]  # fmt: skip
    with server(theirs, project, f"http://127.0.0.1:{port}/ping", "mlflow.log"):
        url = f"http://127.0.0.1:{port}/invocations"
        results["mlflow", "single"] = load(url, mlflow_one, concurrency, seconds)
        results["mlflow", "batch"] = load(url, mlflow_batch, 1, seconds)
    print("mlflow models serve measured", flush=True)
    return results


def report(results, concurrency):
    lines = ["| server | requests | concurrency | req/s | rows/s | p50 ms | p99 ms |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for (who, kind), r in results.items():
        rows = 1 if kind == "single" else BATCH_ROWS
        conc = concurrency if kind == "single" and who != "bare" else 1
        shape = "1 record" if kind == "single" else f"{BATCH_ROWS} rows"
        lines.append(f"| {who} | {shape} | {conc} | {r['rps']:,.1f} | {r['rps'] * rows:,.0f} | "
                     f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")  # fmt: skip
    ours, theirs, bare = (results[w, "single"] for w in ("ours", "mlflow", "bare"))
    summary = (
        f"ours/mlflow throughput {ours['rps'] / theirs['rps']:.2f} "
        f"p99 {ours['p99_ms'] / theirs['p99_ms']:.2f} "
        f"ours/bare {ours['rps'] / bare['rps']:.2f} "
        f"batch/bare {results['ours', 'batch']['rps'] / results['bare', 'batch']['rps']:.2f}"
    )
    return "\n".join(lines), summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a trained, registered project")
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per run")
    parser.add_argument("--concurrency", type=int, default=16, help="single-record clients")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    project = (args.project or bake_default_project()).resolve()
    results = measure(project, args.seconds, args.concurrency)
    table, summary = report(results, args.concurrency)
    (WORK / "serve.json").write_text(json.dumps(
        {f"{who}/{kind}": r for (who, kind), r in results.items()}, indent=2) + "\n")  # fmt: skip
    print(table)
    print(summary)


if __name__ == "__main__":
    main()
