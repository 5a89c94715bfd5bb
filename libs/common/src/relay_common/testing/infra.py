"""Which NATS and PostgreSQL the tests use (see ``relay_common.embedded.local_servers``)."""

from relay_common.embedded import Infra
from relay_common.embedded import local_servers as resolve_infra

__all__ = ["Infra", "resolve_infra"]
