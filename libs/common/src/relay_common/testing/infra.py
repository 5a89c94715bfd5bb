"""Which NATS and PostgreSQL the tests use: from the environment, the usual local ports,
or embedded servers started for this run."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from relay_common.embedded import EmbeddedNats, EmbeddedPostgres, port_open, with_database


@dataclass
class Infra:
    nats_url: str
    admin_database_url: str
    """A URL of the server's maintenance database; each run creates its own database."""
    started: list[EmbeddedNats | EmbeddedPostgres] = field(default_factory=list)

    def stop(self) -> None:
        for server in reversed(self.started):
            server.stop()


def resolve_infra(scratch: Path) -> Infra:
    started: list[EmbeddedNats | EmbeddedPostgres] = []
    nats_url = os.environ.get("NATS_URL")
    if not nats_url:
        if port_open("127.0.0.1", 4222):
            nats_url = "nats://127.0.0.1:4222"
        else:
            nats = EmbeddedNats(scratch / "nats")
            nats_url = nats.start()
            started.append(nats)
    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        admin = with_database(database_url, "postgres")
    elif port_open("127.0.0.1", 5432):
        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    else:
        pg = EmbeddedPostgres(scratch / "pg", delete_on_stop=True)
        admin = pg.start()
        started.append(pg)
    return Infra(nats_url, admin, started)


def describe(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or parts.query}:{parts.port or ''}"
