"""SQL about the images bots may send.

The bytes live once per workspace in ``media_blobs`` (by sha256), so any worker can send
them; ``bot_images`` says which bot may send which, and on which keywords.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from relay_common.db import DbConn

IMAGE_COLUMNS = "id, bot_id, sha256, content_type, size_bytes, original_name, keywords, created_at"


async def list_images(pool: asyncpg.Pool, workspace_id: UUID, bot_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"""SELECT {IMAGE_COLUMNS} FROM bot_images
            WHERE workspace_id = $1 AND bot_id = $2 ORDER BY created_at, id""",
        workspace_id,
        bot_id,
    )
    return [dict(r) for r in rows]


async def count_images(conn: DbConn, workspace_id: UUID, bot_id: UUID) -> int:
    found: int = await conn.fetchval(
        "SELECT count(*) FROM bot_images WHERE workspace_id = $1 AND bot_id = $2",
        workspace_id,
        bot_id,
    )
    return found


async def image_with_hash(
    conn: DbConn, workspace_id: UUID, bot_id: UUID, sha256: str
) -> UUID | None:
    found: UUID | None = await conn.fetchval(
        """SELECT id FROM bot_images WHERE workspace_id = $1 AND bot_id = $2 AND sha256 = $3
           LIMIT 1""",
        workspace_id,
        bot_id,
        sha256,
    )
    return found


async def add_image(
    conn: DbConn,
    workspace_id: UUID,
    bot_id: UUID,
    *,
    sha256: str,
    content_type: str,
    data: bytes,
    original_name: str,
    keywords: list[str],
) -> dict[str, Any]:
    # DO UPDATE rather than DO NOTHING: it locks the blob row until we commit, so a
    # concurrent delete of the last image using it cannot remove the bytes under us (and
    # if that delete wins, the insert is retried by PostgreSQL and stores them again).
    await conn.execute(
        """INSERT INTO media_blobs (workspace_id, sha256, content_type, data)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (workspace_id, sha256) DO UPDATE SET content_type = EXCLUDED.content_type""",
        workspace_id,
        sha256,
        content_type,
        data,
    )
    row = await conn.fetchrow(
        f"""INSERT INTO bot_images (workspace_id, bot_id, sha256, content_type, size_bytes,
                                    original_name, keywords)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {IMAGE_COLUMNS}""",
        workspace_id,
        bot_id,
        sha256,
        content_type,
        len(data),
        original_name,
        keywords,
    )
    assert row is not None
    return dict(row)


async def set_keywords(
    conn: DbConn, workspace_id: UUID, bot_id: UUID, image_id: UUID, keywords: list[str]
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"""UPDATE bot_images SET keywords = $4
            WHERE workspace_id = $1 AND bot_id = $2 AND id = $3 RETURNING {IMAGE_COLUMNS}""",
        workspace_id,
        bot_id,
        image_id,
        keywords,
    )
    return dict(row) if row else None


async def delete_image(
    conn: DbConn, workspace_id: UUID, bot_id: UUID, image_id: UUID
) -> dict[str, Any] | None:
    """Removes the image, and its bytes when no other image of the workspace has them."""
    sha256: str | None = await conn.fetchval(
        "SELECT sha256 FROM bot_images WHERE workspace_id = $1 AND bot_id = $2 AND id = $3",
        workspace_id,
        bot_id,
        image_id,
    )
    if sha256 is None:
        return None
    await _lock_blobs(conn, workspace_id, [sha256])
    row = await conn.fetchrow(
        f"""DELETE FROM bot_images WHERE workspace_id = $1 AND bot_id = $2 AND id = $3
            RETURNING {IMAGE_COLUMNS}""",
        workspace_id,
        bot_id,
        image_id,
    )
    if row is None:
        return None
    await drop_unused_blobs(conn, workspace_id, [sha256])
    return dict(row)


async def lock_blobs_of_bot(conn: DbConn, workspace_id: UUID, bot_id: UUID) -> list[str]:
    """Locks the bytes of the bot's images (before deleting the bot); returns their hashes."""
    hashes: list[str] = [
        r["sha256"]
        for r in await conn.fetch(
            "SELECT DISTINCT sha256 FROM bot_images WHERE workspace_id = $1 AND bot_id = $2",
            workspace_id,
            bot_id,
        )
    ]
    await _lock_blobs(conn, workspace_id, hashes)
    return hashes


async def _lock_blobs(conn: DbConn, workspace_id: UUID, hashes: list[str]) -> None:
    # Held until commit, so an upload of the same bytes waits and then sees our outcome;
    # in hash order, so two transactions never wait on each other.
    await conn.execute(
        """SELECT 1 FROM media_blobs WHERE workspace_id = $1 AND sha256 = ANY($2::text[])
           ORDER BY sha256 FOR UPDATE""",
        workspace_id,
        hashes,
    )


async def drop_unused_blobs(conn: DbConn, workspace_id: UUID, hashes: list[str]) -> None:
    """Call with the blobs locked (above): this statement's fresh snapshot then sees
    every image committed by uploads that held them before us."""
    await conn.execute(
        """DELETE FROM media_blobs mb
           WHERE mb.workspace_id = $1 AND mb.sha256 = ANY($2::text[])
             AND NOT EXISTS (SELECT 1 FROM bot_images i
                             WHERE i.workspace_id = mb.workspace_id AND i.sha256 = mb.sha256)""",
        workspace_id,
        hashes,
    )


async def image_content(
    pool: asyncpg.Pool, workspace_id: UUID, bot_id: UUID, image_id: UUID
) -> tuple[str, str, bytes] | None:
    """(sha256, content type, bytes) of one of the bot's images."""
    row = await pool.fetchrow(
        """SELECT i.sha256, i.content_type, b.data
           FROM bot_images i
           JOIN media_blobs b ON b.workspace_id = i.workspace_id AND b.sha256 = i.sha256
           WHERE i.workspace_id = $1 AND i.bot_id = $2 AND i.id = $3""",
        workspace_id,
        bot_id,
        image_id,
    )
    if row is None:
        return None
    return row["sha256"], row["content_type"], bytes(row["data"])
