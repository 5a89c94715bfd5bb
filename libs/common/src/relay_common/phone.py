"""WhatsApp chat ids (JIDs) and phone numbers."""

from __future__ import annotations

USER_SERVER = "s.whatsapp.net"


def chat_jid_for_phone(e164: str) -> str:
    """``+34600111222`` -> ``34600111222@s.whatsapp.net``."""
    digits = e164.removeprefix("+")
    if not digits.isdigit():
        raise ValueError(f"not an E.164 number: {e164!r}")
    return f"{digits}@{USER_SERVER}"


def device_jid_for_phone(e164: str, device: int = 1) -> str:
    """A linked device of a number: ``34600111222:1@s.whatsapp.net``."""
    return chat_jid_for_phone(e164).replace("@", f":{device}@", 1)


def phone_for_chat_jid(jid: str) -> str:
    """``34600111222@s.whatsapp.net`` (or ``...:12@s.whatsapp.net``) -> ``+34600111222``."""
    user, _, server = jid.partition("@")
    user = user.split(":", 1)[0]
    if server != USER_SERVER or not user.isdigit():
        raise ValueError(f"not a phone chat id: {jid!r}")
    return f"+{user}"
