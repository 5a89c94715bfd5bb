"""Composition root of the session worker."""

from __future__ import annotations

from starlette.types import ASGIApp

from relay_common.runner import ServiceContext, run_worker
from relay_session_worker.membership import LeaseTiming, Membership
from relay_session_worker.settings import Settings
from relay_session_worker.transports.base import Transport
from relay_session_worker.transports.simulated import SimulatedTransport
from relay_session_worker.worker import SessionWorker, WorkerConfig


def build_transports(ctx: ServiceContext[Settings]) -> dict[str, Transport]:
    settings = ctx.settings
    transports: dict[str, Transport] = {}
    if "simulated" in settings.transports:
        transports["simulated"] = SimulatedTransport(ctx.bus)
    if "whatsapp" in settings.transports:
        from relay_session_worker.transports.neonize import NeonizeTransport

        store = settings.whatsapp_store_url or settings.common.database_url
        transports["whatsapp"] = NeonizeTransport(
            store.get_secret_value(),
            max_sessions=settings.capacity,
            offline_cutoff_s=settings.offline_cutoff_s,
            qr_timeout_s=settings.qr_timeout_s,
        )
    return transports


async def setup(ctx: ServiceContext[Settings]) -> ASGIApp | None:
    settings = ctx.settings
    worker_id = settings.common.instance_id
    membership = Membership(
        ctx.bus,
        worker_id,
        settings.capacity,
        LeaseTiming(lease_ttl_s=settings.lease_ttl_s, heartbeat_s=settings.heartbeat_s),
    )
    worker = SessionWorker(
        ctx.bus,
        ctx.pool,
        membership,
        build_transports(ctx),
        WorkerConfig(
            worker_id=worker_id,
            transports=settings.transports,
            balance_every_s=settings.balance_every_s,
            max_moves_per_tick=settings.max_moves_per_tick,
            unresponsive_restart_s=settings.unresponsive_restart_s,
        ),
    )
    await worker.start()
    ctx.stack.push_async_callback(worker.stop)
    return None


def main() -> None:
    run_worker("session-worker", Settings(), setup)
