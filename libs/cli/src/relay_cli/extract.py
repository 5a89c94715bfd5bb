"""`relay extract`: lead details for each JSON line on stdin, one JSON line out per line in."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import BinaryIO, TextIO

from relay_ai_worker.extraction import extract, normalize_region, request_from

EMPTY: dict[str, str | None] = {"phone": None, "email": None, "name": None, "location": None}
MODEL_NOT_CONFIGURED = (
    "relay extract: the model extractor is not configured; "
    "run without --model for the deterministic extractor"
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


def run(lines: Iterable[bytes], out: BinaryIO, err: TextIO, default_region: str | None) -> int:
    """Answers every line in order; bad lines get an all-null answer and a note on err."""
    region = normalize_region(default_region)
    for number, line in enumerate(lines, start=1):
        result: dict[str, str | None]
        problem: str | None
        if not line.strip():
            result, problem = EMPTY, "empty line"
        else:
            result, problem = answer(line, region)
        if problem is not None:
            print(f"relay extract: line {number}: {problem}", file=err)
        out.write(json.dumps(result, ensure_ascii=False).encode() + b"\n")
    out.flush()
    return 0
