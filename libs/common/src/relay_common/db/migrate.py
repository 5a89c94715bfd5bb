"""Forward-only SQL migrations, applied at start under a PostgreSQL advisory lock.

Files in ``migrations/`` are named ``NNNN_description.sql`` and applied in order, each in
its own transaction. Many replicas may start at once: the advisory lock makes them apply
one at a time, and each re-reads what is applied after taking it. A migration already
applied whose file changed is an error, never silently skipped.

We keep this small runner rather than a library: the candidates either need a second
driver (yoyo, alembic) or lack the advisory lock (asyncpg-trek).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg

from relay_common.logging import get_logger

log = get_logger(__name__)

# Any constant works; it only has to be the same for every process of every service.
MIGRATION_LOCK_KEY = 7_351_102_941
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(folder: Path | None = None) -> list[Migration]:
    root = folder or Path(str(resources.files("relay_common.db") / "migrations"))
    found: list[Migration] = []
    for path in sorted(root.iterdir()):
        if path.suffix != ".sql":
            continue
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file name {path.name!r} is not NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration versions must be 1..n without gaps, got {versions}")
    return found


async def apply_migrations(dsn: str, folder: Path | None = None) -> list[int]:
    """Apply pending migrations; returns the versions this call applied."""
    migrations = load_migrations(folder)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            return await _apply_locked(conn, migrations)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await conn.close()


async def _apply_locked(conn: asyncpg.Connection, migrations: list[Migration]) -> list[int]:
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version integer PRIMARY KEY,
               name text NOT NULL,
               checksum text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    applied = {
        row["version"]: row["checksum"]
        for row in await conn.fetch("SELECT version, checksum FROM schema_migrations")
    }
    done: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} changed after it was"
                    " applied; add a new migration instead"
                )
            continue
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
        log.info("migration_applied", version=migration.version, name=migration.name)
        done.append(migration.version)
    return done
