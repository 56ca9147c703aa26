"""The smoke test of a deployed server: ready, the pinned version, known answers, p95 latency.

Every request is marked synthetic (X-Synthetic-Traffic), so the server keeps it out of
its prediction log and out of drift. How long it waits is params.yaml's `timeouts`
(deployed_ready, smoke_request).
"""

import math
import time

from ..config import columns, load_schema
from ..data.loading import read_csv
from ..serving.probe import call, wait_until_ready


def check(name, passed, detail):
    return {"name": name, "passed": bool(passed), "detail": detail}


def smoke_test(url, version, cases, smoke, timeouts):
    """Every check against the server at url; passed only when all pass."""
    seconds, request = timeouts["deployed_ready"], timeouts["smoke_request"]
    status, body = wait_until_ready(url, seconds)
    detail = f"GET /ready answered {status}: {body}"
    if status != 200:
        detail += f" (waited {seconds} s: params.yaml `timeouts.deployed_ready`)"
    checks = [check("ready", status == 200, detail)]
    if status == 200:
        checks.append(version_check(url, version, request))
        checks += [known_answer(url, case, request) for case in cases]
        records = [case["record"] for case in cases] or [fallback_record()]
        checks.append(latency_check(url, records, smoke["requests"], smoke["max_p95_ms"], request))
    return {"url": url, "passed": all(c["passed"] for c in checks), "checks": checks}


def version_check(url, version, timeout):
    status, body = call(url, "/version", timeout=timeout)
    served = body.get("version") if status == 200 and isinstance(body, dict) else None
    detail = f"serves version {served}" if served else f"GET /version answered {status}: {body}"
    return check("version", str(served) == str(version), f"{detail}, pinned {version}")


def known_answer(url, case, timeout):
    name = f"known answer: {case.get('name', case['expect'])}"
    status, body = call(url, "/predict", case["record"], timeout=timeout)
    if status != 200:
        return check(name, False, f"POST /predict answered {status}: {body}")
    got, expect = body.get("prediction"), case["expect"]
    if isinstance(expect, list):  # a regression: the value within [low, high]
        passed = isinstance(got, int | float) and expect[0] <= got <= expect[1]
        return check(name, passed, f"predicted {got!r}, expected within {expect}")
    extra = {k: body[k] for k in ("score", "probabilities") if k in body}
    return check(name, str(got) == str(expect), f"predicted {got!r}, expected {expect!r} {extra}")


def latency_check(url, records, requests, max_p95_ms, timeout):
    timings, failures = [], []
    for index in range(requests):
        started = time.perf_counter()
        status, body = call(url, "/predict", records[index % len(records)], timeout=timeout)
        timings.append((time.perf_counter() - started) * 1000)
        if status != 200:
            failures.append(f"{status}: {body}")
    p95 = percentile(timings, 95)
    detail = f"p95 {p95:.1f} ms over {requests} requests (limit {max_p95_ms} ms)"
    if failures:
        detail += f"; {len(failures)} failed, first {failures[0]}"
    return check("latency", not failures and p95 <= max_p95_ms, detail) | {"p95_ms": p95}


def percentile(values, share):
    """Nearest-rank percentile: the smallest value at or above share % of the values."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share / 100 * len(ordered)) - 1)]


def fallback_record():
    """No known answers configured: the first row of the data set, as a request record."""
    from ..config import load_params

    params = load_params()
    spec, contract = columns(params), load_schema()
    row = read_csv(params["data"]["path"], contract).iloc[0]
    record = {}
    for name in spec.request:
        value = row[name]
        if value != value:  # NaN: a nullable column may be left out
            continue
        dtype = contract["columns"][name]["dtype"]
        record[name] = {"int": int, "float": float}.get(dtype, str)(value)
    return record
