"""`relay status`: every live service instance and whether it is ready."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from relay_cli.state import StateFile
from relay_common.bus import connect_bus
from relay_common.registry import list_instances
from relay_common.services import SERVICES


@dataclass(frozen=True)
class InstanceStatus:
    service: str
    instance: str
    pid: int | None
    ready: bool
    detail: str


async def _probe(client: httpx.AsyncClient, url: str) -> tuple[bool, str]:
    try:
        response = await client.get(f"{url}/readyz")
    except httpx.TransportError as exc:
        return False, f"unreachable ({type(exc).__name__})"
    body: dict[str, Any] = response.json()
    problems = {k: v for k, v in body.get("checks", {}).items() if v != "ok"}
    return response.status_code == 200, ", ".join(f"{k}: {v}" for k, v in problems.items())


async def collect(nats_url: str, prefix: str) -> list[InstanceStatus]:
    bus = await connect_bus(nats_url, prefix, "relay-status")
    try:
        instances = await list_instances(bus)
    finally:
        await bus.close()
    async with httpx.AsyncClient(timeout=3) as client:
        probes = await asyncio.gather(*(_probe(client, i.health_url) for i in instances))
    found = [
        InstanceStatus(i.service, i.instance, i.pid, ok, detail)
        for i, (ok, detail) in zip(instances, probes, strict=True)
    ]
    live = {f.service for f in found}
    found += [
        InstanceStatus(s, "-", None, False, "no live instance") for s in SERVICES if s not in live
    ]
    return sorted(
        found,
        key=lambda f: (SERVICES.index(f.service) if f.service in SERVICES else 99, f.instance),
    )


async def status(data_dir: Any, as_json: bool) -> int:
    state = StateFile(data_dir / "state.json").running()
    nats_url = os.environ.get("NATS_URL") or (state.nats_url if state else "")
    prefix = os.environ.get("RELAY_BUS_PREFIX") or (state.bus_prefix if state else "relay")
    if not nats_url:
        print(
            f"relay is not running on {data_dir} (no live state file); set NATS_URL to "
            "look at another installation"
        )
        return 1
    rows = await collect(nats_url, prefix)
    if as_json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        if state:
            print(f"relay up (pid {state.pid}) at {state.gateway_url}, NATS {nats_url}\n")
        print(f"{'SERVICE':<15} {'PID':>7}  {'STATE':<8} DETAIL")
        for r in rows:
            pid = str(r.pid) if r.pid else "-"
            print(f"{r.service:<15} {pid:>7}  {'ready' if r.ready else 'DOWN':<8} {r.detail}")
    ready_services = {r.service for r in rows if r.ready}
    return 0 if ready_services >= set(SERVICES) else 1
