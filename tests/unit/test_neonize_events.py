"""neonize events (built from neonize's own protobuf classes) into Relay's types."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from neonize.aioze.events import (
    ClientOutdatedEv,
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    HistorySyncEv,
    KeepAliveRestoredEv,
    KeepAliveTimeoutEv,
    LoggedOutEv,
    MessageEv,
    PairStatusEv,
    ReceiptEv,
    StreamErrorEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.proto.Neonize_pb2 import JID, ConnectFailureReason, MessageInfo, MessageSource
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ContactMessage,
    DocumentMessage,
    ExtendedTextMessage,
    FutureProofMessage,
    ImageMessage,
    LocationMessage,
    Message,
    ProtocolMessage,
    ReactionMessage,
)
from neonize.proto.waHistorySync.WAWebProtobufsHistorySync_pb2 import (
    Conversation,
    HistorySync,
    HistorySyncMsg,
    PhoneNumberToLIDMapping,
)
from neonize.proto.waWeb.WAWebProtobufsWeb_pb2 import WebMessageInfo

from relay_common.contract import MessageKind, SessionState
from relay_session_worker.transports.base import BotRef, ReceiptKind, StateDetails
from relay_session_worker.transports.neonize_events import (
    from_epoch,
    history_messages,
    jid_from_string,
    jid_to_string,
    message_received,
    receipt,
    should_reconnect,
    state_change,
    whatsmeow_gives_up,
)

BOT = BotRef(workspace_id=uuid4(), bot_id=uuid4(), transport="whatsapp")
PHONE = "34600111222"
LID = "123456789012345"
SENT = datetime(2025, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)
NOW = datetime(2025, 3, 1, 13, 0, tzinfo=UTC)


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> JID:
    return JID(User=user, Server=server, Device=device, RawAgent=0, Integrator=0, IsEmpty=False)


def message_ev(
    content: Message,
    *,
    chat: JID | None = None,
    sender: JID | None = None,
    sender_alt: JID | None = None,
    from_me: bool = False,
    is_group: bool = False,
    sent: datetime = SENT,
    push_name: str = "Ana",
) -> Any:
    chat = chat or jid(PHONE)
    source = MessageSource(
        Chat=chat,
        Sender=sender or chat,
        IsFromMe=from_me,
        IsGroup=is_group,
        SenderAlt=sender_alt or JID(),
    )
    info = MessageInfo(
        MessageSource=source,
        ID="3EB0C767D82B6A0A9A1F",
        Pushname=push_name,
        Timestamp=int(sent.timestamp() * 1000),  # milliseconds, as neonize's encoder sends
        Type="text",
    )
    return MessageEv(Info=info, Message=content)


def test_plain_text_message() -> None:
    found = message_received(message_ev(Message(conversation="hola")), BOT)
    assert found is not None
    assert found.workspace_id == BOT.workspace_id
    assert found.bot_id == BOT.bot_id
    assert found.whatsapp_message_id == "3EB0C767D82B6A0A9A1F"
    assert found.chat_jid == f"{PHONE}@s.whatsapp.net"
    assert found.sender_phone == f"+{PHONE}"
    assert found.push_name == "Ana"
    assert (found.kind, found.text, found.media) == (MessageKind.TEXT, "hola", None)
    assert found.sent_at == SENT
    assert not (found.from_me)
    assert not (found.stale)
    assert not (found.is_history)


def test_extended_text_message() -> None:
    content = Message(extendedTextMessage=ExtendedTextMessage(text="see https://x.example"))
    found = message_received(message_ev(content), BOT)
    assert found is not None
    assert (found.kind, found.text) == (MessageKind.TEXT, "see https://x.example")


def test_image_with_caption_and_media_metadata() -> None:
    digest = hashlib.sha256(b"jpeg bytes").digest()
    image = ImageMessage(
        caption="my order", mimetype="image/jpeg", fileLength=2048, fileSHA256=digest
    )
    found = message_received(message_ev(Message(imageMessage=image)), BOT)
    assert found is not None
    assert (found.kind, found.text) == (MessageKind.IMAGE, "my order")
    assert found.media is not None
    assert found.media.mime_type == "image/jpeg"
    assert found.media.size_bytes == 2048
    assert found.media.sha256 == digest.hex()


def test_document_audio_location_and_contact() -> None:
    doc = DocumentMessage(fileName="invoice.pdf", mimetype="application/pdf", caption="here")
    wrapped = Message(
        documentWithCaptionMessage=FutureProofMessage(message={"documentMessage": doc})
    )
    found = message_received(message_ev(wrapped), BOT)
    assert found is not None
    assert found.media is not None
    assert (found.kind, found.text, found.media.file_name) == (
        MessageKind.DOCUMENT,
        "here",
        "invoice.pdf",
    )

    voice = Message(audioMessage=AudioMessage(mimetype="audio/ogg; codecs=opus", PTT=True))
    found = message_received(message_ev(voice), BOT)
    assert found is not None
    assert found.kind is MessageKind.AUDIO

    place = LocationMessage(degreesLatitude=40.4168, degreesLongitude=-3.7038, name="Sol")
    found = message_received(message_ev(Message(locationMessage=place)), BOT)
    assert found is not None
    assert (found.kind, found.text) == (MessageKind.LOCATION, "Sol (40.416800,-3.703800)")

    card = ContactMessage(displayName="Bob", vcard="BEGIN:VCARD\nFN:Bob\nEND:VCARD")
    found = message_received(message_ev(Message(contactMessage=card)), BOT)
    assert found is not None
    assert found.kind is MessageKind.CONTACT
    assert "FN:Bob" in found.text


def test_ephemeral_wrapper_is_opened() -> None:
    content = Message(ephemeralMessage=FutureProofMessage(message={"conversation": "secret"}))
    found = message_received(message_ev(content), BOT)
    assert found is not None
    assert found.text == "secret"


def test_lid_sender_is_mapped_to_the_phone_jid() -> None:
    lid_chat = jid(LID, "lid")
    event = message_ev(
        Message(conversation="hi"),
        chat=lid_chat,
        sender=jid(LID, "lid"),
        sender_alt=jid(PHONE, device=0),
    )
    found = message_received(event, BOT)
    assert found is not None
    assert found.chat_jid == f"{PHONE}@s.whatsapp.net"
    assert found.sender_phone == f"+{PHONE}"


def test_lid_sender_without_phone_keeps_the_lid_chat() -> None:
    event = message_ev(Message(conversation="hi"), chat=jid(LID, "lid"))
    found = message_received(event, BOT)
    assert found is not None
    assert (found.chat_jid, found.sender_phone) == (f"{LID}@lid", None)


def test_group_status_and_newsletter_messages_are_ignored() -> None:
    text = Message(conversation="hello all")
    group = jid("120363025246125244", "g.us")
    assert message_received(message_ev(text, chat=group, is_group=True), BOT) is None
    assert message_received(message_ev(text, chat=group), BOT) is None
    status = jid("status", "broadcast")
    assert message_received(message_ev(text, chat=status, sender=jid(PHONE)), BOT) is None
    channel = jid("120363144038483540", "newsletter")
    assert message_received(message_ev(text, chat=channel), BOT) is None


def test_messages_without_content_are_ignored() -> None:
    revoke = Message(protocolMessage=ProtocolMessage(type=ProtocolMessage.REVOKE))
    assert message_received(message_ev(revoke), BOT) is None
    reaction = Message(reactionMessage=ReactionMessage(text="👍"))
    assert message_received(message_ev(reaction), BOT) is None
    assert message_received(message_ev(Message()), BOT) is None


def test_from_me_message() -> None:
    event = message_ev(Message(conversation="typed on the phone"), from_me=True)
    found = message_received(event, BOT)
    assert found is not None
    assert found.from_me
    assert found.sender_phone == f"+{PHONE}"  # the lead's number, not the bot's
    assert found.push_name is None


def test_offline_message_older_than_the_cutoff_is_stale() -> None:
    event = message_ev(Message(conversation="are you open?"), sent=NOW - timedelta(hours=2))
    old = message_received(event, BOT, offline_cutoff=NOW - timedelta(minutes=10))
    assert old is not None
    assert old.stale
    fresh = message_ev(Message(conversation="now?"), sent=NOW - timedelta(minutes=1))
    recent = message_received(fresh, BOT, offline_cutoff=NOW - timedelta(minutes=10))
    assert recent is not None
    assert not recent.stale
    live = message_received(event, BOT)  # outside an offline sync: never stale
    assert live is not None
    assert not live.stale


def test_timestamps_in_seconds_or_milliseconds() -> None:
    assert from_epoch(int(SENT.timestamp())) == SENT.replace(microsecond=0)
    assert from_epoch(int(SENT.timestamp() * 1000)) == SENT
    assert from_epoch(0, now=NOW) == NOW


def test_history_sync() -> None:
    def web(msg_id: str, content: Message, *, from_me: bool = False) -> Any:
        return HistorySyncMsg(
            message=WebMessageInfo(
                key=MessageKey(remoteJID="x", fromMe=from_me, ID=msg_id),
                message=content,
                messageTimestamp=int(SENT.timestamp()),  # seconds in history
                pushName="Ana",
            )
        )

    data = HistorySync(
        syncType=HistorySync.RECENT,
        conversations=[
            Conversation(
                ID=f"{PHONE}@s.whatsapp.net",
                messages=[
                    web("H1", Message(conversation="old question")),
                    web("H2", Message(conversation="old answer"), from_me=True),
                    web("H3", Message(protocolMessage=ProtocolMessage())),  # skipped
                ],
            ),
            Conversation(ID=f"{LID}@lid", messages=[web("H4", Message(conversation="via lid"))]),
            Conversation(
                ID="120363025246125244@g.us", messages=[web("G1", Message(conversation="g"))]
            ),
        ],
        phoneNumberToLidMappings=[
            PhoneNumberToLIDMapping(pnJID="34600999888@s.whatsapp.net", lidJID=f"{LID}@lid")
        ],
    )
    found = history_messages(HistorySyncEv(Data=data), BOT)
    assert [m.whatsapp_message_id for m in found] == ["H1", "H2", "H4"]
    assert all(m.is_history for m in found)
    assert found[0].sent_at == SENT.replace(microsecond=0)
    assert found[0].push_name == "Ana"
    assert found[1].from_me
    assert found[1].push_name is None
    assert found[2].chat_jid == "34600999888@s.whatsapp.net"
    assert found[2].sender_phone == "+34600999888"


def test_receipts() -> None:
    at = int(NOW.timestamp())
    source = MessageSource(Chat=jid(PHONE), Sender=jid(PHONE), IsFromMe=False, IsGroup=False)
    delivered = ReceiptEv(
        MessageSource=source, MessageIDs=["A", "B"], Timestamp=at, Type=ReceiptEv.DELIVERED
    )
    found = receipt(delivered)
    assert found is not None
    assert found.chat_jid == f"{PHONE}@s.whatsapp.net"
    assert found.whatsapp_message_ids == ("A", "B")
    assert (found.kind, found.at) == (ReceiptKind.DELIVERED, NOW)

    read = receipt(ReceiptEv(MessageSource=source, MessageIDs=["A"], Timestamp=at, Type=4))
    assert read is not None
    assert read.kind is ReceiptKind.READ
    played = ReceiptEv(MessageSource=source, MessageIDs=["A"], Timestamp=at, Type=ReceiptEv.PLAYED)
    assert receipt(played) is not None
    own = ReceiptEv(MessageSource=source, MessageIDs=["A"], Timestamp=at, Type=ReceiptEv.READ_SELF)
    assert receipt(own) is None


@pytest.mark.parametrize(
    ("event", "state", "reason"),
    [
        (ConnectedEv(status=True), SessionState.CONNECTED, None),
        (DisconnectedEv(status=True), SessionState.DISCONNECTED, "connection lost"),
        (KeepAliveTimeoutEv(ErrorCount=3), SessionState.UNRESPONSIVE, "keepalive timeout"),
        (KeepAliveRestoredEv(), SessionState.CONNECTED, "keepalive restored"),
        (
            LoggedOutEv(OnConnect=True, Reason=ConnectFailureReason.Value("MAIN_DEVICE_GONE")),
            SessionState.LOGGED_OUT,
            "logged out by WhatsApp: main device gone",
        ),
        (StreamReplacedEv(), SessionState.REPLACED, "another connection took over"),
        (
            ConnectFailureEv(Reason=ConnectFailureReason.Value("SERVICE_UNAVAILABLE"), Message="x"),
            SessionState.DISCONNECTED,
            "connect failure: service unavailable (x)",
        ),
        (ClientOutdatedEv(), SessionState.DISCONNECTED, "client outdated"),
        (StreamErrorEv(Code="503"), SessionState.DISCONNECTED, "stream error 503"),
    ],
)
def test_state_events(event: Any, state: SessionState, reason: str | None) -> None:
    assert state_change(event, now=NOW) == (state, reason, StateDetails())


def test_temporary_ban_reports_until_when() -> None:
    ban = TemporaryBanEv(Code=TemporaryBanEv.BLOCKED_BY_USERS, Expire=3600)
    change = state_change(ban, now=NOW)
    assert change is not None
    state, reason, details = change
    assert state is SessionState.BANNED
    assert reason == "temporary ban: blocked by users (code 2)"
    assert details.banned_until == NOW + timedelta(hours=1)


def test_pair_status() -> None:
    device = jid(PHONE, device=12)
    ok = PairStatusEv(ID=device, Status=PairStatusEv.SUCCESS, Platform="android")
    assert state_change(ok, now=NOW) == (
        SessionState.CONNECTED,
        "linked",
        StateDetails(device_jid=f"{PHONE}:12@s.whatsapp.net", phone_number=f"+{PHONE}"),
    )
    failed = PairStatusEv(ID=device, Status=PairStatusEv.ERROR, Error="bad signature")
    assert state_change(failed, now=NOW) == (
        SessionState.DISCONNECTED,
        "pairing failed: bad signature",
        StateDetails(),
    )
    assert whatsmeow_gives_up(failed)
    assert not whatsmeow_gives_up(ok)


def test_other_events_are_not_state_changes() -> None:
    assert state_change(MessageEv(), now=NOW) is None


def test_reconnect_decisions() -> None:
    unavailable = ConnectFailureEv(Reason=ConnectFailureReason.Value("SERVICE_UNAVAILABLE"))
    outdated = ConnectFailureEv(Reason=ConnectFailureReason.Value("CLIENT_OUTDATED"))
    assert should_reconnect(unavailable)
    assert not should_reconnect(outdated)
    assert whatsmeow_gives_up(LoggedOutEv())
    assert whatsmeow_gives_up(StreamReplacedEv())
    assert not whatsmeow_gives_up(DisconnectedEv())
    assert not whatsmeow_gives_up(ConnectedEv())


def test_jid_strings_round_trip_with_every_field_set() -> None:
    for text in (f"{PHONE}:12@s.whatsapp.net", f"{PHONE}@s.whatsapp.net", f"{LID}@lid"):
        parsed = jid_from_string(text)
        assert jid_to_string(parsed) == text
        # The Go side dereferences every field: an unset one would crash the process.
        for field in ("User", "RawAgent", "Device", "Integrator", "Server"):
            assert parsed.HasField(field)
    assert jid_from_string(f"{PHONE}:12@s.whatsapp.net").Device == 12
    assert jid_from_string("status@broadcast").Server == "broadcast"
