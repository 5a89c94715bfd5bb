"""Timed actions on a bot: enable, disable or pause it at a given moment.

The scheduler service carries out due ones and records the outcome on the row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from relay_common.contract import ScheduleChanged
from relay_gateway.api.deps import AdminDep, ReaderDep, StateDep
from relay_gateway.api.fields import TimeZoneName
from relay_gateway.errors import ApiError
from relay_gateway.repo import audit
from relay_gateway.repo import bots as bots_repo
from relay_gateway.repo import schedules as repo
from relay_gateway.repo.principals import Principal

router = APIRouter(tags=["schedules"])

MAX_PENDING_PER_BOT = 100
FURTHEST_AHEAD = timedelta(days=5 * 366)

ScheduleAction = Literal["enable", "disable", "pause"]


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: ScheduleAction = Field(description="What to do to the bot at run_at.")
    run_at: AwareDatetime = Field(
        description="When, with its UTC offset (2025-06-01T09:00:00+02:00); in the future.",
    )
    time_zone: TimeZoneName = Field(
        default="UTC", description="The zone the person chose run_at in, to show it back."
    )

    @field_validator("run_at")
    @classmethod
    def _in_the_future(cls, run_at: datetime) -> datetime:
        now = datetime.now(UTC)
        if run_at <= now:
            raise ValueError("run_at must be in the future")
        if run_at > now + FURTHEST_AHEAD:
            raise ValueError("run_at may be at most five years ahead")
        return run_at


class SchedulePublic(BaseModel):
    id: UUID
    bot_id: UUID
    action: ScheduleAction
    run_at: datetime
    time_zone: str
    status: Literal["pending", "done", "cancelled", "failed"]
    created_by: UUID | None
    created_at: datetime
    executed_at: datetime | None
    result: str | None


def _changed(row: dict[str, Any], principal: Principal) -> ScheduleChanged:
    return ScheduleChanged.of(
        row | {"workspace_id": principal.workspace_id}, row["status"], principal.user_id
    )


@router.post(
    "/bots/{bot_id}/schedules",
    operation_id="create_schedule",
    status_code=201,
    response_model=SchedulePublic,
)
async def create_schedule(
    bot_id: UUID, body: ScheduleCreate, principal: AdminDep, state: StateDep
) -> SchedulePublic:
    async with state.transaction() as tx:
        # Holding the bot keeps the count of pending schedules true until we commit.
        if await bots_repo.lock_bot(tx.conn, principal.workspace_id, bot_id) is None:
            raise ApiError(404, "No such bot.")
        if await repo.count_pending(tx.conn, principal.workspace_id, bot_id) >= MAX_PENDING_PER_BOT:
            raise ApiError(409, f"A bot may have at most {MAX_PENDING_PER_BOT} pending schedules.")
        row = await repo.create_schedule(
            tx.conn,
            principal.workspace_id,
            bot_id,
            action=body.action,
            run_at=body.run_at,
            time_zone=body.time_zone,
            created_by=principal.user_id,
        )
        await tx.emit(_changed(row, principal))
        await audit.record(
            tx.conn,
            principal,
            "schedule.created",
            "schedule",
            row["id"],
            {"bot_id": str(bot_id), "action": body.action, "run_at": row["run_at"].isoformat()},
        )
    return SchedulePublic(**row)


@router.get(
    "/bots/{bot_id}/schedules", operation_id="list_schedules", response_model=list[SchedulePublic]
)
async def list_schedules(
    bot_id: UUID,
    principal: ReaderDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SchedulePublic]:
    """The bot's schedules, latest run_at first, with what happened to past ones."""
    if not await bots_repo.bot_exists(state.pool, principal.workspace_id, bot_id):
        raise ApiError(404, "No such bot.")
    rows = await repo.list_schedules(state.pool, principal.workspace_id, bot_id, limit)
    return [SchedulePublic(**row) for row in rows]


@router.delete(
    "/bots/{bot_id}/schedules/{schedule_id}", operation_id="cancel_schedule", status_code=204
)
async def cancel_schedule(
    bot_id: UUID, schedule_id: UUID, principal: AdminDep, state: StateDep
) -> Response:
    """Cancel a pending schedule; it stays in the list as cancelled."""
    async with state.transaction() as tx:
        current = await repo.lock_schedule(tx.conn, principal.workspace_id, bot_id, schedule_id)
        if current is None:
            raise ApiError(404, "No such schedule.")
        if current["status"] != "pending":
            raise ApiError(
                409,
                f"Only pending schedules can be cancelled; this one is {current['status']}.",
                details={"status": current["status"]},
            )
        row = await repo.cancel_schedule(tx.conn, principal.workspace_id, bot_id, schedule_id)
        await tx.emit(_changed(row, principal))
        await audit.record(
            tx.conn,
            principal,
            "schedule.cancelled",
            "schedule",
            schedule_id,
            {"bot_id": str(bot_id)},
        )
    return Response(status_code=204)
