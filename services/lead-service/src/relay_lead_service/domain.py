"""Pure rules of the lead service."""

from __future__ import annotations

from relay_common.contract import MessageReceived, Origin


def origin_of(message: MessageReceived) -> Origin:
    """A message written on the bot's own phone is the owner's, not the customer's."""
    return Origin.PHONE if message.from_me else Origin.CUSTOMER


def needs_reply(message: MessageReceived) -> bool:
    """Only live customer messages may get an answer: never history, stale offline
    messages (queued while the bot was offline, older than the cutoff) or own messages."""
    return not (message.from_me or message.is_history or message.stale)
