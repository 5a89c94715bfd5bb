"""Bots of the signed-in workspace, and the simulator chat with a simulated bot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from relay_common.contract import (
    SESSION_ACTION_FOR_STATUS,
    BotCreated,
    BotDeleted,
    BotStatus,
    BotUpdated,
    ControlAction,
    ControlBot,
    SimulatedCustomerWrote,
    SimulatedPhoneScanned,
)
from relay_common.logging import get_logger
from relay_common.phone import chat_jid_for_phone
from relay_gateway.api.deps import AdminDep, PrincipalDep, StateDep
from relay_gateway.api.fields import PHONE_PATTERN
from relay_gateway.api.routes import bot_features
from relay_gateway.errors import ApiError
from relay_gateway.qr import qr_data_url
from relay_gateway.repo import audit
from relay_gateway.repo import bots as repo
from relay_gateway.repo.principals import Principal

log = get_logger(__name__)

router = APIRouter(prefix="/bots", tags=["bots"])
router.include_router(bot_features.router)

BotName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
BotPrompt = Annotated[str, Field(max_length=20000)]


class BotPublic(BaseModel):
    id: UUID
    name: str
    prompt: str | None = Field(description="The bot's instructions; null for vendors.")
    status: BotStatus
    transport: str
    phone_number: str | None
    runtime_state: str
    runtime_reason: str | None
    qr_data_url: str | None = Field(description="QR code to scan while linking (PNG).")
    pair_code: str | None = Field(description="Code to type on the phone while linking.")
    banned_until: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any], principal: Principal) -> BotPublic:
        row = dict(row)
        qr = row.pop("runtime_qr")
        pair_code = row.pop("runtime_pair_code")
        linking = row["runtime_state"] == "linking"
        secrets = principal.sees_secrets
        return cls(
            **(row | {"prompt": row["prompt"] if secrets else None}),
            qr_data_url=qr_data_url(qr) if qr and linking and secrets else None,
            pair_code=pair_code if linking and secrets else None,
        )


@router.get("", operation_id="list_bots", response_model=list[BotPublic])
async def list_bots(principal: PrincipalDep, state: StateDep) -> list[BotPublic]:
    rows = await repo.list_bots(state.pool, principal.workspace_id)
    return [BotPublic.from_row(row, principal) for row in rows]


class BotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: BotName
    prompt: BotPrompt = ""
    transport: Literal["simulated", "whatsapp"] = Field(
        default="simulated",
        description="simulated: a practice network, linked at once; whatsapp: a real number "
        "to link by QR or pairing code.",
    )


@router.post("", operation_id="create_bot", status_code=201, response_model=BotPublic)
async def create_bot(body: BotCreate, principal: AdminDep, state: StateDep) -> BotPublic:
    """Add a bot, within the plan's number of bots."""
    async with state.transaction() as tx:
        allowance = await repo.lock_bot_allowance(tx.conn, principal.workspace_id)
        if allowance.reached:
            raise ApiError(
                409,
                f"Your plan allows {allowance.limit} bot(s) and this workspace has "
                f"{allowance.bots}: delete one or upgrade the plan.",
                code="plan_limit",
                details={"bot_limit": allowance.limit, "bots": allowance.bots},
            )
        row = await repo.create_bot(
            tx.conn, principal.workspace_id, body.name, body.prompt, body.transport
        )
        await tx.emit(
            BotCreated(
                workspace_id=principal.workspace_id,
                bot_id=row["id"],
                name=row["name"],
                status=row["status"],
                transport=row["transport"],
                created_by=principal.user_id,
            )
        )
        await audit.record(
            tx.conn,
            principal,
            "bot.created",
            "bot",
            row["id"],
            {"name": row["name"], "transport": row["transport"]},
        )
    return BotPublic.from_row(row, principal)


@router.get("/{bot_id}", operation_id="get_bot", response_model=BotPublic)
async def get_bot(bot_id: UUID, principal: PrincipalDep, state: StateDep) -> BotPublic:
    row = await repo.get_bot(state.pool, principal.workspace_id, bot_id)
    if row is None:
        raise ApiError(404, "No such bot.")
    return BotPublic.from_row(row, principal)


class BotUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: BotName | None = None
    prompt: BotPrompt | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> BotUpdate:
        if self.name is None and self.prompt is None:
            raise ValueError("give a name, a prompt or both")
        return self


class BotStatusUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: BotStatus = Field(
        description="enabled; paused: connected, storing messages, no automatic replies; "
        "disabled: no session at all."
    )


async def _change_bot(
    state: StateDep, principal: Principal, bot_id: UUID, **new: str
) -> dict[str, Any]:
    """Apply ``new`` values to the bot and announce the fields that changed; returns it."""
    async with state.transaction() as tx:
        current = await repo.lock_bot(tx.conn, principal.workspace_id, bot_id)
        if current is None:
            raise ApiError(404, "No such bot.")
        changed = [field for field, value in new.items() if current[field] != value]
        if not changed:
            return current
        merged = current | new
        row = await repo.update_bot(
            tx.conn,
            principal.workspace_id,
            bot_id,
            merged["name"],
            merged["prompt"],
            merged["status"],
        )
        await tx.emit(
            BotUpdated(
                workspace_id=principal.workspace_id,
                bot_id=bot_id,
                name=row["name"],
                status=row["status"],
                changed=changed,
                updated_by=principal.user_id,
            )
        )
        details: dict[str, Any] = {"changed": changed}
        if "status" in changed:
            details["status"] = row["status"]
        await audit.record(tx.conn, principal, "bot.updated", "bot", bot_id, details)
    return row


@router.patch("/{bot_id}", operation_id="update_bot", response_model=BotPublic)
async def update_bot(
    bot_id: UUID, body: BotUpdate, principal: AdminDep, state: StateDep
) -> BotPublic:
    """Rename the bot or change its prompt."""
    new = body.model_dump(exclude_none=True)
    row = await _change_bot(state, principal, bot_id, **new)
    return BotPublic.from_row(row, principal)


STATUS_FOR_SESSION_ACTION = {
    action: status.value for status, action in SESSION_ACTION_FOR_STATUS.items()
}


@router.put("/{bot_id}/status", operation_id="set_bot_status", response_model=BotPublic)
async def set_bot_status(
    bot_id: UUID, body: BotStatusUpdate, principal: AdminDep, state: StateDep
) -> BotPublic:
    """Enable, pause or disable the bot."""
    row = await _change_bot(state, principal, bot_id, status=body.status.value)
    action = SESSION_ACTION_FOR_STATUS.get(body.status)
    if action is not None:
        # After the commit, so the worker reads the new status; sent even when the status
        # was already set, to bring a session paused by hand back in line.
        try:
            await state.bus.publish(
                ControlBot(workspace_id=principal.workspace_id, bot_id=bot_id, action=action)
            )
        except Exception as exc:
            # The status is stored and is what workers and the AI read; the command only
            # makes a live session show it sooner.
            log.warning("bot_status_command_failed", bot_id=str(bot_id), error=repr(exc))
    return BotPublic.from_row(row, principal)


@router.delete("/{bot_id}", operation_id="delete_bot", status_code=204)
async def delete_bot(bot_id: UUID, principal: AdminDep, state: StateDep) -> Response:
    """Delete the bot with its leads, messages, images and schedules."""
    async with state.transaction() as tx:
        bot = await repo.lock_bot(tx.conn, principal.workspace_id, bot_id)
        if bot is None:
            raise ApiError(404, "No such bot.")
        await tx.emit(
            BotDeleted(
                workspace_id=principal.workspace_id, bot_id=bot_id, deleted_by=principal.user_id
            )
        )
        await audit.record(tx.conn, principal, "bot.deleted", "bot", bot_id, {"name": bot["name"]})
        await repo.delete_bot(tx.conn, principal.workspace_id, bot_id)
    return Response(status_code=204)


class SessionActionCreate(BaseModel):
    phone_number: str | None = Field(
        default=None,
        pattern=PHONE_PATTERN,
        description="relink only: link by pairing code for this number instead of a QR.",
    )


class Accepted(BaseModel):
    command_id: UUID


@router.post(
    "/{bot_id}/session/{action}",
    operation_id="control_bot_session",
    status_code=202,
    response_model=Accepted,
)
async def control_session(
    bot_id: UUID,
    action: ControlAction,
    principal: AdminDep,
    state: StateDep,
    body: SessionActionCreate | None = None,
) -> Accepted:
    """Pause, resume, relink (new QR or pairing code), log out or restart a bot's session.

    The session worker holding the bot carries it out; the new state arrives on the event
    stream as ``session.state.v1``.
    """
    if await repo.bot_transport(state.pool, principal.workspace_id, bot_id) is None:
        raise ApiError(404, "No such bot.")
    phone = body.phone_number if body else None
    if phone and action is not ControlAction.RELINK:
        raise ApiError(422, "A phone number only goes with relink.")
    if action in STATUS_FOR_SESSION_ACTION:
        # Pausing is the bot's stored status (the AI reads it), not only the session's.
        await _change_bot(state, principal, bot_id, status=STATUS_FOR_SESSION_ACTION[action])
    command = ControlBot(
        workspace_id=principal.workspace_id, bot_id=bot_id, action=action, phone_number=phone
    )
    await state.bus.publish(command)
    return Accepted(command_id=command.event_id)


class SimulatedMessageCreate(BaseModel):
    customer_phone: str = Field(pattern=PHONE_PATTERN, examples=["+34600111222"])
    text: str = Field(min_length=1, max_length=4096)
    push_name: str | None = Field(default=None, max_length=100)


class SimulatedMessageAccepted(BaseModel):
    whatsapp_message_id: str


class ConversationMessage(BaseModel):
    id: UUID
    whatsapp_message_id: str
    origin: str
    kind: str
    text: str
    sent_at: datetime


async def _simulated_bot(state: StateDep, principal: PrincipalDep, bot_id: UUID) -> None:
    transport = await repo.bot_transport(state.pool, principal.workspace_id, bot_id)
    if transport is None:
        raise ApiError(404, "No such bot.")
    if transport != "simulated":
        raise ApiError(409, "Only bots on the simulated network have a simulator.")


@router.post(
    "/{bot_id}/simulator/messages",
    operation_id="send_simulated_message",
    status_code=202,
    response_model=SimulatedMessageAccepted,
)
async def send_simulated_message(
    bot_id: UUID, body: SimulatedMessageCreate, principal: PrincipalDep, state: StateDep
) -> SimulatedMessageAccepted:
    """Write to the bot as a simulated customer; the answer arrives on the event stream."""
    await _simulated_bot(state, principal, bot_id)
    message_id = "SIM" + uuid4().hex.upper()
    await state.bus.publish(
        SimulatedCustomerWrote(
            workspace_id=principal.workspace_id,
            bot_id=bot_id,
            customer_phone=body.customer_phone,
            whatsapp_message_id=message_id,
            push_name=body.push_name,
            text=body.text,
            sent_at=datetime.now(UTC),
        )
    )
    return SimulatedMessageAccepted(whatsapp_message_id=message_id)


class SimulatedScanCreate(BaseModel):
    phone_number: str = Field(pattern=PHONE_PATTERN, examples=["+15550009999"])


@router.post(
    "/{bot_id}/simulator/scan",
    operation_id="scan_simulated_qr",
    status_code=202,
    response_model=Accepted,
)
async def scan_simulated_qr(
    bot_id: UUID, body: SimulatedScanCreate, principal: AdminDep, state: StateDep
) -> Accepted:
    """Scan the bot's current QR code with a simulated phone, linking it to that number."""
    await _simulated_bot(state, principal, bot_id)
    bot = await repo.get_bot(state.pool, principal.workspace_id, bot_id)
    if bot is None or bot["runtime_state"] != "linking" or not bot["runtime_qr"]:
        raise ApiError(409, "The bot shows no QR code: relink it first.")
    scan = SimulatedPhoneScanned(
        workspace_id=principal.workspace_id,
        bot_id=bot_id,
        qr_code=bot["runtime_qr"],
        phone_number=body.phone_number,
    )
    await state.bus.publish(scan)
    return Accepted(command_id=scan.event_id)


@router.get(
    "/{bot_id}/simulator/messages",
    operation_id="list_simulated_messages",
    response_model=list[ConversationMessage],
)
async def list_simulated_messages(
    bot_id: UUID,
    principal: PrincipalDep,
    state: StateDep,
    customer_phone: Annotated[str, Query(pattern=PHONE_PATTERN)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ConversationMessage]:
    """The simulated customer's conversation with the bot, oldest first."""
    await _simulated_bot(state, principal, bot_id)
    rows = await repo.conversation(
        state.pool, principal.workspace_id, bot_id, chat_jid_for_phone(customer_phone), limit
    )
    return [ConversationMessage(**row) for row in rows]
