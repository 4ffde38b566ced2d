"""The feed of OpenStack's notifications into the live view: one queue on the operators' RabbitMQ, shared by
every worker of every proxy (competing consumers: each message is applied by one of them).

aio-pika is the consumer: native asyncio on the proxy's own loop, a robust connection that comes back after the
broker does, per-message acknowledgement. (oslo.messaging's notification listener would bring its executor
threads and oslo.config into the proxy for the same AMQP consumption.)

The exchanges are declared before the queue is bound to them, as oslo.messaging declares them (topic, not
durable): an exchange exists only once its service has published, and a queue bound after that misses what came
first. A message that is no notification is counted and dropped; a change is acknowledged once applied, or
given back to the queue when the database is away.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import functools
import logging
from typing import AsyncIterator, Callable

import aio_pika
from aio_pika.exceptions import ChannelPreconditionFailed
from prometheus_client import Gauge

from ec2proxy import db
from ec2proxy.cloud import notifications
from ec2proxy.state import live_view, view_sweep

log = logging.getLogger(__name__)
# Where each service sends (the services' defaults: Cinder's exchange is oslo.messaging's own, "openstack")
BINDINGS = {"nova": ("versioned_notifications.*",), "neutron": ("notifications.*",),
            "openstack": ("notifications.*",)}
QUEUE = "ec2proxy-live-view"
PREFETCH = 256  # messages on their way to this consumer, unacknowledged
BATCH = 32  # changes applied in one transaction
RETRY = 5.0  # seconds between attempts to reach a broker that is away
OUTCOMES = ("applied", "stale", "ignored", "foreign", "malformed", "requeued", "failed", "unreachable")


def amqp_url(transport_url: str) -> str:
    """oslo.messaging's ``rabbit://user:password@host:port/vhost`` as an AMQP URL."""
    return "amqp://" + transport_url.split("://", 1)[1] if transport_url.startswith("rabbit://") else transport_url


class Counts(collections.Counter):
    """What the feed did with the messages it took: applied, stale, ignored, foreign (of a project the proxy
    does not serve), malformed, requeued, failed."""


async def _exchange(connection, channel, name: str):
    """The service's exchange, declared as oslo.messaging declares it; one an operator made durable is taken
    as it is."""
    try:
        return channel, await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=False)
    except ChannelPreconditionFailed:
        channel = await connection.channel()
        return channel, await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, passive=True)


def _read(message, counts: Counts) -> tuple[list[notifications.Change], datetime.datetime | None]:
    """The changes a message reports and when it was sent; none when there is none to apply (counted)."""
    try:
        read = notifications.message_of(message.body)
        changes, sent = notifications.changes_of(read), notifications.sent_at(read)
    except notifications.Malformed as exc:
        counts["malformed"] += 1
        log.warning("dropped a malformed notification (%s) from exchange %s", exc, message.exchange)
        return [], None
    if not changes:
        counts["ignored"] += 1
    return changes, sent


async def _apply(batch: list, sessions, counts: Counts, served: live_view.Served) -> None:
    """Apply the changes of a batch of messages (each with its changes) in one transaction and acknowledge the
    messages; when that fails for another reason than the database being away, one by one, so that one message
    at fault costs only itself. A change of a project the proxy does not serve is dropped (a bare delete is
    kept: the project it names is the deleting caller's, not always the object's; so is an object every project
    sees)."""
    try:
        kept = await served.of(sessions, {change.project_id for _, changes in batch for change in changes})
        batch = [(message, [c for c in changes if c.project_id in kept or c.data is None or notifications.public(c)])
                 for message, changes in batch]
        foreign = [message for message, changes in batch if not changes]
        if foreign:
            batch = [(message, changes) for message, changes in batch if changes]
            counts["foreign"] += len(foreign)
            for message in foreign:
                await message.ack()
        results = iter(await live_view.apply_all(sessions, [c for _, changes in batch for c in changes])
                       if batch else [])
    except Exception as exc:
        if db.unavailable(exc):
            counts["requeued"] += len(batch)
            for message, _ in batch:
                await message.nack(requeue=True)  # the database is away: another worker, or this one later
            await asyncio.sleep(1.0)
            return
        if len(batch) > 1:
            for one in batch:
                await _apply([one], sessions, counts, served)
            return
        message, (change, *_) = batch[0]  # ours to fix; the feed goes on without it (the sweep and the reconcile
        # time repair its objects)
        counts["failed"] += 1
        log.exception("a notification (%s of %s %s) could not be applied", change.event_type, change.kind,
                      change.os_id)
        await message.nack(requeue=False)
        return
    for message, changes in batch:
        counts["applied" if any([next(results) for _ in changes]) else "stale"] += 1
        await message.ack()


async def _applier(inbox: asyncio.Queue, sessions, counts: Counts, feed: live_view.Feed | None,
                   served: live_view.Served) -> None:
    """Take what has arrived, up to BATCH messages, read each (the loop is given back between them, so API
    requests are served during a flood) and apply their changes together; then rest as long as that took, so
    that a flood takes at most about half of the worker (the broker holds the rest: at most PREFETCH
    messages are on their way to it)."""
    loop = asyncio.get_running_loop()
    while True:
        messages = [await inbox.get()]
        started = loop.time()
        while len(messages) < BATCH and not inbox.empty():
            messages.append(inbox.get_nowait())
        batch = []
        newest: datetime.datetime | None = None
        for message in messages:
            changes, sent = _read(message, counts)
            if not changes:
                await message.ack()
            else:
                batch.append((message, changes))
            newest = max(newest, sent) if newest and sent else sent or newest
            await asyncio.sleep(0)
        if batch:
            await _apply(batch, sessions, counts, served)
        if feed is not None and newest is not None:
            feed.applied(newest, waiting=not inbox.empty())
        if not inbox.empty():
            await asyncio.sleep(3 * (loop.time() - started))


async def consume(transport_url: str, sessions, counts: Counts, stop: asyncio.Event, queue_name: str = QUEUE,
                  on_ready: Callable[[], None] | None = None, bindings: dict | None = None,
                  feed: live_view.Feed | None = None) -> None:
    """Apply the notifications of the broker at ``transport_url`` until ``stop`` is set (``bindings``: other
    exchanges than the services' defaults, as an operator's configuration or a test names them; ``feed``: told
    when the connection is up and when it is not)."""
    connection = await aio_pika.connect_robust(amqp_url(transport_url))
    if feed is not None:
        connection.close_callbacks.add(feed.down)
        connection.reconnect_callbacks.add(feed.up)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        queue = await channel.declare_queue(queue_name, durable=True)
        for exchange, keys in (bindings or BINDINGS).items():
            _, declared = await _exchange(connection, await connection.channel(), exchange)
            for key in keys:
                await queue.bind(declared, routing_key=key)
        inbox: asyncio.Queue = asyncio.Queue()
        served = feed.served if feed is not None else live_view.Served()
        applier = asyncio.create_task(_applier(inbox, sessions, counts, feed, served))

        async def handle(message) -> None:
            inbox.put_nowait(message)

        tag = await queue.consume(handle)
        if feed is not None:
            feed.up()
        if on_ready is not None:
            on_ready()
        try:
            await stop.wait()
            await queue.cancel(tag)
        finally:
            applier.cancel()  # what it had not acknowledged goes back to the queue with the channel
            with contextlib.suppress(asyncio.CancelledError):
                await applier
    finally:
        if feed is not None:
            feed.down()
        await connection.close()


def parse_bindings(text: str) -> dict[str, tuple[str, ...]]:
    """``[notifications] bindings``: EXCHANGE=TOPIC pairs, space-separated."""
    out: dict[str, tuple[str, ...]] = {}
    for pair in text.split():
        exchange, _, topic = pair.partition("=")
        if not exchange or not topic:
            raise ValueError(f"[notifications] bindings: {pair!r} is not EXCHANGE=TOPIC")
        out[exchange] = (*out.get(exchange, ()), topic)
    return out


async def _forever(config, sessions, counts: Counts, stop: asyncio.Event, feed: live_view.Feed) -> None:
    """The feed, back after the broker is: while it is away the log and /metrics say so."""
    bindings = parse_bindings(config.notifications.bindings)
    while not stop.is_set():
        try:
            await consume(config.notifications.transport_url, sessions, counts, stop,
                          queue_name=config.notifications.queue, bindings=bindings, feed=feed)
        except Exception as exc:  # noqa: BLE001 - the broker away, refused, gone: tried again
            counts["unreachable"] += 1
            log.warning("the notification feed cannot reach its broker (%s: %s); trying again in %.0f s",
                        type(exc).__name__, exc, RETRY)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY)


@contextlib.asynccontextmanager
async def running(services) -> AsyncIterator[Counts]:
    """The feed while the worker serves, when ``[notifications] transport_url`` is set; its counts in
    /metrics as ``ec2proxy_notifications{outcome}``, whether it is connected as ``ec2proxy_live_view_connected``
    and how Describe* read (the view, or OpenStack directly and why) as ``ec2proxy_live_view_reads{outcome}``."""
    counts = Counts()
    config = services.config
    if not config.notifications.transport_url:
        yield counts
        return
    parse_bindings(config.notifications.bindings)  # a bad setting stops the start, not the feed later
    feed: live_view.Feed = services.live
    registry = services.metrics.registry
    gauge = Gauge("ec2proxy_notifications", "OpenStack notifications this worker took, by outcome", ["outcome"],
                  registry=registry)
    for outcome in OUTCOMES:
        gauge.labels(outcome).set_function(functools.partial(counts.__getitem__, outcome))
    Gauge("ec2proxy_live_view_connected", "Whether this worker's notification feed is connected (1) or not, "
          "when Describe* reads OpenStack directly", registry=registry).set_function(lambda: float(feed.connected))
    Gauge("ec2proxy_live_view_lag_seconds", "From when the service sent the newest notification this worker "
          "applied to when it was applied; over [notifications] bound, Describe* reads OpenStack directly",
          registry=registry).set_function(lambda: feed.lag)
    reads = Gauge("ec2proxy_live_view_reads", "Describe* answers of this worker: from the view, or read "
                  "directly and why", ["outcome"], registry=registry)
    for outcome in live_view.READS:
        reads.labels(outcome).set_function(functools.partial(feed.reads.__getitem__, outcome))
    sweeps = Gauge("ec2proxy_live_view_sweeps", "This worker's sweeps (Nova's changes-since against the view): "
                   "projects swept, changes found missed (and repaired), sweeps failed", ["outcome"],
                   registry=registry)
    for outcome in view_sweep.OUTCOMES:
        sweeps.labels(outcome).set_function(functools.partial(feed.swept.__getitem__, outcome))
    feed.configured, feed.max_age = True, float(config.notifications.reconcile)
    feed.bound, feed.sweep = float(config.notifications.bound), float(config.notifications.sweep)
    feed.sweeper = view_sweep.kick
    stop = asyncio.Event()
    task = asyncio.create_task(_forever(config, services.sessions, counts, stop, feed))
    try:
        yield counts
    finally:
        stop.set()
        await task
