"""Prometheus metrics, one registry per application (two apps may share a process).

Requests are counted in plain dicts and handed to prometheus-client as
metric families when scraped: its Counter and Histogram take a lock and
several calls per observation, which cost as much as parsing the request.
Workers of one ``serve --workers N`` each write their counts to a file of
their own in a shared folder about once a second; a scrape, whichever worker
answers it, adds them all up (a worker that died keeps its last counts there).
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import json
import os
import pathlib

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclasses.dataclass(eq=False)  # registered with prometheus-client, which hashes it
class Metrics:
    registry: CollectorRegistry
    _requests: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    _latency: dict[str, list] = dataclasses.field(default_factory=dict)  # action -> [count per bucket..., sum]
    shared: pathlib.Path | None = None  # the workers' folder of counts

    def _own_file(self) -> pathlib.Path:
        assert self.shared is not None
        return self.shared / f"{os.getpid()}.json"

    def write_shared(self) -> None:
        """This worker's counts, for the others' scrapes (atomically replaced)."""
        if self.shared is None:
            return
        target = self._own_file()
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps({"requests": [[a, c, n] for (a, c), n in self._requests.items()],
                                         "latency": self._latency}))
        os.replace(temporary, target)

    def _totals(self) -> tuple[dict, dict]:
        requests, latency = dict(self._requests), {k: list(v) for k, v in self._latency.items()}
        if self.shared is None:
            return requests, latency
        own = self._own_file()
        for path in self.shared.glob("*.json"):
            if path == own:
                continue
            try:
                other = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # being replaced right now: its counts show in the next scrape
            for action, code, count in other["requests"]:
                requests[(action, code)] = requests.get((action, code), 0) + count
            for action, counts in other["latency"].items():
                mine = latency.setdefault(action, [0] * len(counts))
                latency[action] = [a + b for a, b in zip(mine, counts, strict=True)]
        return requests, latency

    def observe(self, action: str, code: str, seconds: float) -> None:
        """Count one request (the event loop's thread is the only writer)."""
        key = (action, code)
        self._requests[key] = self._requests.get(key, 0) + 1
        counts = self._latency.get(action)
        if counts is None:
            counts = self._latency[action] = [0] * (len(BUCKETS) + 2)
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        counts[-1] += seconds

    def collect(self):
        totals, latencies = self._totals()
        requests = CounterMetricFamily("ec2proxy_requests", "EC2 API requests", labels=["action", "code"])
        for (action, code), count in totals.items():
            requests.add_metric([action, code], count)
        latency = HistogramMetricFamily("ec2proxy_request_seconds", "EC2 API request duration", labels=["action"])
        for action, counts in latencies.items():
            cumulative, buckets = 0, []
            for bound, count in zip(BUCKETS + (float("inf"),), counts, strict=False):  # counts ends with the sum
                cumulative += count
                buckets.append((str(float(bound)) if bound != float("inf") else "+Inf", cumulative))
            latency.add_metric([action], buckets, sum_value=counts[-1])
        return [requests, latency]

    @classmethod
    def create(cls, cloud=None) -> "Metrics":
        registry = CollectorRegistry()
        if cloud is not None:  # backend calls made: what "no call per instance" is checked against
            Gauge("ec2proxy_backend_calls", "OpenStack API calls made by this worker",
                  registry=registry).set_function(lambda: cloud.transport.calls)
            by_service = Gauge("ec2proxy_backend_calls_by_service", "OpenStack API calls made by this worker, "
                               "by service", ["service"], registry=registry)
            for service in ("identity", "compute", "image", "network", "volumev3"):
                by_service.labels(service).set_function(functools.partial(cloud.transport.by_service.__getitem__,
                                                                          service))
        metrics = cls(registry)
        registry.register(metrics)
        return metrics
