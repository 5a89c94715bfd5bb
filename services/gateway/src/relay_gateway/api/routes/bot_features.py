"""A bot's feature settings: replies, lead capture, working hours, assignment, pacing.

Included by the bots router (paths under ``/bots``).
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from relay_common.contract import BotFeaturesUpdated
from relay_gateway.api.deps import AdminDep, ReaderDep, StateDep
from relay_gateway.api.fields import E164Phone, TimeZoneName
from relay_gateway.errors import ApiError
from relay_gateway.repo import audit
from relay_gateway.repo import bots as repo

router = APIRouter()

LeadField = Literal["name", "email", "phone", "location", "phone_or_email"]
ClockTime = Annotated[
    str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["09:00"], description="HH:MM")
]
DAY_S = 24 * 3600
RequiredLeadFields = Annotated[list[LeadField], Field(max_length=5)]
AwayMessage = Annotated[str, Field(max_length=1000)]
DebounceMs = Annotated[int, Field(ge=0, le=60000)]
TakeoverIdleS = Annotated[int, Field(ge=0, le=30 * DAY_S)]
UnclaimedAfterS = Annotated[int, Field(ge=1, le=30 * DAY_S)]
IgnoredNumbers = Annotated[list[E164Phone], Field(max_length=1000)]
HistorySize = Annotated[int, Field(ge=1, le=200)]
Region = Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["ES"])]
Assignment = Literal["manual", "round_robin"]


class Pacing(BaseModel):
    """How a bot sends, to look human and protect its number (read by the session worker,
    whose ``PacingPolicy`` has the same fields and defaults)."""

    model_config = ConfigDict(extra="forbid")

    typing: bool = Field(default=True, description="Show 'typing...' before a bot reply.")
    typing_ms_per_char: float = Field(default=35.0, ge=0, le=1000)
    typing_min_ms: int = Field(default=700, ge=0, le=60000)
    typing_max_ms: int = Field(default=5000, ge=0, le=60000)
    read_before_reply: bool = Field(default=True, description="Mark read, then answer.")
    per_minute: int = Field(default=20, ge=1, le=120, description="Messages per minute.")
    jitter_ms: int = Field(default=600, ge=0, le=60000, description="Random wait between sends.")
    warmup_days: int = Field(default=3, ge=0, le=90, description="Days a new number warms up.")
    warmup_per_day: int = Field(default=40, ge=1, le=10000, description="Sends a day warming.")
    first_contact: bool = Field(
        default=False, description="Allow messaging someone who never wrote to the bot."
    )

    @model_validator(mode="after")
    def _typing_bounds_in_order(self) -> Pacing:
        if self.typing_min_ms > self.typing_max_ms:
            raise ValueError("typing_min_ms must not exceed typing_max_ms")
        return self


class FaqEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=500, description="A question customers ask.")
    a: str = Field(min_length=1, max_length=2000, description="The answer the bot gives.")


FaqList = Annotated[list[FaqEntry], Field(max_length=200)]


class BotFeatures(BaseModel):
    auto_reply: bool = Field(description="The bot answers customers by itself.")
    lead_capture: bool = Field(description="The bot asks for and records lead details.")
    required_lead_fields: RequiredLeadFields = Field(
        description="What a lead needs to be qualified; phone_or_email takes either."
    )
    scheduling: bool
    working_hours_enabled: bool
    working_hours_start: ClockTime
    working_hours_end: ClockTime
    time_zone: TimeZoneName
    away_message: AwayMessage | None = Field(description="Sent outside working hours.")
    debounce_ms: DebounceMs = Field(description="Wait this long for more customer messages.")
    assignment: Assignment = Field(description="How qualified leads reach vendors.")
    takeover_idle_s: TakeoverIdleS = Field(
        description="After a person writes in a chat, the bot stays quiet this long."
    )
    unclaimed_after_s: UnclaimedAfterS = Field(
        description="An assigned lead nobody answers this long is flagged unclaimed."
    )
    ignored_numbers: IgnoredNumbers = Field(description="Chats the bot never answers.")
    answer_groups: bool
    faq: FaqList
    history_size: HistorySize = Field(description="Past messages the AI reads.")
    default_region: Region | None = Field(
        description="Country (ISO 3166) for numbers written without +."
    )
    pacing: Pacing

    @model_validator(mode="after")
    def _coherent(self) -> BotFeatures:
        if len(set(self.required_lead_fields)) != len(self.required_lead_fields):
            raise ValueError("required_lead_fields lists a field twice")
        if self.working_hours_start == self.working_hours_end:
            raise ValueError("working hours must start and end at different times")
        return self

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> BotFeatures:
        values = dict(row)
        for column in ("working_hours_start", "working_hours_end"):
            values[column] = values[column].strftime("%H:%M")
        return cls.model_validate(values)

    def to_row(self) -> dict[str, Any]:
        values = self.model_dump(mode="json")
        for column in ("working_hours_start", "working_hours_end"):
            values[column] = time.fromisoformat(values[column])
        return values


class PacingUpdate(BaseModel):
    """Only the pacing settings to change; the others keep their values."""

    model_config = ConfigDict(extra="forbid")

    typing: bool | None = None
    typing_ms_per_char: float | None = None
    typing_min_ms: int | None = None
    typing_max_ms: int | None = None
    read_before_reply: bool | None = None
    per_minute: int | None = None
    jitter_ms: int | None = None
    warmup_days: int | None = None
    warmup_per_day: int | None = None
    first_contact: bool | None = None


class BotFeaturesUpdate(BaseModel):
    """Only the settings to change. Bounds are those of ``BotFeatures``."""

    model_config = ConfigDict(extra="forbid")
    nullable: ClassVar[frozenset[str]] = frozenset({"away_message", "default_region"})

    auto_reply: bool | None = None
    lead_capture: bool | None = None
    required_lead_fields: RequiredLeadFields | None = None
    scheduling: bool | None = None
    working_hours_enabled: bool | None = None
    working_hours_start: ClockTime | None = None
    working_hours_end: ClockTime | None = None
    time_zone: TimeZoneName | None = None
    away_message: AwayMessage | None = None
    debounce_ms: DebounceMs | None = None
    assignment: Assignment | None = None
    takeover_idle_s: TakeoverIdleS | None = None
    unclaimed_after_s: UnclaimedAfterS | None = None
    ignored_numbers: IgnoredNumbers | None = None
    answer_groups: bool | None = None
    faq: FaqList | None = None
    history_size: HistorySize | None = None
    default_region: Region | None = None
    pacing: PacingUpdate | None = None

    @model_validator(mode="after")
    def _null_only_where_allowed(self) -> BotFeaturesUpdate:
        for name in self.model_fields_set - self.nullable:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def applied_to(self, current: BotFeatures) -> BotFeatures:
        """The settings after this change; ValidationError if they break a bound."""
        changes = self.model_dump(mode="json", exclude_unset=True)
        values = current.model_dump(mode="json")
        if "pacing" in changes:
            changes["pacing"] = values["pacing"] | changes["pacing"]
        return BotFeatures.model_validate(values | changes)


def _invalid(error: ValidationError) -> ApiError:
    details = [
        {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in error.errors()
    ]
    return ApiError(422, "These settings are not valid.", code="invalid_request", details=details)


@router.get("/{bot_id}/features", operation_id="get_bot_features", response_model=BotFeatures)
async def get_bot_features(bot_id: UUID, principal: ReaderDep, state: StateDep) -> BotFeatures:
    row = await repo.get_features(state.pool, principal.workspace_id, bot_id)
    if row is None:
        raise ApiError(404, "No such bot.")
    return BotFeatures.from_row(row)


@router.patch("/{bot_id}/features", operation_id="update_bot_features", response_model=BotFeatures)
async def update_bot_features(
    bot_id: UUID, body: BotFeaturesUpdate, principal: AdminDep, state: StateDep
) -> BotFeatures:
    """Change some settings; the answer holds all of them."""
    async with state.transaction() as tx:
        row = await repo.lock_features(tx.conn, principal.workspace_id, bot_id)
        if row is None:
            raise ApiError(404, "No such bot.")
        current = BotFeatures.from_row(row)
        try:
            updated = body.applied_to(current)
        except ValidationError as error:
            raise _invalid(error) from None
        before, after = current.model_dump(mode="json"), updated.model_dump(mode="json")
        changed = [name for name in after if after[name] != before[name]]
        if not changed:
            return current
        await repo.save_features(tx.conn, principal.workspace_id, bot_id, updated.to_row())
        await tx.emit(
            BotFeaturesUpdated(
                workspace_id=principal.workspace_id,
                bot_id=bot_id,
                features=after,
                changed=changed,
                updated_by=principal.user_id,
            )
        )
        await audit.record(
            tx.conn, principal, "bot.features_updated", "bot", bot_id, {"changed": changed}
        )
    return updated
