"""Pure rules of the lead pipeline: merging found details, qualification, working hours,
keyword images, takeover, ignored chats, language."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from relay_ai_worker.domain import (
    WorkingHours,
    guess_language,
    human_in_charge,
    ignored_chat,
    keyword_matches,
    missing_fields,
)
from relay_ai_worker.engine import faq_answer
from relay_common.contract import FoundValue
from relay_lead_service.domain import Known, merge, qualified


def _found(value: str, confidence: float) -> FoundValue:
    return FoundValue(value=value, confidence=confidence, source="test")


def test_a_field_is_replaced_only_by_an_at_least_as_confident_value() -> None:
    known = {"email": Known("a@x.com", 0.9), "name": Known("Ana", 0.6)}
    changes = merge(
        known,
        {
            "email": _found("b@x.com", 0.5),
            "name": _found("Ana Pérez", 0.7),
            "phone": _found("+34600111222", 0.9),
        },
    )
    assert {(c.field, c.old, c.new) for c in changes} == {
        ("name", "Ana", "Ana Pérez"),
        ("phone", None, "+34600111222"),
    }
    assert merge(known, {"email": _found("a@x.com", 1.0)}) == []


def test_qualification_follows_the_required_fields() -> None:
    default = ["name", "phone_or_email"]
    assert qualified({"name": "Ana", "email": "a@x.com"}, default)
    assert qualified({"name": "Ana", "phone": "+34600111222"}, default)
    assert not qualified({"name": "Ana"}, default)
    assert not qualified({"email": "a@x.com"}, default)
    assert qualified(
        {"name": "A", "email": "e", "location": "Madrid"}, ["name", "email", "location"]
    )
    assert missing_fields({"name": "Ana"}, default) == ["email"]
    assert missing_fields({}, ["name", "location"]) == ["name", "location"]


def test_working_hours_in_the_bot_time_zone() -> None:
    hours = WorkingHours(time(9), time(18), "Europe/Madrid")
    winter_noon_utc = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # 13:00 in Madrid
    assert hours.is_open(winter_noon_utc)
    late = datetime(2026, 1, 15, 17, 30, tzinfo=UTC)  # 18:30 in Madrid: closed
    assert not hours.is_open(late)
    assert WorkingHours(time(9), time(18), "America/New_York").is_open(late)  # 12:30 there
    assert hours.closed_period(late) == "2026-01-16T09:00:00+01:00"
    early = datetime(2026, 1, 16, 6, 0, tzinfo=UTC)  # 07:00 next morning: same closed period
    assert hours.closed_period(early) == hours.closed_period(late)
    night_shift = WorkingHours(time(22), time(6), "UTC")
    assert night_shift.is_open(datetime(2026, 1, 15, 23, 0, tzinfo=UTC))
    assert not night_shift.is_open(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))


def test_keywords_match_whole_words_without_case_or_accents() -> None:
    assert keyword_matches(["menu"], ["Can I see the MENÚ?"])
    assert keyword_matches(["carta de vinos"], ["¿tienen  Carta de Vinos?"])
    assert not keyword_matches(["menu"], ["the menus of tomorrow"])
    assert not keyword_matches([""], ["anything"])


def test_takeover_lasts_the_idle_time() -> None:
    now = datetime.now(UTC)
    assert human_in_charge(now - timedelta(seconds=10), 60, now)
    assert not human_in_charge(now - timedelta(seconds=61), 60, now)
    assert not human_in_charge(None, 60, now)


def test_groups_broadcasts_and_listed_numbers_are_ignored() -> None:
    assert ignored_chat("12036@g.us", answer_groups=False, ignored_numbers=[])
    assert not ignored_chat("12036@g.us", answer_groups=True, ignored_numbers=[])
    assert ignored_chat("status@broadcast", answer_groups=True, ignored_numbers=[])
    assert ignored_chat(
        "34600111222@s.whatsapp.net", answer_groups=False, ignored_numbers=["+34600111222"]
    )
    assert not ignored_chat(
        "34600111223@s.whatsapp.net", answer_groups=False, ignored_numbers=["+34600111222"]
    )


def test_language_and_faq() -> None:
    assert guess_language(["Hola, quiero información del piso"]) == "es"
    assert guess_language(["Hi, I'd like to know the price"]) == "en"
    faq = [
        {"q": "What are your opening hours?", "a": "9 to 6."},
        {"q": "Do you deliver?", "a": "Yes."},
    ]
    assert faq_answer(faq, ["what are the opening hours today"]) == "9 to 6."
    assert faq_answer(faq, ["hello"]) is None
