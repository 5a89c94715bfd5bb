"""Field types several resources share, so bad input is a 422 wherever it arrives."""

from __future__ import annotations

from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field

PHONE_PATTERN = r"^\+[1-9][0-9]{6,14}$"

E164Phone = Annotated[str, Field(pattern=PHONE_PATTERN, examples=["+34600111222"])]

_HOST_ZONES = frozenset({"localtime", "posixrules", "Factory"})
"""Files in the zone database that name no real place (or depend on the host)."""


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - _HOST_ZONES


def _known_zone(name: str) -> str:
    if name not in _known_zones():
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Madrid")
    return name


TimeZoneName = Annotated[
    str,
    Field(min_length=1, max_length=64, examples=["Europe/Madrid"], description="IANA time zone."),
    AfterValidator(_known_zone),
]
