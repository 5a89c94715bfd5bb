from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from pydantic import ValidationError

from relay_cli import contract_export
from relay_common.contract import (
    ALL_MESSAGES,
    LeadMessageRecorded,
    MessageReceived,
    Origin,
    SendMessage,
)
from relay_common.contract import subjects as s

REPO = Path(__file__).resolve().parents[2]
WS, BOT = uuid4(), uuid4()


def _inbound(**extra: object) -> MessageReceived:
    fields: dict[str, object] = {
        "workspace_id": WS,
        "bot_id": BOT,
        "whatsapp_message_id": "ABC",
        "chat_jid": "34600111222@s.whatsapp.net",
        "sent_at": datetime.now(UTC),
    }
    return MessageReceived(**(fields | extra))


def test_subject_carries_prefix_workspace_and_bot() -> None:
    assert _inbound().subject_for("relay") == f"relay.message.inbound.v1.{WS}.{BOT}"
    assert s.LEAD_MESSAGE.wildcard("x") == "x.lead.message.v1.*.*"
    assert s.LEAD_MESSAGE.for_workspace("x", WS) == f"x.lead.message.v1.{WS}.*"


def test_every_subject_lies_in_its_stream() -> None:
    for model in ALL_MESSAGES:
        stream_subject = model.subject.stream.wildcard("relay")
        assert stream_subject.endswith(".>")
        assert model.subject.wildcard("relay").startswith(stream_subject[:-1])


def test_subjects_parse_back_to_kind_workspace_and_bot() -> None:
    address = s.parse("relay", _inbound().subject_for("relay"))
    assert address == s.Address("message.inbound.v1", WS, BOT)
    assert s.parse("other", _inbound().subject_for("relay")) is None
    assert s.parse("relay", "relay.lead.created.v1.not-a-uuid.x") is None
    assert s.parse("relay", "relay.deadletter.message.inbound.v1.a.b") is None


def test_subject_paths_are_unique() -> None:
    paths = [m.subject.path for m in ALL_MESSAGES]
    assert len(paths) == len(set(paths))


def test_dedupe_id_is_the_whatsapp_id_so_redeliveries_collapse() -> None:
    first, second = _inbound(), _inbound()
    assert first.event_id != second.event_id
    assert first.dedupe_id() == second.dedupe_id() == f"in:{BOT}:ABC"


def test_readers_ignore_unknown_fields_and_models_are_frozen() -> None:
    raw = _inbound().model_dump(mode="json") | {"added_in_a_later_release": 1}
    parsed = MessageReceived.model_validate(raw)
    assert parsed.whatsapp_message_id == "ABC"
    with pytest.raises(ValidationError):
        parsed.text = "changed"  # type: ignore[misc]


def test_bad_payloads_are_refused() -> None:
    with pytest.raises(ValidationError):
        MessageReceived.model_validate({"workspace_id": "not-a-uuid"})
    with pytest.raises(ValidationError):
        _inbound(whatsapp_message_id="")


def test_caused_carries_correlation_and_causation() -> None:
    inbound = _inbound()
    recorded = inbound.caused(
        LeadMessageRecorded,
        lead_id=uuid4(),
        chat_jid=inbound.chat_jid,
        message_id=uuid4(),
        whatsapp_message_id="ABC",
        origin=Origin.CUSTOMER,
        text="hi",
        sent_at=inbound.sent_at,
    )
    command = recorded.caused(SendMessage, chat_jid=inbound.chat_jid, text="hello")
    assert recorded.correlation_id == inbound.event_id
    assert recorded.causation_id == inbound.event_id
    assert command.correlation_id == inbound.event_id
    assert command.causation_id == recorded.event_id
    assert (command.workspace_id, command.bot_id) == (WS, BOT)


def test_committed_contract_docs_match_the_code() -> None:
    problems = contract_export.drift(REPO / "docs" / "contract")
    assert problems == [], "run `./relay contract export` and commit docs/contract/"


def test_export_detects_drift(tmp_path: Path) -> None:
    contract_export.export(tmp_path)
    assert contract_export.drift(tmp_path) == []
    (tmp_path / "lead.message.v1.json").write_text("{}")
    (tmp_path / "lead.removed.v1.json").write_text("{}")
    assert sorted(contract_export.drift(tmp_path)) == [
        "lead.message.v1.json is out of date",
        "lead.removed.v1.json is no longer in the contract",
    ]


def test_subjects_are_spelled_only_in_the_subjects_module() -> None:
    # A subject or a piece of one: "relay.lead.", "lead.qualified.v1", "message.inbound".
    # Audit actions such as "lead.assigned" name what a person did, not a subject.
    domains = "|".join(stream.domain for stream in s.STREAMS)
    looks_like_a_subject = re.compile(
        rf'"(?:[a-z]*\.(?:{domains})\.|(?:{domains})\.[a-z_.]+\.v\d|message\.inbound)'
    )
    spelled = []
    for path in REPO.glob("*/**/src/**/*.py"):
        if path.name == "subjects.py":
            continue
        for match in looks_like_a_subject.finditer(path.read_text()):
            spelled.append(f"{path.relative_to(REPO)}: {match.group()}")
    assert spelled == []
