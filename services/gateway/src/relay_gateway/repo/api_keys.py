"""SQL about a workspace's API keys. Only the keys' hashes are stored."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from relay_common.db import DbConn

KEY_COLUMNS = """k.id, k.name, k.prefix, k.scopes, k.created_at, k.last_used_at, k.revoked_at,
    (SELECT u.email FROM users u WHERE u.id = k.created_by) AS created_by"""


async def create_key(
    conn: DbConn,
    workspace_id: UUID,
    name: str,
    prefix: str,
    key_hash: str,
    scopes: list[str],
    created_by: UUID | None,
) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"""INSERT INTO api_keys AS k (workspace_id, name, prefix, key_hash, scopes, created_by)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {KEY_COLUMNS}""",
        workspace_id,
        name,
        prefix,
        key_hash,
        scopes,
        created_by,
    )
    assert row is not None
    return dict(row)


async def list_keys(pool: asyncpg.Pool, workspace_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"""SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.workspace_id = $1
            ORDER BY k.created_at, k.id""",
        workspace_id,
    )
    return [dict(r) for r in rows]


async def revoke_key(conn: DbConn, workspace_id: UUID, key_id: UUID) -> tuple[str, bool] | None:
    """Revokes the key: its name and whether it was live until now; None if no such key."""
    row = await conn.fetchrow(
        """UPDATE api_keys k SET revoked_at = COALESCE(old.revoked_at, now())
           FROM api_keys old
           WHERE k.workspace_id = $1 AND k.id = $2 AND old.id = k.id
           RETURNING k.name, old.revoked_at IS NULL AS was_live""",
        workspace_id,
        key_id,
    )
    return (row["name"], row["was_live"]) if row else None
