"""Lead details from the customer's words, by the deterministic extractor (no network)."""

from __future__ import annotations

from relay_ai_worker.extraction import extract
from relay_common.contract import FoundValue
from relay_common.contract.leads import LeadField

CONFIDENCE: dict[LeadField, float] = {"phone": 0.9, "email": 0.9, "name": 0.6, "location": 0.6}
"""Parsed phones and emails are near certain; name and place patterns less so."""


def find_details(texts: list[str], region: str | None) -> dict[LeadField, FoundValue]:
    details = extract(texts, region)
    found: dict[LeadField, FoundValue] = {}
    for field, confidence in CONFIDENCE.items():
        value = getattr(details, field)
        if value:
            found[field] = FoundValue(value=value, confidence=confidence, source="deterministic")
    return found
