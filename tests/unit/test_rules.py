"""Pure rules of the services, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from relay_ai_worker.domain import reply_command_id, should_answer
from relay_common.contract import LeadMessageRecorded, MessageReceived, Origin
from relay_common.phone import chat_jid_for_phone, phone_for_chat_jid
from relay_lead_service.domain import needs_reply, origin_of
from relay_session_worker.domain import outgoing_message_id


def test_phone_and_chat_id_round_trip() -> None:
    assert chat_jid_for_phone("+34600111222") == "34600111222@s.whatsapp.net"
    assert phone_for_chat_jid("34600111222@s.whatsapp.net") == "+34600111222"
    assert phone_for_chat_jid("34600111222:7@s.whatsapp.net") == "+34600111222"
    for bad in ("12345@g.us", "abc@s.whatsapp.net", "status@broadcast"):
        with pytest.raises(ValueError, match="not a phone chat id"):
            phone_for_chat_jid(bad)
    with pytest.raises(ValueError, match=r"E\.164"):
        chat_jid_for_phone("+34 600")


def test_reply_command_id_is_stable_per_message_and_bot() -> None:
    bot = uuid4()
    assert reply_command_id(bot, "A") == reply_command_id(bot, "A")
    assert reply_command_id(bot, "A") != reply_command_id(bot, "B")
    assert reply_command_id(bot, "A") != reply_command_id(uuid4(), "A")


def test_outgoing_whatsapp_id_is_derived_from_the_command() -> None:
    command = uuid4()
    assert outgoing_message_id(command) == outgoing_message_id(command)
    assert outgoing_message_id(command).startswith("3EB0")
    assert outgoing_message_id(command) != outgoing_message_id(uuid4())


def _received(**extra: object) -> MessageReceived:
    fields: dict[str, object] = {
        "workspace_id": uuid4(),
        "bot_id": uuid4(),
        "whatsapp_message_id": "X",
        "chat_jid": "1555000@s.whatsapp.net",
        "sent_at": datetime.now(UTC),
    }
    return MessageReceived(**(fields | extra))


def test_history_and_own_messages_never_need_a_reply() -> None:
    assert needs_reply(_received())
    assert not needs_reply(_received(is_history=True))
    assert not needs_reply(_received(from_me=True))
    assert not needs_reply(_received(stale=True))
    assert origin_of(_received(from_me=True)) is Origin.PHONE
    assert origin_of(_received()) is Origin.CUSTOMER


@pytest.mark.parametrize(
    ("origin", "needs", "status", "auto", "expected"),
    [
        (Origin.CUSTOMER, True, "enabled", True, True),
        (Origin.CUSTOMER, True, "paused", True, False),
        (Origin.CUSTOMER, True, "disabled", True, False),
        (Origin.CUSTOMER, True, "enabled", False, False),
        (Origin.CUSTOMER, False, "enabled", True, False),
        (Origin.BOT, True, "enabled", True, False),
    ],
)
def test_should_answer(
    origin: Origin, needs: bool, status: str, auto: bool, expected: bool
) -> None:
    message = LeadMessageRecorded(
        workspace_id=uuid4(),
        bot_id=uuid4(),
        lead_id=uuid4(),
        chat_jid="1@s.whatsapp.net",
        message_id=uuid4(),
        whatsapp_message_id="X",
        origin=origin,
        text="hi",
        sent_at=datetime.now(UTC),
        needs_reply=needs,
    )
    assert should_answer(message, bot_status=status, auto_reply=auto) is expected
