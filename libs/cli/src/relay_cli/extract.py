"""`relay extract`: lead details for each JSON line on stdin, one JSON line out per line in."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import BinaryIO, TextIO

from relay_ai_worker.details import find_with_model
from relay_ai_worker.extraction import extract, normalize_region, request_from
from relay_ai_worker.providers import ChatModel
from relay_common.contract import FoundValue
from relay_common.contract.leads import LeadField

EMPTY: dict[str, str | None] = {"phone": None, "email": None, "name": None, "location": None}
MODEL_NOT_CONFIGURED = (
    "relay extract: --model needs a model: set DEEPSEEK_API_KEY (and AI_WORKER_MODEL_BASE_URL "
    "for another OpenAI-compatible server), or run without --model"
)


def answer(line: bytes, default_region: str | None) -> tuple[dict[str, str | None], str | None]:
    """The output object for one input line, and an error to report (None when fine)."""
    try:
        request = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return EMPTY, f"not JSON ({error})"
    messages, region = request_from(request)
    if not messages and not _has_messages(request):
        return EMPTY, "no messages found"
    try:
        return extract(messages, region or default_region).as_dict(), None
    except Exception as error:  # one odd conversation must not stop the stream
        return EMPTY, f"extraction failed ({type(error).__name__}: {error})"


def _has_messages(request: object) -> bool:
    """An explicit empty conversation is fine; anything else without messages is reported."""
    return isinstance(request, dict | list) and (
        request == [] or (isinstance(request, dict) and request.get("messages") == [])
    )


async def _with_model(
    model: ChatModel, line: bytes, result: dict[str, str | None]
) -> dict[str, str | None]:
    """Fills name and location from the model where the deterministic pass found none."""
    if result["name"] and result["location"]:
        return result
    messages, _ = request_from(json.loads(line))
    texts = [m.text for m in messages]
    pairs: tuple[tuple[LeadField, str | None], ...] = (
        ("name", result["name"]),
        ("location", result["location"]),
    )
    already: dict[LeadField, FoundValue] = {
        key: FoundValue(value=value, confidence=1.0, source="deterministic")
        for key, value in pairs
        if value
    }
    found = await find_with_model(model, texts, already)
    return result | {key: value.value for key, value in found.items()}


def run(
    lines: Iterable[bytes],
    out: BinaryIO,
    err: TextIO,
    default_region: str | None,
    model: ChatModel | None = None,
) -> int:
    """Answers every line in order; bad lines get an all-null answer and a note on err."""
    region = normalize_region(default_region)
    loop = asyncio.new_event_loop() if model is not None else None
    for number, line in enumerate(lines, start=1):
        result: dict[str, str | None]
        problem: str | None
        if not line.strip():
            result, problem = EMPTY, "empty line"
        else:
            result, problem = answer(line, region)
            if model is not None and loop is not None and problem is None:
                result = loop.run_until_complete(_with_model(model, line, result))
        if problem is not None:
            print(f"relay extract: line {number}: {problem}", file=err)
        out.write(json.dumps(result, ensure_ascii=False).encode() + b"\n")
    out.flush()
    if loop is not None:
        loop.close()
    return 0
