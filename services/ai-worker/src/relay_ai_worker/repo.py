"""What the AI worker reads: the bot's settings and the conversation so far."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg


@dataclass(frozen=True)
class BotSettings:
    name: str
    prompt: str
    status: str
    auto_reply: bool


async def bot_settings(pool: asyncpg.Pool, workspace_id: UUID, bot_id: UUID) -> BotSettings | None:
    row = await pool.fetchrow(
        """SELECT b.name, b.prompt, b.status, coalesce(f.auto_reply, true) AS auto_reply
           FROM bots b LEFT JOIN bot_features f ON f.bot_id = b.id
           WHERE b.workspace_id = $1 AND b.id = $2""",
        workspace_id,
        bot_id,
    )
    if row is None:
        return None
    return BotSettings(row["name"], row["prompt"], row["status"], row["auto_reply"])


async def customer_message_count(pool: asyncpg.Pool, workspace_id: UUID, lead_id: UUID) -> int:
    count: int = await pool.fetchval(
        """SELECT count(*) FROM lead_messages
           WHERE workspace_id = $1 AND lead_id = $2 AND origin = 'customer'""",
        workspace_id,
        lead_id,
    )
    return count


async def lead_name(pool: asyncpg.Pool, workspace_id: UUID, lead_id: UUID) -> str | None:
    name: str | None = await pool.fetchval(
        "SELECT name FROM leads WHERE workspace_id = $1 AND id = $2", workspace_id, lead_id
    )
    return name
