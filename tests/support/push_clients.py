"""Pushes with prometheus_client (the official Python client) to the Pushgateway and to
the connector alike, for tests/push_pushgateway.rs: the same registries, through the
same client code, with the same grouping keys, so whatever the two store can be compared.

usage: push_clients.py push|delete <pushgateway url> <connector url>

Prints one JSON line: [[method, target, url, status, answer], ...] in the order sent,
target being "pushgateway" or "connector". A refused request is reported with its status
rather than raised, so that the test can say which side refused what.

Each push goes to the connector first, then to the Pushgateway: the round trip in
between keeps two pushes to the connector in different milliseconds.
"""

import json
import sys
from urllib.error import HTTPError
from urllib.request import HTTPHandler, Request, build_opener

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    delete_from_gateway,
    push_to_gateway,
    pushadd_to_gateway,
)

# A grouping key with what needs encoding: `/` (so `@base64`), a space and a `+`
# without `/` (prometheus_client percent-encodes these with quote_plus, so the space
# arrives as a `+`, which a path decoder keeps as a `+`: the Pushgateway exposes
# "x+y+z"), and an empty value (`@base64/=`).
GROUPING = {"instance": "a/b c", "zone": "x y+z", "empty": ""}
# A job that needs `job@base64`.
SLASHED_JOB = "pgw/parity py"
MAIN_JOB = "pgw_parity_py"

sent = []


def recording(target):
    def handler(url, method, timeout, headers, data):
        def handle():
            request = Request(url, data=data, method=method)
            for name, value in headers:
                request.add_header(name, value)
            try:
                with build_opener(HTTPHandler).open(request, timeout=timeout) as response:
                    status, answer = response.status, response.read().decode()
            except HTTPError as error:
                status, answer = error.code, error.read().decode()
            sent.append([method, target, url, status, answer])

        return handle

    return handler


def main_registry():
    registry = CollectorRegistry()
    requests = Counter(
        "py_requests", "Requests handled.", ["path", "code"], registry=registry
    )
    # Label values with every character the text format escapes, and UTF-8.
    requests.labels(path='/a"b\\c\nd', code="200").inc(3)
    requests.labels(path="/ünï cödé", code="500").inc(0.5)
    temperature = Gauge("py_temperature_celsius", "Temperature.", registry=registry)
    temperature.set(1e-9)
    latency = Histogram(
        "py_latency_seconds",
        "Latency.",
        ["handler"],
        # Bounds the Pushgateway re-formats: 1.0 -> "1", 1e6 -> "1e+06".
        buckets=[0.005, 0.1, 1.0, 2.5, 1e6],
        registry=registry,
    )
    for value in [0.001, 0.05, 0.7, 3.0, 2e6]:
        latency.labels(handler="api").observe(value)
    size = Summary("py_size_bytes", "Sizes.", registry=registry)
    size.observe(12.5)
    size.observe(1024)
    return registry


def update_registry():
    # Pushed with POST after main_registry: the same gauge with a new value (the
    # Pushgateway replaces it), and a metric the group did not have (it is added).
    registry = CollectorRegistry()
    temperature = Gauge("py_temperature_celsius", "Temperature.", registry=registry)
    temperature.set(-0.5)
    added = Gauge("py_added_by_post", "Added.", ["kind"], registry=registry)
    added.labels(kind="post").set(42)
    return registry


def escapes_registry():
    registry = CollectorRegistry()
    text = Gauge("py_escaped_value", "Escapes.", ["text"], registry=registry)
    text.labels(text='say "hi"').set(1)
    text.labels(text="C:\\dir").set(2)
    text.labels(text="two\nlines").set(3)
    text.labels(text="trailing\\").set(4)
    text.labels(text="},{=,").set(5)
    return registry


def push(pushgateway, connector):
    main, update, escapes = main_registry(), update_registry(), escapes_registry()
    for target, url in [("connector", connector), ("pushgateway", pushgateway)]:
        push_to_gateway(
            url, job=MAIN_JOB, registry=main, grouping_key=GROUPING,
            handler=recording(target),
        )
    for target, url in [("connector", connector), ("pushgateway", pushgateway)]:
        pushadd_to_gateway(
            url, job=MAIN_JOB, registry=update, grouping_key=GROUPING,
            handler=recording(target),
        )
    for target, url in [("connector", connector), ("pushgateway", pushgateway)]:
        push_to_gateway(url, job=SLASHED_JOB, registry=escapes, handler=recording(target))


def delete(pushgateway, connector):
    for target, url in [("connector", connector), ("pushgateway", pushgateway)]:
        delete_from_gateway(
            url, job=MAIN_JOB, grouping_key=GROUPING, handler=recording(target)
        )
        delete_from_gateway(url, job=SLASHED_JOB, handler=recording(target))


if __name__ == "__main__":
    phase, pushgateway_url, connector_url = sys.argv[1:4]
    {"push": push, "delete": delete}[phase](pushgateway_url, connector_url)
    print(json.dumps(sent), flush=True)
