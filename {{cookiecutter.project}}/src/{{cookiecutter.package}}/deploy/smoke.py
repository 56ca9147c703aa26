"""The smoke test of a deployed server: ready, the pinned version, known answers, p95 latency.

urllib, because of what the project declares: httpx is a dev dependency only, and requests
arrives only through MLflow, so neither is promised where `deploy` runs.
Every request is marked synthetic (X-Synthetic-Traffic), so the server keeps it out of
its prediction log and out of drift.
"""

import json
import math
import time
import urllib.error
import urllib.request

from ..config import columns, load_schema
from ..data.loading import read_csv
from ..serving.prediction_log import SYNTHETIC


def call(url, path, body=None, timeout=10.0):
    """(HTTP status or None when unreachable, decoded JSON body or the error text)."""
    data = None if body is None else json.dumps(body).encode()
    headers = {**SYNTHETIC, **({"Content-Type": "application/json"} if data else {})}
    request = urllib.request.Request(url.rstrip("/") + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _decoded(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _decoded(error.read())
    except (urllib.error.URLError, OSError) as error:
        return None, str(getattr(error, "reason", error))


def _decoded(raw):
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode(errors="replace")[:200]


def check(name, passed, detail):
    return {"name": name, "passed": bool(passed), "detail": detail}


def wait_until_ready(url, seconds=15.0):
    """A port-forward or a fresh pod may take a moment to answer: retry /ready briefly."""
    deadline = time.monotonic() + seconds
    while True:
        status, body = call(url, "/ready", timeout=5)
        if status == 200 or time.monotonic() > deadline:
            return status, body
        time.sleep(0.5)


def smoke_test(url, version, cases, smoke):
    """Every check against the server at url; passed only when all pass."""
    status, body = wait_until_ready(url)
    checks = [check("ready", status == 200, f"GET /ready answered {status}: {body}")]
    if status == 200:
        checks.append(version_check(url, version))
        checks += [known_answer(url, case) for case in cases]
        records = [case["record"] for case in cases] or [fallback_record()]
        checks.append(latency_check(url, records, smoke["requests"], smoke["max_p95_ms"]))
    return {"url": url, "passed": all(c["passed"] for c in checks), "checks": checks}


def version_check(url, version):
    status, body = call(url, "/version")
    served = body.get("version") if status == 200 and isinstance(body, dict) else None
    detail = f"serves version {served}" if served else f"GET /version answered {status}: {body}"
    return check("version", str(served) == str(version), f"{detail}, pinned {version}")


def known_answer(url, case):
    name = f"known answer: {case.get('name', case['expect'])}"
    status, body = call(url, "/predict", case["record"])
    if status != 200:
        return check(name, False, f"POST /predict answered {status}: {body}")
    got, expect = body.get("prediction"), case["expect"]
    if isinstance(expect, list):  # a regression: the value within [low, high]
        passed = isinstance(got, int | float) and expect[0] <= got <= expect[1]
        return check(name, passed, f"predicted {got!r}, expected within {expect}")
    extra = {k: body[k] for k in ("score", "probabilities") if k in body}
    return check(name, str(got) == str(expect), f"predicted {got!r}, expected {expect!r} {extra}")


def latency_check(url, records, requests, max_p95_ms):
    timings, failures = [], []
    for index in range(requests):
        started = time.perf_counter()
        status, body = call(url, "/predict", records[index % len(records)])
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
    wanted = [*spec.features, *(s for s in spec.sensitive if s not in spec.features)]
    record = {}
    for name in wanted:
        value = row[name]
        if value != value:  # NaN: a nullable column may be left out
            continue
        dtype = contract["columns"][name]["dtype"]
        record[name] = {"int": int, "float": float}.get(dtype, str)(value)
    return record
