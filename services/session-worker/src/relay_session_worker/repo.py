"""SQL of the session worker: bots to run, runtime state, devices, send idempotency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from relay_session_worker.pacing import PacingPolicy
from relay_session_worker.transports.base import BotRef, Sent, StateDetails


async def runnable_bots(pool: asyncpg.Pool, transports: list[str]) -> list[BotRef]:
    rows = await pool.fetch(
        """SELECT workspace_id, id, transport FROM bots
           WHERE status <> 'disabled' AND transport = ANY($1::text[]) ORDER BY id""",
        transports,
    )
    return [BotRef(r["workspace_id"], r["id"], r["transport"]) for r in rows]


@dataclass(frozen=True)
class BotSetup:
    paused: bool
    device_jid: str | None
    linked_at: datetime
    pacing: PacingPolicy


async def bot_setup(pool: asyncpg.Pool, bot: BotRef) -> BotSetup | None:
    row = await pool.fetchrow(
        """SELECT b.status, b.created_at, d.device_jid, d.linked_at, f.pacing
           FROM bots b
           LEFT JOIN bot_devices d ON d.bot_id = b.id
           LEFT JOIN bot_features f ON f.bot_id = b.id
           WHERE b.workspace_id = $1 AND b.id = $2""",
        bot.workspace_id,
        bot.bot_id,
    )
    if row is None:
        return None
    return BotSetup(
        paused=row["status"] == "paused",
        device_jid=row["device_jid"],
        linked_at=row["linked_at"] or row["created_at"],
        pacing=PacingPolicy.model_validate(row["pacing"] or {}),
    )


async def set_runtime_state(
    pool: asyncpg.Pool,
    bot: BotRef,
    state: str,
    reason: str | None,
    worker_id: str | None,
    details: StateDetails,
) -> None:
    await pool.execute(
        """UPDATE bots SET runtime_state = $3, runtime_reason = $4, runtime_worker = $5,
                           banned_until = $6, runtime_qr = $7, runtime_pair_code = $8,
                           runtime_at = now()
           WHERE workspace_id = $1 AND id = $2""",
        bot.workspace_id,
        bot.bot_id,
        state,
        reason,
        worker_id,
        details.banned_until,
        details.qr_code,
        details.pair_code,
    )


async def save_device(
    pool: asyncpg.Pool, bot: BotRef, device_jid: str, phone_number: str | None
) -> None:
    await pool.execute(
        """INSERT INTO bot_devices (bot_id, workspace_id, device_jid, phone_number)
           VALUES ($2, $1, $3, $4)
           ON CONFLICT (bot_id) DO UPDATE
               SET device_jid = EXCLUDED.device_jid, phone_number = EXCLUDED.phone_number,
                   linked_at = now()""",
        bot.workspace_id,
        bot.bot_id,
        device_jid,
        phone_number,
    )
    await pool.execute(
        "UPDATE bots SET phone_number = $3 WHERE workspace_id = $1 AND id = $2",
        bot.workspace_id,
        bot.bot_id,
        phone_number,
    )


async def forget_device(pool: asyncpg.Pool, bot: BotRef) -> None:
    await pool.execute(
        "DELETE FROM bot_devices WHERE workspace_id = $1 AND bot_id = $2",
        bot.workspace_id,
        bot.bot_id,
    )


@dataclass(frozen=True)
class SendClaim:
    earlier: Sent | None
    """What an earlier attempt sent, when it got that far."""
    first_attempt: bool
    """False when an earlier attempt claimed it and may have been cut off mid-send."""


async def claim_send(pool: asyncpg.Pool, command_id: UUID, bot: BotRef) -> SendClaim:
    """Record that this command is being carried out, and what earlier attempts did."""
    row = await pool.fetchrow(
        """INSERT INTO sent_commands (command_id, workspace_id, bot_id) VALUES ($1, $2, $3)
           ON CONFLICT (command_id) DO UPDATE SET command_id = EXCLUDED.command_id
           RETURNING whatsapp_message_id, sent_at, (xmax = 0) AS inserted""",
        command_id,
        bot.workspace_id,
        bot.bot_id,
    )
    assert row is not None
    earlier = None
    if row["whatsapp_message_id"] is not None and row["sent_at"] is not None:
        earlier = Sent(row["whatsapp_message_id"], row["sent_at"])
    return SendClaim(earlier, bool(row["inserted"]))


async def unclaim_send(pool: asyncpg.Pool, command_id: UUID) -> None:
    """The send failed for sure (the transport said so): a later attempt may send."""
    await pool.execute(
        "DELETE FROM sent_commands WHERE command_id = $1 AND sent_at IS NULL", command_id
    )


async def record_sent(
    pool: asyncpg.Pool, command_id: UUID, whatsapp_message_id: str, sent_at: datetime
) -> None:
    await pool.execute(
        "UPDATE sent_commands SET whatsapp_message_id = $2, sent_at = $3 WHERE command_id = $1",
        command_id,
        whatsapp_message_id,
        sent_at,
    )


async def customer_has_written(pool: asyncpg.Pool, bot: BotRef, chat_jid: str) -> bool:
    found = await pool.fetchval(
        """SELECT 1 FROM lead_messages m JOIN leads l ON l.id = m.lead_id
           WHERE l.workspace_id = $1 AND l.bot_id = $2 AND l.chat_jid = $3
             AND m.origin = 'customer' LIMIT 1""",
        bot.workspace_id,
        bot.bot_id,
        chat_jid,
    )
    return found is not None


async def sends_today(pool: asyncpg.Pool, bot: BotRef) -> int:
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    count: int = await pool.fetchval(
        "SELECT count(*) FROM sent_commands WHERE bot_id = $1 AND sent_at >= $2",
        bot.bot_id,
        midnight,
    )
    return count


async def load_image(pool: asyncpg.Pool, bot: BotRef, sha256: str) -> bytes | None:
    data: bytes | None = await pool.fetchval(
        "SELECT data FROM media_blobs WHERE workspace_id = $1 AND sha256 = $2",
        bot.workspace_id,
        sha256,
    )
    return data
