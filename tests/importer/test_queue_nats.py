"""The NATS JetStream backend of the submission queue, on the real NATS server."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from nats.js import api

from earmark.db.engine import Databases
from earmark.importer.nats_queue import NatsDelivery, NatsQueue
from earmark.importer.queue import Delivery, QueueError
from tests.importer.support import age_pending, submit_placeholders
from tests.index.process import free_port
from tests.services import NATS_URL

T = TypeVar("T")


def _queue(stream: str, **kwargs: Any) -> NatsQueue:
    kwargs.setdefault("ack_wait", 1.0)
    kwargs.setdefault("max_deliveries", 3)
    return NatsQueue(NATS_URL, stream, **kwargs)


def _with(queue: NatsQueue, scenario: Callable[[NatsQueue], Awaitable[T]]) -> T:
    async def run() -> T:
        async with queue:
            return await scenario(queue)

    return asyncio.run(run())


async def _messages(queue: NatsQueue, expected: int) -> int:
    """Messages the stream holds (work queue: not yet acknowledged or terminated). The server
    applies acks and terms asynchronously, so this polls for ``expected`` (up to 30 s: a
    failure bound, it returns as soon as the count is there)."""
    deadline = time.monotonic() + 30
    while True:
        info = await queue.jetstream.stream_info(queue.stream)
        count = int(info.state.messages)
        if count == expected or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.02)


def _ids(deliveries: list[Delivery]) -> list[int | None]:
    return [d.submission_id for d in deliveries]


def _nats(delivery: Delivery) -> NatsDelivery:
    assert isinstance(delivery, NatsDelivery)
    return delivery


def test_stream_and_consumer_are_a_bounded_work_queue(nats_stream: str) -> None:
    async def scenario(queue: NatsQueue) -> tuple[api.StreamConfig, api.ConsumerConfig]:
        assert await queue.fetch(1, wait=0.05) == []  # creates the consumer
        stream = await queue.jetstream.stream_info(nats_stream)
        consumer = await queue.jetstream.consumer_info(nats_stream, "importer")
        return stream.config, consumer.config

    stream, consumer = _with(_queue(nats_stream, max_deliveries=4, ack_wait=2.0), scenario)
    assert stream.retention == api.RetentionPolicy.WORK_QUEUE
    assert stream.storage == api.StorageType.FILE
    assert stream.duplicate_window == 120
    assert stream.subjects == [f"{nats_stream}.>"]
    assert consumer.durable_name == "importer"
    assert consumer.ack_policy == api.AckPolicy.EXPLICIT
    assert consumer.max_deliver == 4
    assert consumer.backoff == [2.0, 4.0, 8.0]  # one step fewer than deliveries
    assert consumer.ack_wait == 2.0
    assert consumer.filter_subject == f"{nats_stream}.submission"


def test_a_second_start_with_another_configuration_updates_it(nats_stream: str) -> None:
    _with(_queue(nats_stream, duplicate_window=60), lambda q: q.fetch(1, wait=0.05))

    async def scenario(queue: NatsQueue) -> tuple[float, int | None]:
        await queue.fetch(1, wait=0.05)
        stream = await queue.jetstream.stream_info(nats_stream)
        consumer = await queue.jetstream.consumer_info(nats_stream, "importer")
        return stream.config.duplicate_window, consumer.config.max_deliver

    assert _with(_queue(nats_stream, duplicate_window=30, max_deliveries=1), scenario) == (30, 1)


def test_publish_fetch_ack(nats_stream: str) -> None:
    async def scenario(queue: NatsQueue) -> None:
        assert await queue.publish([11, 12, 13]) == 3
        deliveries = await queue.fetch(10, wait=1)
        assert _ids(deliveries) == [11, 12, 13]
        for delivery in deliveries:
            assert not delivery.redelivered
            assert not delivery.last
            assert _nats(delivery).delivery_count == 1
            await delivery.ack()
        assert await _messages(queue, 0) == 0
        assert await queue.fetch(10, wait=0.2) == []

    _with(_queue(nats_stream), scenario)


def test_republishing_an_id_is_deduplicated(nats_stream: str) -> None:
    async def scenario(queue: NatsQueue) -> None:
        assert await queue.publish([7]) == 1
        assert await queue.publish([7, 8]) == 1  # 7 again: dropped by its Nats-Msg-Id
        assert await _messages(queue, 2) == 2
        assert _ids(await queue.fetch(10, wait=1)) == [7, 8]

    _with(_queue(nats_stream), scenario)


def test_republishing_after_the_duplicate_window_is_stored(nats_stream: str) -> None:
    """What the stale-row sweep relies on: once the window is over, the same id gets in."""

    async def scenario(queue: NatsQueue) -> None:
        assert await queue.publish([9]) == 1
        assert await queue.publish([9]) == 0
        (delivery,) = await queue.fetch(1, wait=1)
        await delivery.ack()
        await asyncio.sleep(1.1)
        assert await queue.publish([9]) == 1

    _with(_queue(nats_stream, duplicate_window=1.0), scenario)


def test_retry_redelivers_after_the_delay(nats_stream: str) -> None:
    async def scenario(queue: NatsQueue) -> None:
        await queue.publish([5])
        (first,) = await queue.fetch(10, wait=1)
        retried = time.monotonic()
        await first.retry(1.0)
        assert await queue.fetch(10, wait=0.05) == []
        (again,) = await queue.fetch(1, wait=30)  # returns with the redelivery
        # The delay is the feature: no redelivery before it (less NATS' timer granularity).
        assert time.monotonic() - retried >= 0.9
        assert again.submission_id == 5
        assert again.redelivered
        assert _nats(again).delivery_count == 2
        await again.ack()

    _with(_queue(nats_stream), scenario)


def test_retry_on_the_last_delivery_requeues_a_fresh_message(nats_stream: str) -> None:
    """A submission that is only ever "busy" must not run out of deliveries."""

    async def scenario(queue: NatsQueue) -> None:
        await queue.publish([21])
        (first,) = await queue.fetch(1, wait=1)
        await first.retry(0)
        (second,) = await queue.fetch(1, wait=2)
        assert second.last
        await second.retry(0)
        (fresh,) = await queue.fetch(1, wait=2)
        assert fresh.submission_id == 21
        assert _nats(fresh).delivery_count == 1
        assert await _messages(queue, 1) == 1  # the old message is gone, the new one waits
        await fresh.ack()
        assert await _messages(queue, 0) == 0

    _with(_queue(nats_stream, max_deliveries=2), scenario)


def test_fail_terminates_the_message(nats_stream: str) -> None:
    async def scenario(queue: NatsQueue) -> None:
        await queue.publish([31])
        (delivery,) = await queue.fetch(1, wait=1)
        await delivery.fail()
        assert await _messages(queue, 0) == 0
        assert await queue.fetch(1, wait=0.7) == []  # past the ack wait: no redelivery

    _with(_queue(nats_stream, ack_wait=0.5), scenario)


def test_a_malformed_message_is_dropped(nats_stream: str) -> None:
    async def scenario(queue: NatsQueue) -> None:
        await queue.jetstream.publish(queue.subject, b"not an id", stream=nats_stream)
        await queue.publish([41])
        assert _ids(await queue.fetch(10, wait=1)) == [41]
        assert await _messages(queue, 1) == 1

    _with(_queue(nats_stream), scenario)


def test_unacknowledged_messages_come_back_after_the_ack_wait(nats_stream: str) -> None:
    """A consumer that dies mid-batch: its messages go to the next one."""

    async def crashed(queue: NatsQueue) -> list[int | None]:
        await queue.publish([51, 52])
        return _ids(await queue.fetch(10, wait=1))  # and never settled

    assert _with(_queue(nats_stream, ack_wait=0.5), crashed) == [51, 52]

    async def next_consumer(queue: NatsQueue) -> None:
        # The fetch returns once it has both: redelivered after the 0.5 s ack wait, long
        # before the 30 s (a failure bound) are over.
        deliveries = await queue.fetch(2, wait=30)
        assert _ids(deliveries) == [51, 52]
        assert all(d.redelivered for d in deliveries)
        for delivery in deliveries:
            await delivery.ack()

    _with(_queue(nats_stream, ack_wait=0.5), next_consumer)


def test_a_long_batch_is_kept_from_redelivery(nats_stream: str) -> None:
    """The worker tells the server it is still busy, so slow imports are not redelivered."""
    holder, other = _queue(nats_stream, ack_wait=0.3), _queue(nats_stream, ack_wait=0.3)

    async def scenario() -> None:
        async with holder, other:
            await holder.publish([61])
            (held,) = await holder.fetch(1, wait=1)
            assert await other.fetch(1, wait=1.0) == []  # over three ack waits
            await held.ack()
            assert await _messages(holder, 0) == 0

    asyncio.run(scenario())


def test_republish_stale_sends_only_old_pending_rows(dbs: Databases, nats_stream: str) -> None:
    lost = submit_placeholders(dbs, 2)
    fresh = submit_placeholders(dbs, 1)
    age_pending(dbs, lost, 3600)

    async def scenario(queue: NatsQueue) -> None:
        assert await queue.republish_stale(dbs) == 2
        assert await queue.republish_stale(dbs) == 0  # same ids within the duplicate window
        deliveries = await queue.fetch(10, wait=1)
        assert _ids(deliveries) == lost
        assert fresh[0] not in _ids(deliveries)

    _with(_queue(nats_stream, republish_after=600), scenario)


def test_publish_without_nats_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    queue = NatsQueue(
        f"nats://127.0.0.1:{free_port()}", "UNREACHABLE", connect_attempts=1, reconnect_wait=0.05
    )

    async def scenario() -> None:
        assert await queue.publish([1, 2]) == 0
        with pytest.raises(QueueError, match="cannot connect to NATS"):
            await queue.fetch(1, wait=0.1)
        await queue.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    assert "stay pending" in caplog.text
