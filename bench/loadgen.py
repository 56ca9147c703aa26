"""A lean HTTP/1.1 load generator: N keep-alive connections send one fixed request.

Run it in its own process so it never shares a core's event loop with the server under test:

    python bench/loadgen.py --url http://127.0.0.1:8000/predict --body body.json -c 16 -s 10
    python bench/loadgen.py --url ... --body body.json -c 64 -s 10 --rate 800

Closed loop (no --rate): each connection sends its next request when the last one is answered;
that measures capacity (rps), but its latencies hide stalls: while the server pauses, nobody
sends, so the requests that would have waited are never counted (coordinated omission).
Open loop (--rate R): request i is due at start + i/R whatever happened before, the free
connections take the due requests in order, and a latency runs from the time the request was
due, not from when it could go out (as wrk2 does). A server that falls behind then shows its
backlog in the tail.

Prints one JSON object: requests, failures, seconds, rps, p50_ms, p99_ms, p999_ms, max_ms
(warm-up excluded), and late_ms: the p99 of how late requests went out (the client's own lag).
Raw asyncio streams with a pre-built request cost a few microseconds per request, so the
server, not the client, is what a run measures (httpx or locust would cost more per request
than a fast server does).
"""

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit


def build_request(url, body, content_type="application/json", accept=None):
    parts = urlsplit(url)
    accept = f"Accept: {accept}\r\n" if accept else ""
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n{accept}"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return parts.hostname, parts.port or 80, head.encode() + body


async def read_response(reader):
    """Status code and body of one response (Content-Length framing, as uvicorn sends)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        elif name.strip().lower() == b"transfer-encoding":
            raise RuntimeError("chunked responses are not supported by this load generator")
    return status, await reader.readexactly(length)


async def connection(host, port, request, clock, results):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (due := clock["next"]()) is not None:
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            sent = time.perf_counter()
            writer.write(request)
            status, _ = await read_response(reader)
            if due >= clock["measure_from"]:
                results["latencies"].append(time.perf_counter() - due)
                results["late"].append(sent - due)
                results["failures"] += status != 200
    finally:
        writer.close()


def schedule(start, seconds, rate):
    """next() -> the time the next request is due, or None once the run is over. Closed loop
    (rate None): now, as soon as a connection is free. Open loop: start + i / rate."""
    count = 0

    def closed():
        now = time.perf_counter()
        return now if now < start + seconds else None

    def fixed():
        nonlocal count
        due = start + count / rate
        count += 1
        return due if due < start + seconds else None

    return closed if rate is None else fixed


async def run(url, body, concurrency, seconds, warmup, rate=None, headers=()):
    host, port, request = build_request(url, body, *headers)
    now = time.perf_counter()
    clock = {"measure_from": now + warmup, "next": schedule(now, warmup + seconds, rate)}
    results = {"latencies": [], "late": [], "failures": 0}
    await asyncio.gather(
        *(connection(host, port, request, clock, results) for _ in range(concurrency))
    )
    return summary(results, seconds)


def summary(results, seconds):
    latencies, late = sorted(results["latencies"]), sorted(results["late"])
    if not latencies:
        raise RuntimeError("no request completed")

    def quantile(values, q):
        return values[min(len(values) - 1, int(q * len(values)))] * 1000

    return {
        "requests": len(latencies),
        "failures": results["failures"],
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "p50_ms": quantile(latencies, 0.50),
        "p99_ms": quantile(latencies, 0.99),
        "p999_ms": quantile(latencies, 0.999),
        "max_ms": latencies[-1] * 1000,
        "late_ms": quantile(late, 0.99),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True, type=Path, help="file holding the JSON body")
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("-s", "--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--rate", type=float, help="open loop: requests per second offered")
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--accept", help="the Accept header (none by default)")
    args = parser.parse_args(argv)
    body = args.body.read_bytes()
    headers = (args.content_type, args.accept)
    work = run(args.url, body, args.concurrency, args.seconds, args.warmup, args.rate, headers)
    try:
        import uvloop

        result = uvloop.run(work)
    except ImportError:
        result = asyncio.run(work)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
