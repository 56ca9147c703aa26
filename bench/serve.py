"""Benchmark the generated server against `mlflow models serve` and the bare model, one model.

    make bench-serve                    # bakes and trains build/bench/churn-model first
    make bench-serve PROJECT=path       # a trained, registered project

In one run, on the registered version the alias `candidate` points to:
  (a) our server (`serve`, registry mode), (b) `mlflow models serve --env-manager local`,
  (c) the bare in-process `predict_proba` loop (the limit a server can approach).
Closed loop (each client sends when answered): capacity for single records and 10k-row
batches (JSON, and ours also as Arrow). Its latencies hide stalls, so the tail is measured
open loop: both servers get the same fixed schedules (50%, 80% and 100% of the slower one's
capacity), ours one more at 80% of its own, and each latency runs from the request's
scheduled send time. Load comes from bench/loadgen.py in its own process. Prints two tables
and ends with the lines
`ours/mlflow throughput X closed-loop p99 X open-loop p99 at 80% X ours/bare X batch/bare X
arrow/bare X` (batch: 10k rows as JSON; arrow: the same as an Arrow IPC stream, answered so)
and `ours at 80% of its capacity: p99/p50 X`. Then the cost of shadow serving: ours again with a
shadow (the same version behind a second alias, so the shadow costs what the served model
does), at the same offered rates as ours alone, alternating: `shadow p99 / p99 without X`.
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
ARROW = "application/vnd.apache.arrow.stream"
SHARES = (0.5, 0.8, 1.0)  # open-loop rates, as shares of the slower server's capacity
OWN_SHARE = 0.8  # and one at this share of our own capacity


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


def load(url, body, concurrency, seconds, rate=None, headers=("application/json", None)):
    """loadgen's result: closed loop, or open loop at `rate` requests per second."""
    path = WORK / "body.bin"
    path.write_bytes(body)
    command = [sys.executable, str(LOADGEN), "--url", url, "--body", str(path),
               "-c", str(concurrency), "-s", str(seconds), "--warmup", "2",
               "--content-type", headers[0], *(["--accept", headers[1]] if headers[1] else []),
               *(["--rate", str(rate)] if rate else [])]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    assert result["failures"] == 0, f"{url}: {result['failures']} failed requests"
    return result


def arrow_stream(rows):
    """The rows as an Arrow IPC stream, the columnar body of /predict/batch."""
    import pyarrow as pa

    table = pa.Table.from_pylist(rows)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


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


def measure(project, seconds, concurrency, connections):
    import mlflow
    import pandas as pd

    register = json.loads((project / "reports/register.json").read_text())
    package, name, version = package_of(project), register["name"], register["version"]
    rows = records_of(project, BATCH_ROWS)
    one, batch = json.dumps(rows[0]).encode(), json.dumps({"records": rows}).encode()
    mlflow_one = json.dumps({"dataframe_records": rows[:1]}).encode()
    mlflow_batch = json.dumps({"dataframe_records": rows}).encode()
    closed, opened = {}, {}

    mlflow.set_tracking_uri(project_env(project)["MLFLOW_TRACKING_URI"])
    model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    frame_one, frame_batch = pd.DataFrame(rows[:1]), pd.DataFrame(rows)
    closed["bare", "single"] = bare_loop(lambda: model.predict_proba(frame_one), seconds)
    closed["bare", "batch"] = bare_loop(lambda: model.predict_proba(frame_batch), seconds)
    print("bare model measured", flush=True)

    ours_port, theirs_port = free_port(), free_port()
    ours = [sys.executable, "-m", package, "serve", "--port", str(ours_port), "--alias",
            "candidate"]  # fmt: skip
    theirs = ["mlflow", "models", "serve", "-m", f"models:/{name}/{version}", "--env-manager",
              "local", "-h", "127.0.0.1", "-p", str(theirs_port)]  # fmt: skip
    urls = {"ours": f"http://127.0.0.1:{ours_port}/predict",
            "mlflow": f"http://127.0.0.1:{theirs_port}/invocations"}  # fmt: skip
    singles = {"ours": one, "mlflow": mlflow_one}
    with (
        server(ours, project, f"http://127.0.0.1:{ours_port}/ready", "ours.log"),
        server(theirs, project, f"http://127.0.0.1:{theirs_port}/ping", "mlflow.log"),
    ):
        for who in ("ours", "mlflow"):  # capacity: closed loop
            closed[who, "single"] = load(urls[who], singles[who], concurrency, seconds)
        closed["ours", "batch"] = load(f"{urls['ours']}/batch", batch, 1, seconds)
        closed["ours", "arrow"] = load(f"{urls['ours']}/batch", arrow_stream(rows), 1, seconds,
                                       headers=(ARROW, ARROW))  # fmt: skip
        closed["mlflow", "batch"] = load(urls["mlflow"], mlflow_batch, 1, seconds)
        print("capacity measured (closed loop)", flush=True)
        slower = min(closed[who, "single"]["rps"] for who in ("ours", "mlflow"))
        for share in SHARES:  # the same offered rates for both, alternating
            for who in ("ours", "mlflow"):
                opened[who, share] = load(urls[who], singles[who], connections, seconds,
                                          rate=share * slower)  # fmt: skip
        own = OWN_SHARE * closed["ours", "single"]["rps"]
        opened["ours", "own"] = load(urls["ours"], one, connections, seconds, rate=own)
    print("open loop measured", flush=True)
    return closed, opened, slower


def measure_shadow(project, closed, slower, seconds, connections):
    """Open-loop p99 of ours with and without a shadow at the same two offered rates (80% of
    the slower server's capacity and of ours), run back to back."""
    from mlflow import MlflowClient

    register = json.loads((project / "reports/register.json").read_text())
    name, version = register["name"], register["version"]
    uri = project_env(project)["MLFLOW_TRACKING_URI"]
    MlflowClient(uri, uri).set_registered_model_alias(name, "bench-shadow", version)
    body = json.dumps(records_of(project, 1)[0]).encode()
    rates = {
        "80% of the slower": 0.8 * slower,
        f"{OWN_SHARE:.0%} of ours": OWN_SHARE * closed["ours", "single"]["rps"],
    }
    found, ports = {}, {"without": free_port(), "with": free_port()}
    extras = {"without": [], "with": ["--shadow-alias", "bench-shadow"]}
    servers = [
        server([sys.executable, "-m", package_of(project), "serve", "--port", str(port),
                "--alias", "candidate", *extras[who]], project,
               f"http://127.0.0.1:{port}/ready", f"shadow-{who}.log")
        for who, port in ports.items()
    ]  # fmt: skip
    with servers[0], servers[1]:
        for label, rate in rates.items():  # alternating, as ours and mlflow above
            for who, port in ports.items():
                url = f"http://127.0.0.1:{port}/predict"
                found[who, label] = rate, load(url, body, connections, seconds, rate=rate)
    print("shadow measured", flush=True)
    return found


def shadow_report(found):
    lines = ["", "Shadow serving (open loop, 1 record; the shadow is the same version under a "
             "second alias):", "",
             "| offered req/s | of | p50 without | p99 without | p50 with shadow | "
             "p99 with shadow | p99 with/without |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    ratios = {}
    for label in dict.fromkeys(label for _, label in found):
        (rate, a), (_, b) = found["without", label], found["with", label]
        ratios[label] = b["p99_ms"] / a["p99_ms"]
        lines.append(f"| {rate:,.0f} | {label} | {a['p50_ms']:.1f} | {a['p99_ms']:.1f} | "
                     f"{b['p50_ms']:.1f} | {b['p99_ms']:.1f} | {ratios[label]:.2f} |")  # fmt: skip
    summary = "shadow p99 / p99 without: " + ", ".join(
        f"{ratio:.2f} at {label}" for label, ratio in ratios.items()
    )
    return "\n".join(lines), summary


def report(closed, opened, slower, concurrency, connections):
    lines = ["Closed loop (capacity; latencies hide stalls):", "",
             "| server | requests | concurrency | req/s | rows/s | p50 ms | p99 ms |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for (who, kind), r in closed.items():
        rows = 1 if kind == "single" else BATCH_ROWS
        conc = concurrency if kind == "single" and who != "bare" else 1
        shape = {"single": "1 record", "batch": f"{BATCH_ROWS} rows",
                 "arrow": f"{BATCH_ROWS} rows, Arrow in and out"}[kind]  # fmt: skip
        lines.append(f"| {who} | {shape} | {conc} | {r['rps']:,.1f} | {r['rps'] * rows:,.0f} | "
                     f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")  # fmt: skip
    lines += ["", f"Open loop (1 record, {connections} connections, latency from each "
              "request's scheduled send time):", "",
              "| offered req/s | of | ours p50 | ours p99 | ours p99.9 | mlflow p50 | mlflow p99 "
              "| mlflow p99.9 | p99 ours/mlflow |",
              "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for share in SHARES:
        a, b = opened["ours", share], opened["mlflow", share]
        lines.append(f"| {share * slower:,.0f} | {share:.0%} of the slower | {a['p50_ms']:.1f} | "
                     f"{a['p99_ms']:.1f} | {a['p999_ms']:.1f} | {b['p50_ms']:.1f} | "
                     f"{b['p99_ms']:.1f} | {b['p999_ms']:.1f} | "
                     f"{a['p99_ms'] / b['p99_ms']:.2f} |")  # fmt: skip
    own = opened["ours", "own"]
    lines.append(f"| {own['rps']:,.0f} | {OWN_SHARE:.0%} of ours | {own['p50_ms']:.1f} | "
                 f"{own['p99_ms']:.1f} | {own['p999_ms']:.1f} | | | | |")  # fmt: skip
    ours, theirs, bare = (closed[w, "single"] for w in ("ours", "mlflow", "bare"))
    at80 = opened["ours", 0.8]["p99_ms"] / opened["mlflow", 0.8]["p99_ms"]
    summary = (
        f"ours/mlflow throughput {ours['rps'] / theirs['rps']:.2f} "
        f"closed-loop p99 {ours['p99_ms'] / theirs['p99_ms']:.2f} "
        f"open-loop p99 at 80% {at80:.2f} "
        f"ours/bare {ours['rps'] / bare['rps']:.2f} "
        f"batch/bare {closed['ours', 'batch']['rps'] / closed['bare', 'batch']['rps']:.2f} "
        f"arrow/bare {closed['ours', 'arrow']['rps'] / closed['bare', 'batch']['rps']:.2f}\n"
        f"ours at {OWN_SHARE:.0%} of its capacity: p99/p50 {own['p99_ms'] / own['p50_ms']:.1f}"
    )
    return "\n".join(lines), summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a trained, registered project")
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per run")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="single-record clients of the closed loop")  # fmt: skip
    parser.add_argument("--connections", type=int, default=64,
                        help="connections of the open loop")  # fmt: skip
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    project = (args.project or bake_default_project()).resolve()
    closed, opened, slower = measure(project, args.seconds, args.concurrency, args.connections)
    table, summary = report(closed, opened, slower, args.concurrency, args.connections)
    shadow_table, shadow_summary = shadow_report(
        measure_shadow(project, closed, slower, args.seconds, args.connections)
    )
    (WORK / "serve.json").write_text(json.dumps(
        {"closed": {f"{who}/{kind}": r for (who, kind), r in closed.items()},
         "open": {f"{who}/{share}": r for (who, share), r in opened.items()}},
        indent=2) + "\n")  # fmt: skip
    print(table + shadow_table)
    print(summary)
    print(shadow_summary)


if __name__ == "__main__":
    main()
