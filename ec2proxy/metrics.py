"""Prometheus metrics, one registry per application (two apps may share a process)."""

from __future__ import annotations

import dataclasses

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclasses.dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    _children: dict = dataclasses.field(default_factory=dict)

    def observe(self, action: str, code: str, seconds: float) -> None:
        """Count one request; label children are looked up once per (action, code)."""
        children = self._children.get((action, code))
        if children is None:
            children = self._children[(action, code)] = (
                self.requests.labels(action, code), self.latency.labels(action)
            )
        children[0].inc()
        children[1].observe(seconds)

    @classmethod
    def create(cls, cloud=None) -> "Metrics":
        registry = CollectorRegistry()
        if cloud is not None:  # backend calls made: what "no call per instance" is checked against
            Gauge("ec2proxy_backend_calls", "OpenStack API calls made by this worker",
                  registry=registry).set_function(lambda: cloud.transport.calls)
        return cls(
            registry,
            Counter("ec2proxy_requests", "EC2 API requests", ["action", "code"], registry=registry),
            Histogram(
                "ec2proxy_request_seconds",
                "EC2 API request duration",
                ["action"],
                registry=registry,
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            ),
        )
