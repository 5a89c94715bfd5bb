"""What the AI worker reads (bots, leads, conversations, images) and its usage counter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from uuid import UUID

import asyncpg

from relay_ai_worker.engine import Turn


@dataclass(frozen=True)
class BotContext:
    name: str
    prompt: str
    status: str
    auto_reply: bool
    lead_capture: bool
    required: list[str]
    working_hours: bool
    hours_start: time
    hours_end: time
    time_zone: str
    away_message: str | None
    debounce_ms: int
    takeover_idle_s: int
    ignored_numbers: list[str]
    answer_groups: bool
    faq: list[dict[str, str]]
    history_size: int
    region: str | None


async def bot_context(pool: asyncpg.Pool, workspace_id: UUID, bot_id: UUID) -> BotContext | None:
    row = await pool.fetchrow(
        """SELECT b.name, b.prompt, b.status, f.auto_reply, f.lead_capture,
                  f.required_lead_fields, f.working_hours_enabled, f.working_hours_start,
                  f.working_hours_end, f.time_zone, f.away_message, f.debounce_ms,
                  f.takeover_idle_s, f.ignored_numbers, f.answer_groups, f.faq,
                  f.history_size, f.default_region
           FROM bots b JOIN bot_features f ON f.bot_id = b.id
           WHERE b.workspace_id = $1 AND b.id = $2""",
        workspace_id,
        bot_id,
    )
    if row is None:
        return None
    return BotContext(
        name=row["name"],
        prompt=row["prompt"],
        status=row["status"],
        auto_reply=row["auto_reply"],
        lead_capture=row["lead_capture"],
        required=list(row["required_lead_fields"]),
        working_hours=row["working_hours_enabled"],
        hours_start=row["working_hours_start"],
        hours_end=row["working_hours_end"],
        time_zone=row["time_zone"],
        away_message=row["away_message"],
        debounce_ms=row["debounce_ms"],
        takeover_idle_s=row["takeover_idle_s"],
        ignored_numbers=list(row["ignored_numbers"]),
        answer_groups=row["answer_groups"],
        faq=list(row["faq"] or []),
        history_size=row["history_size"],
        region=row["default_region"],
    )


@dataclass(frozen=True)
class LeadContext:
    values: dict[str, str | None]
    human_active_at: datetime | None


async def lead_context(pool: asyncpg.Pool, workspace_id: UUID, lead_id: UUID) -> LeadContext | None:
    row = await pool.fetchrow(
        """SELECT name, email, phone, location, human_active_at FROM leads
           WHERE workspace_id = $1 AND id = $2""",
        workspace_id,
        lead_id,
    )
    if row is None:
        return None
    values = {k: row[k] for k in ("name", "email", "phone", "location")}
    return LeadContext(values, row["human_active_at"])


async def latest_customer_message(
    pool: asyncpg.Pool, workspace_id: UUID, lead_id: UUID
) -> UUID | None:
    found: UUID | None = await pool.fetchval(
        """SELECT id FROM lead_messages
           WHERE workspace_id = $1 AND lead_id = $2 AND origin = 'customer' AND NOT is_history
           ORDER BY sent_at DESC, stored_at DESC LIMIT 1""",
        workspace_id,
        lead_id,
    )
    return found


async def history(pool: asyncpg.Pool, workspace_id: UUID, lead_id: UUID, size: int) -> list[Turn]:
    rows = await pool.fetch(
        """SELECT origin, body FROM lead_messages
           WHERE workspace_id = $1 AND lead_id = $2 AND body <> ''
           ORDER BY sent_at DESC, stored_at DESC LIMIT $3""",
        workspace_id,
        lead_id,
        size,
    )
    return [Turn(r["origin"], r["body"]) for r in reversed(rows)]


def burst_of(turns: list[Turn]) -> list[str]:
    """The customer's messages since the last message from anyone else."""
    burst: list[str] = []
    for turn in reversed(turns):
        if turn.origin != "customer":
            break
        burst.append(turn.text)
    return list(reversed(burst))


@dataclass(frozen=True)
class BotImage:
    sha256: str
    keywords: list[str]


async def images(pool: asyncpg.Pool, workspace_id: UUID, bot_id: UUID) -> list[BotImage]:
    rows = await pool.fetch(
        """SELECT DISTINCT ON (sha256) sha256, keywords FROM bot_images
           WHERE workspace_id = $1 AND bot_id = $2 ORDER BY sha256, created_at""",
        workspace_id,
        bot_id,
    )
    return [BotImage(r["sha256"], list(r["keywords"])) for r in rows]


async def record_usage(
    pool: asyncpg.Pool, workspace_id: UUID, bot_id: UUID, prompt_tokens: int, completion_tokens: int
) -> None:
    await pool.execute(
        """INSERT INTO model_usage (workspace_id, bot_id, month, calls, prompt_tokens,
                                    completion_tokens)
           VALUES ($1, $2, date_trunc('month', now())::date, 1, $3, $4)
           ON CONFLICT (bot_id, month) DO UPDATE
               SET calls = model_usage.calls + 1,
                   prompt_tokens = model_usage.prompt_tokens + EXCLUDED.prompt_tokens,
                   completion_tokens
                       = model_usage.completion_tokens + EXCLUDED.completion_tokens""",
        workspace_id,
        bot_id,
        prompt_tokens,
        completion_tokens,
    )
