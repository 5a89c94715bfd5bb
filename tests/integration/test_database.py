"""Migrations and the schema's guarantees, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest

from relay_common.db.migrate import MigrationError, apply_migrations, load_migrations
from relay_common.embedded import drop_database, ensure_database
from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.infra import Infra


@pytest.fixture
async def fresh_database(infra: Infra) -> AsyncIterator[str]:
    name = f"relay_mig_{uuid4().hex[:8]}"
    url = await ensure_database(infra.admin_database_url, name)
    yield url
    await drop_database(infra.admin_database_url, name)


async def test_many_replicas_migrate_at_once_and_each_migration_runs_once(
    fresh_database: str,
) -> None:
    results = await asyncio.gather(*(apply_migrations(fresh_database) for _ in range(6)))
    applied = sorted(v for r in results for v in r)
    assert applied == [m.version for m in load_migrations()]
    conn = await asyncpg.connect(fresh_database)
    try:
        rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    assert [r["version"] for r in rows] == applied
    assert await apply_migrations(fresh_database) == []


async def test_an_applied_migration_that_changed_is_refused(
    fresh_database: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (id int);")
    assert await apply_migrations(fresh_database, tmp_path) == [1]
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await apply_migrations(fresh_database, tmp_path)


async def test_a_failing_migration_leaves_nothing_behind(
    fresh_database: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT 1/0;")
    with pytest.raises(asyncpg.DivisionByZeroError):
        await apply_migrations(fresh_database, tmp_path)
    conn = await asyncpg.connect(fresh_database)
    try:
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 1
    finally:
        await conn.close()


async def test_gaps_in_migration_numbers_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="without gaps"):
        load_migrations(tmp_path)


async def test_a_whatsapp_message_is_stored_once_per_bot(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Once", f"once-{uuid4().hex[:6]}@example.com")
        bot = await create_bot(conn, ws.workspace_id, "bot")
        lead = await conn.fetchval(
            "INSERT INTO leads (workspace_id, bot_id, chat_jid) VALUES ($1, $2, 'c') RETURNING id",
            ws.workspace_id,
            bot,
        )
        insert = """INSERT INTO lead_messages (workspace_id, bot_id, lead_id, whatsapp_message_id,
                        origin, sent_at) VALUES ($1, $2, $3, 'WA1', 'customer', now())"""
        await conn.execute(insert, ws.workspace_id, bot, lead)
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(insert, ws.workspace_id, bot, lead)


async def test_rows_cannot_point_across_workspaces(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        a = await create_workspace(conn, "A", f"a-{uuid4().hex[:6]}@example.com")
        b = await create_workspace(conn, "B", f"b-{uuid4().hex[:6]}@example.com")
        bot_of_b = await create_bot(conn, b.workspace_id, "b's bot")
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(
                "INSERT INTO leads (workspace_id, bot_id, chat_jid) VALUES ($1, $2, 'x')",
                a.workspace_id,
                bot_of_b,
            )
