"""The state file of a running `relay up`: where its servers and services are."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class RunState:
    pid: int
    gateway_url: str
    nats_url: str
    bus_prefix: str
    embedded_nats: bool
    embedded_postgres: bool
    nats_pid: int | None = None
    postgres_pid: int | None = None
    services: dict[str, int | None] = field(default_factory=dict)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> RunState | None:
        try:
            return RunState(**json.loads(self.path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def running(self) -> RunState | None:
        """The state of a `relay up` that is still alive, if any."""
        state = self.read()
        return state if state and _alive(state.pid) else None

    def write(self, state: RunState) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
