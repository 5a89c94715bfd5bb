"""PostgreSQL access: one asyncpg pool per process and forward-only SQL migrations."""

from relay_common.db.migrate import apply_migrations
from relay_common.db.pool import DbConn, create_pool

__all__ = ["DbConn", "apply_migrations", "create_pool"]
