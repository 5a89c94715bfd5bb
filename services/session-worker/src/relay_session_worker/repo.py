"""SQL of the session worker: bots to run, runtime state, send idempotency."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from relay_session_worker.transports.base import BotRef, Sent


async def runnable_bots(pool: asyncpg.Pool) -> list[BotRef]:
    rows = await pool.fetch(
        "SELECT workspace_id, id, transport FROM bots WHERE status <> 'disabled' ORDER BY id"
    )
    return [BotRef(r["workspace_id"], r["id"], r["transport"]) for r in rows]


async def set_runtime_state(
    pool: asyncpg.Pool, bot: BotRef, state: str, reason: str | None
) -> None:
    await pool.execute(
        """UPDATE bots SET runtime_state = $3, runtime_reason = $4, runtime_at = now()
           WHERE workspace_id = $1 AND id = $2""",
        bot.workspace_id,
        bot.bot_id,
        state,
        reason,
    )


async def claim_send(pool: asyncpg.Pool, command_id: UUID, bot: BotRef) -> Sent | None:
    """Record that this command is being carried out; returns an earlier try's send."""
    row = await pool.fetchrow(
        """INSERT INTO sent_commands (command_id, workspace_id, bot_id) VALUES ($1, $2, $3)
           ON CONFLICT (command_id) DO UPDATE SET command_id = EXCLUDED.command_id
           RETURNING whatsapp_message_id, sent_at""",
        command_id,
        bot.workspace_id,
        bot.bot_id,
    )
    assert row is not None
    if row["whatsapp_message_id"] is None or row["sent_at"] is None:
        return None
    return Sent(row["whatsapp_message_id"], row["sent_at"])


async def record_sent(
    pool: asyncpg.Pool, command_id: UUID, whatsapp_message_id: str, sent_at: datetime
) -> None:
    await pool.execute(
        "UPDATE sent_commands SET whatsapp_message_id = $2, sent_at = $3 WHERE command_id = $1",
        command_id,
        whatsapp_message_id,
        sent_at,
    )
