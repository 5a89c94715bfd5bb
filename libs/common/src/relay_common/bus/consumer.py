"""Durable pull consumers: explicit ack after the handler, bounded retries, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

import structlog
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BadRequestError
from pydantic import ValidationError

from relay_common.bus import headers as h
from relay_common.contract import subjects
from relay_common.contract.envelope import Envelope
from relay_common.logging import get_logger
from relay_common.metrics import BUS_HANDLER_SECONDS, BUS_MESSAGES_HANDLED

if TYPE_CHECKING:
    from relay_common.bus.client import Bus

log = get_logger(__name__)

E = TypeVar("E", bound=Envelope)


class RejectMessage(Exception):  # noqa: N818 - it is a verdict, not an error state
    """Raised by a handler for a message that can never succeed: dead-letter it now."""


class UnknownMessageError(Exception):
    """A subject this consumer has no model for."""


@dataclass(frozen=True)
class Delivery:
    subject: str
    attempt: int
    max_deliver: int
    stream_sequence: int

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_deliver


class Consumer(Generic[E]):
    def __init__(
        self,
        *,
        bus: Bus,
        durable: str,
        stream: str,
        filter_subject: str,
        model: type[E],
        handler: Callable[[E, Delivery], Awaitable[None]],
        max_deliver: int,
        decode: Callable[[str, bytes], E] | None = None,
        backoff_s: tuple[float, ...],
        ack_wait_s: float,
        concurrency: int,
    ) -> None:
        self.bus = bus
        self.durable = durable
        self.stream = stream
        self.filter_subject = filter_subject
        self.model = model
        self.decode: Callable[[str, bytes], E] = decode or (
            lambda _subject, data: model.model_validate_json(data)
        )
        self.handler = handler
        self.max_deliver = max_deliver
        self.backoff_s = backoff_s
        self.ack_wait_s = ack_wait_s
        self.concurrency = concurrency
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sub: JetStreamContext.PullSubscription | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    def _config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=self.filter_subject,
            ack_wait=self.ack_wait_s,
            max_deliver=self.max_deliver,
            max_ack_pending=max(self.concurrency * 4, 64),
        )

    async def start(self) -> None:
        """Create the durable consumer (idempotent) and start fetching in the background."""
        try:
            await self.bus.js.add_consumer(self.stream, self._config())
        except BadRequestError as exc:
            # An older server refuses to change an existing durable; keep it and its position.
            log.warning("consumer_config_kept", consumer=self.durable, error=str(exc))
        self._sub = await self.bus.js.pull_subscribe_bind(durable=self.durable, stream=self.stream)
        self._task = asyncio.create_task(self._run(self._sub), name=f"consumer:{self.durable}")

    async def _run(self, sub: JetStreamContext.PullSubscription) -> None:
        fetch = sub.fetch
        while not self._stopping.is_set():
            free = self.concurrency - len(self._in_flight)
            if free <= 0:
                # Cancelling this wait (on stop) leaves the handler tasks running.
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                msgs: list[Msg] = await fetch(batch=free, timeout=1.0)
            except (TimeoutError, NatsTimeoutError):
                continue
            except Exception as exc:  # connection trouble: the client reconnects by itself
                log.warning("consumer_fetch_failed", consumer=self.durable, error=str(exc))
                await asyncio.sleep(1.0)
                continue
            for msg in msgs:
                task = asyncio.create_task(self._handle(msg))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)

    async def _handle(self, msg: Msg) -> None:
        meta = msg.metadata
        delivery = Delivery(
            subject=msg.subject,
            attempt=meta.num_delivered or 1,
            max_deliver=self.max_deliver,
            stream_sequence=meta.sequence.stream if meta.sequence else 0,
        )
        headers = msg.headers or {}
        with structlog.contextvars.bound_contextvars(
            consumer=self.durable,
            subject=msg.subject,
            attempt=delivery.attempt,
            correlation_id=headers.get(h.CORRELATION_ID),
        ):
            try:
                event = self.decode(msg.subject, msg.data)
            except (ValidationError, UnknownMessageError) as exc:
                detail = exc.errors()[:3] if isinstance(exc, ValidationError) else str(exc)
                await self._dead_letter(msg, delivery, f"invalid payload: {detail}")
                BUS_MESSAGES_HANDLED.labels(self.durable, "invalid").inc()
                return
            with structlog.contextvars.bound_contextvars(
                workspace_id=str(event.workspace_id), bot_id=str(event.bot_id)
            ):
                await self._dispatch(msg, event, delivery)

    async def _keep_alive(self, msg: Msg) -> None:
        """Tell the server we are still at it, so a short ack_wait suits slow handlers too.

        A short ack_wait is what brings a message back quickly when its consumer died.
        """
        while True:
            await asyncio.sleep(self.ack_wait_s / 3)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _dispatch(self, msg: Msg, event: E, delivery: Delivery) -> None:
        started = time.perf_counter()
        keep_alive = asyncio.create_task(self._keep_alive(msg))
        try:
            await self.handler(event, delivery)
        except RejectMessage as exc:
            await self._dead_letter(msg, delivery, f"rejected: {exc}")
            BUS_MESSAGES_HANDLED.labels(self.durable, "dead_letter").inc()
            return
        except Exception as exc:
            if delivery.is_last_attempt:
                log.exception("handler_failed_finally")
                await self._dead_letter(msg, delivery, f"failed {delivery.attempt} times: {exc!r}")
                BUS_MESSAGES_HANDLED.labels(self.durable, "dead_letter").inc()
            else:
                delay = self.backoff_s[min(delivery.attempt - 1, len(self.backoff_s) - 1)]
                log.warning("handler_failed_retrying", error=repr(exc), retry_in_s=delay)
                await msg.nak(delay=delay)
                BUS_MESSAGES_HANDLED.labels(self.durable, "retry").inc()
            return
        finally:
            keep_alive.cancel()
            BUS_HANDLER_SECONDS.labels(self.durable).observe(time.perf_counter() - started)
        # Wait for the server to confirm: once we return, a restart cannot redeliver it.
        await msg.ack_sync(timeout=5)
        BUS_MESSAGES_HANDLED.labels(self.durable, "ack").inc()

    async def _dead_letter(self, msg: Msg, delivery: Delivery, reason: str) -> None:
        prefix = self.bus.prefix
        hdrs = dict(msg.headers or {})
        hdrs.pop(h.MSG_ID, None)
        hdrs |= {
            h.DEAD_REASON: reason[:1000],
            h.DEAD_CONSUMER: self.durable,
            h.DEAD_ATTEMPTS: str(delivery.attempt),
            h.ORIGINAL_SUBJECT: msg.subject,
            h.MSG_ID: f"dead:{self.durable}:{delivery.stream_sequence}",
        }
        await self.bus.js.publish(
            subjects.deadletter_subject(prefix, msg.subject), msg.data, headers=hdrs, timeout=5
        )
        await msg.term()
        log.error("message_dead_lettered", reason=reason[:300])

    async def stop(self) -> None:
        """Stop fetching at once; messages being handled are finished first."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._sub is not None:
            # A pull subscription left open makes the connection's drain wait for its
            # unread fetch replies until the drain times out.
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
