"""Locust load test of the server: mostly single records, now and then a batch of 20.

`make load-test` starts a server and runs this headless (settings: `load_test:` in
params.yaml). By hand, against a running server:

    locust -f tests/load/locustfile.py --headless -u 10 -r 10 -t 30s --host http://127.0.0.1:8000

Either way the run exits 1 when a request fails or p95 latency is over gates.max_p95_ms.
Every request says it is synthetic (X-Synthetic-Traffic), so no server logs it for drift.
"""

import logging
import random

import gevent
from locust import FastHttpUser, between, events, task

from {{ cookiecutter.package }}.config import load_params
from {{ cookiecutter.package }}.serving.load_test import sample_records, verdict
from {{ cookiecutter.package }}.serving.prediction_log import SYNTHETIC

RECORDS = sample_records(500)  # real rows of the data set, as a client would send them
# Reading them takes seconds on a busy machine, and gevent's clock stood still meanwhile:
# without this, Locust's run-time limit (-t) would end the run that much too early.
gevent.get_hub().loop.update_now()


class ModelClient(FastHttpUser):
    wait_time = between(0.005, 0.05)  # clients that think a little, not a closed loop
    default_headers = SYNTHETIC

    @task(10)
    def predict(self):
        self.client.post("/predict", json=random.choice(RECORDS))

    @task(1)
    def predict_batch(self):
        self.client.post("/predict/batch", json={"records": random.sample(RECORDS, 20)})


@events.quitting.add_listener
def latency_gate(environment, **_):
    total = environment.stats.total
    problems = verdict(
        total.get_response_time_percentile(0.95) or 0,
        total.num_failures,
        total.num_requests,
        load_params()["gates"]["max_p95_ms"],
    )
    for problem in problems:
        logging.error("latency gate: %s", problem)
    if problems:
        environment.process_exit_code = 1
