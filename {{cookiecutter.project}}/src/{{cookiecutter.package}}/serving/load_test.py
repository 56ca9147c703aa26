"""`load-test`: Locust, headless, against a server this verb starts; the latency gate.

Starts `serve` on a free 127.0.0.1 port (the registry alias, or --model-path) as the
environment `load-test`, so nothing it logs can reach a real environment's prediction log
(and the locustfile marks its requests synthetic: none is logged). Waits for /ready
(`timeouts.server_ready`), sends `load_test.warmup_requests` unmeasured requests (a fresh
process's first calls are slow, most of all on a busy CI runner), runs
tests/load/locustfile.py with the `load_test:` settings of params.yaml, and stops the
server. Fails when any request failed or the 95th percentile latency is over
`gates.max_p95_ms`. Writes reports/load.json and .md (Locust's CSVs: reports/load_*.csv).
"""

import csv
import json
import socket
import subprocess
import sys
from pathlib import Path

from ..config import PACKAGE, REPORTS_DIR, CliError, columns, load_params, load_schema
from ..reports import markdown_table, write_report
from .probe import call, wait_until_ready

LOCUSTFILE = Path("tests/load/locustfile.py")
CSV_PREFIX = REPORTS_DIR / "load"
SERVER_LOG = REPORTS_DIR / "load_server.log"
ENVIRONMENT = "load-test"  # names the server's prediction log: never a real environment's


def verdict(p95_ms, failures, requests, max_p95_ms):
    """The reasons the run fails the gate (none: it passes). The locustfile uses it too."""
    problems = []
    if requests == 0:
        problems.append("no request completed")
    if failures:
        problems.append(f"{failures} of {requests} requests failed")
    if p95_ms > max_p95_ms:
        problems.append(
            f"p95 latency {p95_ms:.0f} ms is over the gate of {max_p95_ms} ms "
            "(params.yaml `gates.max_p95_ms`)"
        )
    return problems


def sample_records(count, seed=0):
    """Rows of the data set as request bodies: the request columns, NaN as null."""
    from ..data.loading import load_dataset

    params = load_params()
    spec = columns(params)
    frame = load_dataset(params)[spec.request]
    frame = frame.sample(min(count, len(frame)), random_state=seed)
    return json.loads(frame.to_json(orient="records"))  # plain ints, floats and nulls


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port, args):
    command = [sys.executable, "-m", PACKAGE, "serve", "--port", str(port)]
    command += ["--environment", ENVIRONMENT]
    command += ["--model-path", args.model_path] if args.model_path else ["--alias", args.alias]
    SERVER_LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(SERVER_LOG, "w") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def ready(url, server, seconds):
    status, body = wait_until_ready(url, seconds, process=server)
    if status == 200:
        return
    if server.poll() is not None:
        raise CliError(f"The server exited before it was ready:\n{SERVER_LOG.read_text()}")
    raise CliError(
        f"The server was not ready after {seconds} s (params.yaml `timeouts.server_ready`; "
        f"GET /ready answered {status}: {body}); its log: {SERVER_LOG}."
    )


def warm_up(url, requests, timeout):
    """Requests before the measured run: the first predict calls of a fresh process pay for
    imports, caches and lazy set-up, which is not the latency the gate is about."""
    records = sample_records(max(requests, 1))
    for index in range(requests):
        call(url, "/predict", records[index % len(records)], timeout=timeout)


def run_locust(url, settings):
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", str(settings["users"]), "-r", str(settings["spawn_rate"]),
        "-t", f"{settings['seconds']}s", "--host", url, "--csv", str(CSV_PREFIX),
        "--only-summary", "--exit-code-on-error", "1",
    ]  # fmt: skip
    return subprocess.run(command).returncode


def aggregated_stats():
    with open(f"{CSV_PREFIX}_stats.csv", newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    total = rows["Aggregated"]
    return {
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "rps": float(total["Requests/s"]),
        "p50_ms": _ms(total["50%"]),
        "p95_ms": _ms(total["95%"]),
        "p99_ms": _ms(total["99%"]),
        "by_endpoint": {
            name: {"requests": int(row["Request Count"]), "p95_ms": _ms(row["95%"])}
            for name, row in rows.items()
            if name != "Aggregated"
        },
    }


def _ms(cell):
    return 0.0 if cell in ("", "N/A") else float(cell)  # N/A: no request completed


def load_test(args):
    params = load_params()
    load_schema()  # the server needs the contract: say so before starting anything
    settings = {**params["load_test"], **{k: v for k, v in vars(args).items()
                                           if k in ("users", "seconds") and v}}  # fmt: skip
    timeouts = params["timeouts"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port, args)
    try:
        ready(url, server, timeouts["server_ready"])
        warm_up(url, settings["warmup_requests"], timeouts["smoke_request"])
        locust_exit = run_locust(url, settings)
    finally:
        server.terminate()
        server.wait(timeout=timeouts["server_stop"])
    stats = aggregated_stats()
    gate = params["gates"]["max_p95_ms"]
    problems = verdict(stats["p95_ms"], stats["failures"], stats["requests"], gate)
    if locust_exit and not problems:
        problems.append(f"locust exited with {locust_exit}")
    result = {**stats, "max_p95_ms": gate, "settings": settings, "passed": not problems,
              "problems": problems}  # fmt: skip
    write_report("load", result, _markdown(result))
    if problems:
        raise CliError(
            "The load test fails its gate: " + "; ".join(problems) + ". See reports/load.md."
        )
    print(f"Load test passed: {stats['requests']} requests, p95 {stats['p95_ms']:.0f} ms "
          f"(gate {gate} ms), {stats['rps']:.0f} requests/s.")  # fmt: skip


def _markdown(result):
    status = "passed" if result["passed"] else "FAILED"
    rows = [
        (name, s["requests"], f"{s['p95_ms']:.0f}") for name, s in result["by_endpoint"].items()
    ]
    rows.append(("**all**", result["requests"], f"{result['p95_ms']:.0f}"))
    lines = [
        f"## Load test {status}",
        f"{result['settings']['users']} users for {result['settings']['seconds']} s: "
        f"{result['rps']:.0f} requests/s, {result['failures']} failed, p50 "
        f"{result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms (gate {result['max_p95_ms']} "
        f"ms), p99 {result['p99_ms']:.0f} ms.",
        markdown_table(["endpoint", "requests", "p95 ms"], rows),
    ]
    lines += [f"- {problem}" for problem in result["problems"]]
    return "\n\n".join(lines)


def add_arguments(parser):
    alias = load_params()["serve"]["alias"] if Path("params.yaml").exists() else "candidate"
    parser.add_argument("--alias", default=alias, help=f"registry alias to serve (default {alias})")
    parser.add_argument("--model-path", help="serve this model file or directory instead")
    parser.add_argument("--users", type=int, help="override load_test.users")
    parser.add_argument("--seconds", type=int, help="override load_test.seconds")


run = load_test
