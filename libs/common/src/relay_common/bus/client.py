"""Connection, stream topology and publishing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import PubAck, StorageType, StreamConfig, StreamSource
from nats.js.errors import BadRequestError

from relay_common.bus import headers as h
from relay_common.bus.consumer import Consumer, Delivery
from relay_common.contract import subjects
from relay_common.contract.envelope import Envelope
from relay_common.contract.subjects import Subject
from relay_common.logging import get_logger
from relay_common.metrics import BUS_DUPLICATES, BUS_PUBLISHED

log = get_logger(__name__)

E = TypeVar("E", bound=Envelope)


class Bus:
    """One NATS connection of one process, with the subject prefix of this installation."""

    def __init__(self, nc: NatsClient, prefix: str) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.prefix = prefix
        self.consumers: list[Consumer[Envelope]] = []
        self.on_close: Callable[[], None] = lambda: None

    async def ensure_streams(self) -> None:
        """Create or update every stream of the contract; safe to run from many processes."""
        for stream in subjects.STREAMS:
            await self._put_stream(
                StreamConfig(
                    name=stream.full_name(self.prefix),
                    subjects=[stream.wildcard(self.prefix)],
                    description=stream.description,
                    max_age=stream.max_age.total_seconds(),
                    duplicate_window=stream.duplicate_window.total_seconds(),
                    storage=StorageType.FILE,
                )
            )
        feed = subjects.FEED
        await self._put_stream(
            StreamConfig(
                name=feed.full_name(self.prefix),
                description=feed.description,
                max_age=feed.max_age.total_seconds(),
                storage=StorageType.FILE,
                sources=[
                    StreamSource(name=source.full_name(self.prefix))
                    for source in subjects.FEED_SOURCES
                ],
            )
        )

    async def _put_stream(self, config: StreamConfig) -> None:
        try:
            await self.js.add_stream(config)
        except BadRequestError:
            await self.js.update_stream(config)

    async def publish(self, message: Envelope, *, msg_id: str | None = None) -> PubAck:
        """Publish to JetStream; a repeated ``Nats-Msg-Id`` inside the window is dropped."""
        subject = message.subject_for(self.prefix)
        hdrs = {
            h.MSG_ID: msg_id or message.dedupe_id(),
            h.SCHEMA: message.subject.path,
            h.CORRELATION_ID: str(message.correlation_id or message.event_id),
        }
        if message.causation_id:
            hdrs[h.CAUSATION_ID] = str(message.causation_id)
        ack = await self.js.publish(
            subject, message.model_dump_json().encode(), headers=hdrs, timeout=5
        )
        BUS_PUBLISHED.labels(message.subject.path).inc()
        if ack.duplicate:
            BUS_DUPLICATES.labels(message.subject.path).inc()
        return ack

    def consumer(
        self,
        *,
        durable: str,
        subject: Subject,
        model: type[E],
        handler: Callable[[E, Delivery], Awaitable[None]],
        max_deliver: int = 5,
        backoff_s: tuple[float, ...] = (0.5, 2.0, 5.0, 15.0),
        ack_wait_s: float = 30.0,
        concurrency: int = 1,
        filter_subject: str | None = None,
        decode: Callable[[str, bytes], E] | None = None,
    ) -> Consumer[E]:
        """A durable pull consumer named ``<service>-<purpose>``; ``start()`` it to run."""
        consumer = Consumer(
            bus=self,
            durable=durable,
            stream=subject.stream.full_name(self.prefix),
            filter_subject=filter_subject or subject.wildcard(self.prefix),
            model=model,
            handler=handler,
            max_deliver=max_deliver,
            backoff_s=backoff_s,
            ack_wait_s=ack_wait_s,
            concurrency=concurrency,
            decode=decode,
        )
        self.consumers.append(consumer)  # type: ignore[arg-type]
        return consumer

    async def stop_consumers(self) -> None:
        """Stop fetching and let in-flight messages finish."""
        for consumer in self.consumers:
            await consumer.stop()

    async def close(self) -> None:
        await self.stop_consumers()
        self.on_close()
        if not self.nc.is_closed:
            await self.nc.drain()


async def connect_bus(url: str, prefix: str, name: str) -> Bus:
    closing = False

    async def on_error(exc: Exception) -> None:
        log.warning("nats_error", error=str(exc))

    async def on_disconnected() -> None:
        if not closing:
            log.warning("nats_disconnected")

    async def on_reconnected() -> None:
        log.info("nats_reconnected")

    nc = await nats.connect(
        servers=[s.strip() for s in url.split(",")],
        name=name,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
    )
    bus = Bus(nc, prefix)

    def mark_closing() -> None:
        nonlocal closing
        closing = True

    bus.on_close = mark_closing
    return bus
