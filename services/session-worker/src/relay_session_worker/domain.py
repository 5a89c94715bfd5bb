"""Pure rules of the session worker."""

from __future__ import annotations

from uuid import UUID


def outgoing_message_id(command_id: UUID) -> str:
    """WhatsApp message id for a send command, derived from it so a retry reuses it.

    WhatsApp Web ids are upper-case hex starting with ``3EB0``; the receiving side drops
    a second message with an id it already has.
    """
    return "3EB0" + command_id.hex[:16].upper()
