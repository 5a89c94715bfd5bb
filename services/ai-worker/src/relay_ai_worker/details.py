"""Lead details from the customer's words: the deterministic extractor (no network), then
the model's structured output for name and location when a model is configured."""

from __future__ import annotations

from pydantic import BaseModel, Field

from relay_ai_worker.extraction import extract
from relay_ai_worker.providers import ChatMessage, ChatModel, ModelError, extract_json
from relay_common.contract import FoundValue
from relay_common.contract.leads import LeadField
from relay_common.logging import get_logger

log = get_logger(__name__)

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


class NameAndPlace(BaseModel):
    name: str | None = Field(default=None, max_length=120)
    location: str | None = Field(default=None, max_length=120)


MODEL_CONFIDENCE = 0.7


async def find_with_model(
    model: ChatModel, texts: list[str], already: dict[LeadField, FoundValue]
) -> dict[LeadField, FoundValue]:
    """Name and location the model reads in the customer's words, validated; {} on failure."""
    prompt = (
        "From the customer's messages below, return JSON with keys name and location "
        "(the customer's own name and city/region), null when not stated.\n\n" + "\n".join(texts)
    )
    try:
        parsed = await extract_json(model, [ChatMessage("user", prompt)], NameAndPlace)
    except ModelError as exc:
        log.warning("model_details_failed", error=str(exc))
        return {}
    if parsed is None:
        return {}
    pairs: tuple[tuple[LeadField, str | None], ...] = (
        ("name", parsed.name),
        ("location", parsed.location),
    )
    return {
        key: FoundValue(value=value.strip(), confidence=MODEL_CONFIDENCE, source="model")
        for key, value in pairs
        if value and value.strip() and key not in already
    }
