"""A proxy with its live view on, for a test module: the embedded dev cloud notifying as Nova, Neutron and
Cinder do, on exchanges of the machine's RabbitMQ that only this test uses (a lab on the same broker keeps its
own), the proxy's feed bound to them; and how its Describe* answered (``/metrics``)."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid

BROKER = "rabbit://guest:guest@127.0.0.1:5672/"


class LiveFeed:
    def __init__(self, tag: str | None = None):
        self.tag = tag or uuid.uuid4().hex[:8]
        self.exchanges = {name: f"test-{self.tag}-{name}" for name in ("nova", "neutron", "openstack")}

    @property
    def bindings(self) -> str:
        """``[notifications] bindings`` for the test exchanges (each service's default topic)."""
        return " ".join([f"{self.exchanges['nova']}=versioned_notifications.*",
                         f"{self.exchanges['neutron']}=notifications.*",
                         f"{self.exchanges['openstack']}=notifications.*"])

    @property
    def notify(self) -> dict:
        """The dev cloud's settings to notify on them."""
        return {"EC2PROXY_DEVCLOUD_NOTIFY_URL": BROKER,
                "EC2PROXY_DEVCLOUD_NOTIFY_EXCHANGES": (f"nova={self.exchanges['nova']} "
                                                       f"neutron={self.exchanges['neutron']} "
                                                       f"cinder={self.exchanges['openstack']}")}

    @property
    def feed_env(self) -> dict:
        """``ec2proxy serve``'s environment for its feed on the test exchanges."""
        return {"EC2PROXY_NOTIFICATIONS_TRANSPORT_URL": BROKER, "EC2PROXY_NOTIFICATIONS_BINDINGS": self.bindings,
                "EC2PROXY_NOTIFICATIONS_QUEUE": f"test-{self.tag}"}

    @property
    def env(self) -> dict:
        """``ec2proxy serve``'s environment: its feed on the test exchanges, its embedded dev cloud notifying."""
        return {**self.feed_env, **self.notify}

    def reachable_or_skip(self) -> None:
        from tests.test_live_view import _broker_reachable_or_skip

        asyncio.run(_broker_reachable_or_skip())

    def cleanup(self) -> None:
        """The test's queue and exchanges removed from the shared broker (none to remove where it is absent)."""
        from tests.test_live_view import _cleanup

        try:
            asyncio.run(_cleanup(self.tag, self.exchanges.values()))
        except Exception:  # noqa: BLE001 - no broker: nothing was made on it
            pass

    def module_fixture(self):
        """For a module that uses the feed: an autouse fixture removing its queue and exchanges after it."""
        import pytest

        @pytest.fixture(scope="module", autouse=True)
        def _live_feed_removed():
            yield
            self.cleanup()

        return _live_feed_removed

    def answered(self, server) -> None:
        """Assert that some of the proxy's Describe* answers came from the live view, none late or failed: the
        module's clients were served by it (skips where the machine has no broker)."""
        self.reachable_or_skip()
        figures = metrics(server)
        assert figures.get("ec2proxy_live_view_connected") == 1.0, figures
        assert reads(server, "view") > 0, figures
        assert figures.get('ec2proxy_notifications{outcome="applied"}', 0) > 0, figures
        assert not figures.get('ec2proxy_notifications{outcome="failed"}'), figures
        assert not figures.get('ec2proxy_notifications{outcome="malformed"}'), figures


def metrics(server) -> dict[str, float]:
    """The live view's and the feed's figures in the proxy's /metrics."""
    with urllib.request.urlopen(f"{server.admin}/metrics") as response:
        lines = response.read().decode().splitlines()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines
            if line.startswith("ec2proxy_live_view") or line.startswith("ec2proxy_notifications")}


def reads(server, outcome: str) -> float:
    """How many Describe* answers of the proxy were ``outcome`` (view, down, late, unknown, written)."""
    return metrics(server).get(f'ec2proxy_live_view_reads{{outcome="{outcome}"}}', 0.0)
