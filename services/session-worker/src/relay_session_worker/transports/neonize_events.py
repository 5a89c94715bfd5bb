"""Pure translation of neonize (whatsmeow) events into Relay's types: no I/O, no client.

Field names and units follow the installed neonize protobuf classes and its Go encoder:
``MessageInfo.Timestamp`` is in milliseconds, receipt, send-response and history timestamps
in seconds, ``TemporaryBan.Expire`` is a duration in seconds (not a date).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

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
from neonize.proto.Neonize_pb2 import JID, ConnectFailureReason
from neonize.utils.jid import Jid2String
from neonize.utils.message import extract_text

from relay_common.contract import Media, MessageKind, MessageReceived, SessionState
from relay_common.phone import USER_SERVER
from relay_session_worker.transports.base import BotRef, Receipt, ReceiptKind, StateDetails

LID_SERVER = "lid"
MAX_TEXT = 65536

_AD_USER = re.compile(r"(?P<user>[^.:]+)(?:\.(?P<agent>\d+))?(?::(?P<device>\d+))?")

# Epoch values past this many seconds (year 5138) can only be milliseconds.
_MS_THRESHOLD = 10**11

_WRAPPERS = (
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
)

_RECEIPT_KINDS = {
    ReceiptEv.DELIVERED: ReceiptKind.DELIVERED,
    ReceiptEv.READ: ReceiptKind.READ,
    ReceiptEv.PLAYED: ReceiptKind.PLAYED,
}

_FINAL_FAILURES = {
    ConnectFailureReason.Value(name)
    for name in (
        "LOGGED_OUT",
        "TEMP_BANNED",
        "MAIN_DEVICE_GONE",
        "UNKNOWN_LOGOUT",
        "CLIENT_OUTDATED",
        "BAD_USER_AGENT",
    )
}


class StateChange(NamedTuple):
    state: SessionState
    reason: str | None
    details: StateDetails


@dataclass(frozen=True)
class Content:
    kind: MessageKind
    text: str
    media: Media | None = None


@dataclass(frozen=True)
class Customer:
    chat_jid: str
    phone: str | None


# -- JIDs and time ---------------------------------------------------------------------


def jid_from_string(value: str) -> JID:
    """``user[.agent][:device]@server`` -> a neonize JID with every field set.

    The Go side dereferences each JID field, so an unset one crashes the process.
    """
    user, at, server = value.partition("@")
    if not at:
        user, server = "", value
    agent = device = 0
    parts = _AD_USER.fullmatch(user) if server in (USER_SERVER, LID_SERVER) else None
    if parts is not None:
        user = parts["user"]
        agent, device = int(parts["agent"] or 0), int(parts["device"] or 0)
    return JID(User=user, RawAgent=agent, Device=device, Integrator=0, Server=server, IsEmpty=False)


def jid_to_string(jid: JID) -> str:
    return str(Jid2String(jid))


def phone_of(jid: JID) -> str | None:
    """The E.164 number of a phone-number JID (``+`` and digits), else None."""
    user = str(jid.User)
    return f"+{user}" if jid.Server == USER_SERVER and user.isdigit() else None


def from_epoch(value: int, *, now: datetime | None = None) -> datetime:
    """Seconds or milliseconds since the epoch; 0 (unknown) means now."""
    if value <= 0:
        return now or datetime.now(UTC)
    seconds = value / 1000 if value > _MS_THRESHOLD else value
    return datetime.fromtimestamp(seconds, UTC)


def customer_of(chat: JID, alternative: JID) -> Customer | None:
    """The customer of a one-to-one chat, by phone number when WhatsApp tells it.

    Chats addressed by a hidden ``@lid`` id are mapped to the phone JID (the alternative
    address) so a lead keeps its phone and de-duplication holds; without one the lid
    chat is kept. Groups, broadcasts, status updates and newsletters have no customer.
    """
    if chat.Server == USER_SERVER:
        phone = phone_of(chat)
        return Customer(f"{chat.User}@{USER_SERVER}", phone) if phone else None
    if chat.Server != LID_SERVER or not chat.User:
        return None
    phone = phone_of(alternative)
    if phone is not None:
        return Customer(f"{alternative.User}@{USER_SERVER}", phone)
    return Customer(f"{chat.User}@{LID_SERVER}", None)


# -- message content -------------------------------------------------------------------


def _unwrap(message: Any) -> Any:
    """Open ephemeral, view-once and document-with-caption envelopes."""
    for _ in range(4):
        wrapper = next((name for name in _WRAPPERS if message.HasField(name)), None)
        if wrapper is None:
            break
        message = getattr(message, wrapper).message
    return message


def _media(part: Any, file_name: str | None = None) -> Media:
    return Media(
        mime_type=str(part.mimetype) or None,
        file_name=file_name or None,
        size_bytes=int(part.fileLength) or None,
        sha256=bytes(part.fileSHA256).hex() or None,
    )


def message_content(message: Any) -> Content | None:
    """Kind, text (or caption) and media facts of an E2E message; None when unusable."""
    message = _unwrap(message)
    text = str(extract_text(message))[:MAX_TEXT]
    if message.HasField("imageMessage"):
        return Content(MessageKind.IMAGE, text, _media(message.imageMessage))
    if message.HasField("videoMessage") or message.HasField("ptvMessage"):
        video = message.videoMessage if message.HasField("videoMessage") else message.ptvMessage
        return Content(MessageKind.VIDEO, str(video.caption)[:MAX_TEXT], _media(video))
    if message.HasField("audioMessage"):
        return Content(MessageKind.AUDIO, "", _media(message.audioMessage))
    if message.HasField("documentMessage"):
        doc = message.documentMessage
        return Content(MessageKind.DOCUMENT, text, _media(doc, str(doc.fileName)))
    if message.HasField("locationMessage") or message.HasField("liveLocationMessage"):
        return Content(MessageKind.LOCATION, _location_text(message))
    if message.HasField("contactMessage"):
        contact = message.contactMessage
        return Content(MessageKind.CONTACT, str(contact.vcard or contact.displayName)[:MAX_TEXT])
    if message.HasField("contactsArrayMessage"):
        vcards = [str(c.vcard) for c in message.contactsArrayMessage.contacts]
        return Content(MessageKind.CONTACT, "\n".join(vcards)[:MAX_TEXT])
    if message.HasField("stickerMessage"):
        return Content(MessageKind.OTHER, "", _media(message.stickerMessage))
    if text:
        return Content(MessageKind.TEXT, text)
    return None


def _location_text(message: Any) -> str:
    if message.HasField("locationMessage"):
        place = message.locationMessage
        label = ", ".join(part for part in (str(place.name), str(place.address)) if part)
    else:
        place = message.liveLocationMessage
        label = str(place.caption)
    where = f"{place.degreesLatitude:.6f},{place.degreesLongitude:.6f}"
    return f"{label} ({where})" if label else where


# -- messages --------------------------------------------------------------------------


def message_received(
    event: MessageEv,
    bot: BotRef,
    *,
    offline_cutoff: datetime | None = None,
) -> MessageReceived | None:
    """A live (or offline-queued) message; None for groups, broadcasts and non-content.

    ``sender_phone`` is the customer's number also for ``from_me`` messages (typed on the
    bot's phone): it identifies the lead. ``stale`` marks queued messages older than
    ``offline_cutoff``.
    """
    info = event.Info
    source = info.MessageSource
    if source.IsGroup:
        return None
    from_me = bool(source.IsFromMe)
    customer = customer_of(source.Chat, source.RecipientAlt if from_me else source.SenderAlt)
    content = message_content(event.Message)
    if customer is None or content is None or not info.ID:
        return None
    sent_at = from_epoch(int(info.Timestamp))
    return MessageReceived(
        workspace_id=bot.workspace_id,
        bot_id=bot.bot_id,
        whatsapp_message_id=str(info.ID),
        chat_jid=customer.chat_jid,
        sender_phone=customer.phone,
        push_name=None if from_me else (str(info.Pushname)[:256] or None),
        kind=content.kind,
        text=content.text,
        media=content.media,
        sent_at=sent_at,
        from_me=from_me,
        stale=offline_cutoff is not None and sent_at < offline_cutoff,
    )


def history_messages(event: HistorySyncEv, bot: BotRef) -> list[MessageReceived]:
    """Every one-to-one message of a history sync chunk, marked ``is_history``."""
    data = event.Data
    phone_for_lid = {str(m.lidJID): str(m.pnJID) for m in data.phoneNumberToLidMappings}
    found: list[MessageReceived] = []
    for conversation in data.conversations:
        chat_id = str(conversation.ID)
        alternative = str(conversation.pnJID) or phone_for_lid.get(chat_id, "")
        customer = customer_of(jid_from_string(chat_id), jid_from_string(alternative))
        if customer is None:
            continue
        for item in conversation.messages:
            try:
                message = _history_message(item.message, customer, bot)
            except ValueError:  # e.g. an id longer than the contract allows
                continue
            if message is not None:
                found.append(message)
    return found


def _history_message(info: Any, customer: Customer, bot: BotRef) -> MessageReceived | None:
    content = message_content(info.message)
    if content is None or not info.key.ID:
        return None
    from_me = bool(info.key.fromMe)
    return MessageReceived(
        workspace_id=bot.workspace_id,
        bot_id=bot.bot_id,
        whatsapp_message_id=str(info.key.ID),
        chat_jid=customer.chat_jid,
        sender_phone=customer.phone,
        push_name=None if from_me else (str(info.pushName)[:256] or None),
        kind=content.kind,
        text=content.text,
        media=content.media,
        sent_at=from_epoch(int(info.messageTimestamp)),
        from_me=from_me,
        is_history=True,
    )


def receipt(event: ReceiptEv) -> Receipt | None:
    """Delivered, read and played receipts of one-to-one chats; None for the rest."""
    kind = _RECEIPT_KINDS.get(event.Type)
    source = event.MessageSource
    if kind is None or source.IsGroup or not event.MessageIDs:
        return None
    customer = customer_of(source.Chat, source.SenderAlt)
    if customer is None:
        return None
    return Receipt(
        chat_jid=customer.chat_jid,
        whatsapp_message_ids=tuple(str(i) for i in event.MessageIDs),
        kind=kind,
        at=from_epoch(int(event.Timestamp)),
    )


# -- session state ---------------------------------------------------------------------


def _words(enum: Any, value: int) -> str:
    try:
        return str(enum.Name(value)).lower().replace("_", " ")
    except ValueError:
        return f"code {value}"


def paired_device(event: PairStatusEv) -> StateDetails:
    return StateDetails(device_jid=jid_to_string(event.ID), phone_number=phone_of(event.ID))


def state_change(event: object, *, now: datetime) -> StateChange | None:
    """The session state a neonize state event means; None for other events."""
    details = StateDetails()
    if isinstance(event, ConnectedEv):
        return StateChange(SessionState.CONNECTED, None, details)
    if isinstance(event, KeepAliveRestoredEv):
        return StateChange(SessionState.CONNECTED, "keepalive restored", details)
    if isinstance(event, DisconnectedEv):
        return StateChange(SessionState.DISCONNECTED, "connection lost", details)
    if isinstance(event, KeepAliveTimeoutEv):
        return StateChange(SessionState.UNRESPONSIVE, "keepalive timeout", details)
    if isinstance(event, LoggedOutEv):
        reason = _words(ConnectFailureReason, event.Reason) if event.Reason else "logged out"
        return StateChange(SessionState.LOGGED_OUT, f"logged out by WhatsApp: {reason}", details)
    if isinstance(event, StreamReplacedEv):
        return StateChange(SessionState.REPLACED, "another connection took over", details)
    if isinstance(event, TemporaryBanEv):
        code = int(event.Code)
        until = now + timedelta(seconds=int(event.Expire))
        reason = f"temporary ban: {_words(TemporaryBanEv.TempBanReason, code)} (code {code})"
        return StateChange(SessionState.BANNED, reason, StateDetails(banned_until=until))
    if isinstance(event, ConnectFailureEv):
        reason = f"connect failure: {_words(ConnectFailureReason, event.Reason)}"
        message = str(event.Message)
        return StateChange(
            SessionState.DISCONNECTED, f"{reason} ({message})" if message else reason, details
        )
    if isinstance(event, ClientOutdatedEv):
        return StateChange(SessionState.DISCONNECTED, "client outdated", details)
    if isinstance(event, StreamErrorEv):
        return StateChange(SessionState.DISCONNECTED, f"stream error {event.Code}", details)
    if isinstance(event, PairStatusEv):
        if event.Status == PairStatusEv.SUCCESS:
            return StateChange(SessionState.CONNECTED, "linked", paired_device(event))
        return StateChange(SessionState.DISCONNECTED, f"pairing failed: {event.Error}", details)
    return None


def should_reconnect(event: ConnectFailureEv) -> bool:
    """Whether retrying can help: not after a logout, a ban or an outdated client."""
    return event.Reason not in _FINAL_FAILURES


def whatsmeow_gives_up(event: object) -> bool:
    """Whether whatsmeow stays disconnected after this event instead of reconnecting."""
    if isinstance(event, ConnectFailureEv):
        return True
    if isinstance(event, PairStatusEv):
        return bool(event.Status != PairStatusEv.SUCCESS)
    return isinstance(event, LoggedOutEv | StreamReplacedEv | TemporaryBanEv | ClientOutdatedEv)
