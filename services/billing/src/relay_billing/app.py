"""Composition root of the billing service.

For now it runs, applies migrations and reports health like every service; Stripe
checkout, webhooks and plan limits arrive with the billing issue.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from relay_billing.settings import Settings
from relay_common.runner import ServiceContext, run_worker


async def setup(ctx: ServiceContext[Settings]) -> ASGIApp | None:
    del ctx
    return None


def main() -> None:
    run_worker("billing", Settings(), setup)
