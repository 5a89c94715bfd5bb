"""What a bus event is called in the browser, and who may see it.

Names follow the original product's events (``NEW_QUALIFIED_LEAD``, ``QR_GENERATED``...);
events it had no name for get one in the same style.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from relay_common.contract import subjects as s
from relay_gateway.qr import qr_data_url


@dataclass(frozen=True)
class Audience:
    admins_only: bool = False
    """QR codes, pairing codes, features and schedules are for owners and admins."""
    lead_id: UUID | None = None
    """Set for lead events: vendors see them only for leads assigned to them."""


_LEAD_NAMES = {
    s.LEAD_CREATED.path: "NEW_LEAD",
    s.LEAD_UPDATED.path: "LEAD_UPDATED",
    s.LEAD_QUALIFIED.path: "NEW_QUALIFIED_LEAD",
    s.LEAD_ASSIGNED.path: "LEAD_ASSIGNED",
    s.LEAD_STATUS.path: "LEAD_STATUS_CHANGED",
}
_BOT_NAMES = {
    s.BOT_CREATED.path: ("NEW_BOT", False),
    s.BOT_UPDATED.path: ("UPDATE_BOT", False),
    s.BOT_DELETED.path: ("BOT_DELETED", False),
    s.BOT_FEATURES.path: ("BOT_FEATURES_UPDATED", True),
}


def classify(path: str, payload: dict[str, Any]) -> tuple[str, Audience] | None:
    """The browser name and audience of a bus event; None for events browsers never get."""
    if path in _LEAD_NAMES:
        return _LEAD_NAMES[path], Audience(lead_id=UUID(str(payload["lead_id"])))
    if path == s.LEAD_MESSAGE.path:
        name = "NEW_MESSAGE_FOR_SALES" if payload.get("origin") == "customer" else "MESSAGE_SENT"
        return name, Audience(lead_id=UUID(str(payload["lead_id"])))
    if path in _BOT_NAMES:
        name, admins_only = _BOT_NAMES[path]
        return name, Audience(admins_only=admins_only)
    if path == s.BOT_SCHEDULE.path:
        name = "SCHEDULE_CREATED" if payload.get("status") == "pending" else "SCHEDULE_UPDATED"
        return name, Audience(admins_only=True)
    if path == s.SESSION_STATE.path:
        if payload.get("qr_code"):
            return "QR_GENERATED", Audience(admins_only=True)
        # A pairing code is a secret of the workspace's admins, like a QR code.
        return "UPDATE_BOT", Audience(admins_only=payload.get("pair_code") is not None)
    return None


def for_browsers(path: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as browsers get it: a QR code also comes as an image to show."""
    if path == s.SESSION_STATE.path and payload.get("qr_code"):
        return payload | {"qr_data_url": qr_data_url(str(payload["qr_code"]))}
    return payload


def frame(name: str, data: object, event_id: int | None = None) -> bytes:
    """One Server-Sent Events message."""
    lines = [f"event: {name}", f"data: {json.dumps(data, separators=(',', ':'), default=str)}"]
    if event_id is not None:
        lines.insert(0, f"id: {event_id}")
    return ("\n".join(lines) + "\n\n").encode()
