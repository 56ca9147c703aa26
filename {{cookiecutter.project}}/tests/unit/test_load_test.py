"""The latency gate's verdict: what makes a load test fail, in the words a user reads."""

from {{ cookiecutter.package }}.serving.load_test import verdict


def test_a_run_within_the_gate_passes():
    assert verdict(p95_ms=120.0, failures=0, requests=500, max_p95_ms=200) == []


def test_a_slow_run_fails_naming_the_setting():
    assert verdict(p95_ms=410.4, failures=0, requests=500, max_p95_ms=200) == [
        "p95 latency 410 ms is over the gate of 200 ms (params.yaml `gates.max_p95_ms`)"
    ]


def test_failed_or_missing_requests_fail_it():
    assert verdict(p95_ms=10.0, failures=3, requests=500, max_p95_ms=200) == [
        "3 of 500 requests failed"
    ]
    assert "no request completed" in verdict(p95_ms=0.0, failures=0, requests=0, max_p95_ms=200)
