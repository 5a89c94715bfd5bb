"""Lead details (phone, e-mail, name, location) pulled out of a conversation without a model."""

from __future__ import annotations

from relay_ai_worker.extraction.deterministic import (
    Lead,
    Message,
    extract,
    message_from,
    normalize_region,
    request_from,
)

__all__ = ["Lead", "Message", "extract", "message_from", "normalize_region", "request_from"]
