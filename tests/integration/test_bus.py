"""The bus layer against a real JetStream: de-duplication, retries, dead letters, shutdown."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from nats.aio.msg import Msg

from relay_common.bus import Bus, Consumer, Delivery, RejectMessage
from relay_common.bus import headers as h
from relay_common.contract import MessageReceived
from relay_common.contract import subjects as s
from relay_common.testing.waiting import eventually


def _message(bot_id: Any = None, wa_id: str | None = None) -> MessageReceived:
    return MessageReceived(
        workspace_id=uuid4(),
        bot_id=bot_id or uuid4(),
        whatsapp_message_id=wa_id or uuid4().hex,
        chat_jid="34600111222@s.whatsapp.net",
        text="hello",
        sent_at=datetime.now(UTC),
    )


async def _started_consumer(
    bus: Bus,
    message: MessageReceived,
    handler: Callable[[MessageReceived, Delivery], Awaitable[None]],
    **options: Any,
) -> Consumer[MessageReceived]:
    """A consumer of just this message's subject, started."""
    consumer = bus.consumer(
        durable=f"test-{uuid4().hex[:8]}",
        subject=s.INBOUND_MESSAGE,
        filter_subject=message.subject_for(bus.prefix),
        model=MessageReceived,
        handler=handler,
        **options,
    )
    await consumer.start()
    return consumer


async def _dead_letters(bus: Bus, message: MessageReceived) -> list[Msg]:
    found: list[Msg] = []
    subject = s.deadletter_subject(bus.prefix, message.subject_for(bus.prefix))
    sub = await bus.js.subscribe(subject, ordered_consumer=True)
    try:
        while True:
            found.append(await sub.next_msg(timeout=0.5))
    except Exception:
        return found
    finally:
        await sub.unsubscribe()


async def test_same_msg_id_is_stored_once(bus: Bus) -> None:
    bot = uuid4()
    first = await bus.publish(_message(bot, "SAME"))
    second = await bus.publish(_message(bot, "SAME"))
    assert not first.duplicate
    assert second.duplicate
    assert second.seq == first.seq


async def test_failing_handler_is_retried_then_acked(bus: Bus) -> None:
    message = _message()
    attempts: list[int] = []

    async def flaky(event: MessageReceived, delivery: Delivery) -> None:
        if event.bot_id != message.bot_id:
            return
        attempts.append(delivery.attempt)
        if delivery.attempt < 3:
            raise RuntimeError("transient")

    consumer = await _started_consumer(bus, message, flaky, max_deliver=5, backoff_s=(0.05,))
    await bus.publish(message)
    await eventually(lambda: _value(attempts == [1, 2, 3]), within_s=10, what="three attempts")
    await asyncio.sleep(0.5)
    await consumer.stop()
    assert attempts == [1, 2, 3]
    assert await _dead_letters(bus, message) == []


async def test_handler_failing_every_time_goes_to_dead_letter(bus: Bus) -> None:
    message = _message()
    attempts: list[int] = []

    async def broken(event: MessageReceived, delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        raise RuntimeError("always")

    consumer = await _started_consumer(bus, message, broken, max_deliver=3, backoff_s=(0.05,))
    await bus.publish(message)
    dead = await eventually(lambda: _dead_letters(bus, message), within_s=10, what="dead letter")
    await consumer.stop()
    assert attempts == [1, 2, 3]
    assert len(dead) == 1
    assert json.loads(dead[0].data)["event_id"] == str(message.event_id)
    assert dead[0].headers is not None
    assert dead[0].headers[h.DEAD_ATTEMPTS] == "3"
    assert "always" in dead[0].headers[h.DEAD_REASON]
    assert dead[0].headers[h.ORIGINAL_SUBJECT] == message.subject_for(bus.prefix)


async def test_invalid_payload_and_rejection_are_dead_lettered_at_once(bus: Bus) -> None:
    good, rejected = _message(), _message()
    calls: list[str] = []

    async def handler(event: MessageReceived, _: Delivery) -> None:
        calls.append(event.whatsapp_message_id)
        if event.bot_id == rejected.bot_id:
            raise RejectMessage("no such bot")

    consumers = []
    for message in (good, rejected):
        consumers.append(await _started_consumer(bus, message, handler, max_deliver=5))
    await bus.js.publish(good.subject_for(bus.prefix), b'{"not": "a message"}')
    await bus.publish(rejected)

    dead_invalid = await eventually(lambda: _dead_letters(bus, good), what="invalid dead")
    dead_rejected = await eventually(lambda: _dead_letters(bus, rejected), what="rejected dead")
    for consumer in consumers:
        await consumer.stop()
    assert dead_invalid[0].headers is not None
    assert dead_invalid[0].headers[h.DEAD_REASON].startswith("invalid payload")
    assert dead_invalid[0].headers[h.DEAD_ATTEMPTS] == "1"
    assert dead_rejected[0].headers is not None
    assert dead_rejected[0].headers[h.DEAD_REASON] == "rejected: no such bot"
    assert calls == [rejected.whatsapp_message_id]


async def test_stop_waits_for_in_flight_messages(bus: Bus) -> None:
    message = _message()
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow(_: MessageReceived, __: Delivery) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.set()

    consumer = await _started_consumer(bus, message, slow)
    await bus.publish(message)
    await asyncio.wait_for(started.wait(), 10)
    await consumer.stop()
    assert finished.is_set()
    info = await bus.js.consumer_info(s.MESSAGES.full_name(bus.prefix), consumer.durable)
    assert info.num_ack_pending == 0
    assert info.num_pending == 0


async def _value(value: bool) -> bool:
    return value
