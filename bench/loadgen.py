"""A lean HTTP/1.1 load generator: N keep-alive connections send one fixed request in a loop.

Run it in its own process so it never shares a core's event loop with the server under test:

    python bench/loadgen.py --url http://127.0.0.1:8000/predict --body body.json -c 16 -s 10

Prints one JSON object: requests, failures, seconds, rps, p50_ms, p99_ms (warm-up excluded).
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


def build_request(url, body):
    parts = urlsplit(url)
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
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
        while time.perf_counter() < clock["end"]:
            start = time.perf_counter()
            writer.write(request)
            status, _ = await read_response(reader)
            if start >= clock["measure_from"]:
                results["latencies"].append(time.perf_counter() - start)
                results["failures"] += status != 200
    finally:
        writer.close()


async def run(url, body, concurrency, seconds, warmup):
    host, port, request = build_request(url, body)
    now = time.perf_counter()
    clock = {"measure_from": now + warmup, "end": now + warmup + seconds}
    results = {"latencies": [], "failures": 0}
    await asyncio.gather(
        *(connection(host, port, request, clock, results) for _ in range(concurrency))
    )
    return summary(results, seconds)


def summary(results, seconds):
    latencies = sorted(results["latencies"])
    if not latencies:
        raise RuntimeError("no request completed")

    def quantile(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "failures": results["failures"],
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "p50_ms": quantile(0.50),
        "p99_ms": quantile(0.99),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True, type=Path, help="file holding the JSON body")
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("-s", "--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    args = parser.parse_args(argv)
    body = args.body.read_bytes()
    work = run(args.url, body, args.concurrency, args.seconds, args.warmup)
    try:
        import uvloop

        result = uvloop.run(work)
    except ImportError:
        result = asyncio.run(work)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
