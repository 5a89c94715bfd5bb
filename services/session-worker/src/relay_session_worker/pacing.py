"""Pacing that protects numbers from bans: human-like typing, rate limits, warm-up.

Each bot's commands run in that bot's own consumer, so a bot waiting here never delays
another bot.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field


class PacingPolicy(BaseModel):
    """Per bot, from ``bot_features.pacing`` (JSON); missing keys take these defaults."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    typing: bool = Field(default=True, description="Show 'typing...' before a bot reply.")
    typing_ms_per_char: float = Field(default=35.0, ge=0)
    typing_min_ms: int = Field(default=700, ge=0)
    typing_max_ms: int = Field(default=5000, ge=0)
    read_before_reply: bool = Field(default=True, description="Mark read, then answer.")
    per_minute: int = Field(default=20, ge=1, description="Messages per minute per number.")
    jitter_ms: int = Field(default=600, ge=0, description="Random extra wait between sends.")
    warmup_days: int = Field(default=3, ge=0, description="Days a new number is warmed up.")
    warmup_per_day: int = Field(default=40, ge=1, description="Sends per day while warming.")
    first_contact: bool = Field(
        default=False, description="Allow messaging someone who never wrote to the bot."
    )


def typing_time_s(policy: PacingPolicy, text: str) -> float:
    """How long to show 'typing...': grows with the reply, within bounds."""
    if not policy.typing:
        return 0.0
    ms = len(text) * policy.typing_ms_per_char
    return min(max(ms, policy.typing_min_ms), policy.typing_max_ms) / 1000


def warming_up(policy: PacingPolicy, linked_at: datetime, now: datetime) -> bool:
    return now - linked_at < timedelta(days=policy.warmup_days)


class SendRate:
    """A sliding one-minute window per number, plus jitter between sends."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._sent: deque[float] = deque()
        self._rng = rng or random.Random()

    def wait_s(self, policy: PacingPolicy, now: float) -> float:
        while self._sent and now - self._sent[0] >= 60:
            self._sent.popleft()
        jitter = self._rng.uniform(0, policy.jitter_ms / 1000) if self._sent else 0.0
        if len(self._sent) < policy.per_minute:
            return jitter
        return 60 - (now - self._sent[0]) + jitter

    async def take(self, policy: PacingPolicy) -> float:
        """Wait for this number's turn; returns how long we waited."""
        waited = self.wait_s(policy, time.monotonic())
        if waited > 0:
            await asyncio.sleep(waited)
        self._sent.append(time.monotonic())
        return waited
