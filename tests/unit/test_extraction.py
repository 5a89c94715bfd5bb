"""The deterministic lead extractor: labelled conversations, then tricky single cases."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from email_validator import validate_email

from relay_ai_worker.extraction import Message, extract, normalize_region, request_from

DATA = Path(__file__).resolve().parents[1] / "data" / "extraction"
DEV = DATA / "dev.jsonl"
"""Development set: tuned on."""
CHECK = DATA / "check.jsonl"
"""Written before the extractor and never tuned on: a stand-in for the held-out set."""
FIELDS = ("phone", "email")


@dataclass
class Score:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, got: str | None, expected: str | None, row: dict[str, Any]) -> None:
        if got is not None and got == expected:
            self.true_positives += 1
            return
        if got is not None:
            self.false_positives += 1
        if expected is not None:
            self.false_negatives += 1
        if got != expected:
            self.misses.append(f"got {got!r}, expected {expected!r}: {row['messages']!r}")

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        relevant = self.true_positives + self.false_negatives
        return self.true_positives / relevant if relevant else 1.0


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _score(path: Path) -> dict[str, Score]:
    scores = {name: Score() for name in FIELDS}
    for row in _rows(path):
        messages, region = request_from(row)
        lead = extract(messages, region).as_dict()
        for name in FIELDS:
            scores[name].add(lead[name], row["expected"][name], row)
    return scores


@pytest.mark.parametrize(("path", "bar"), [(DEV, 0.97), (CHECK, 0.95)], ids=["dev", "check"])
def test_precision_and_recall_on_labelled_conversations(path: Path, bar: float) -> None:
    for name, score in _score(path).items():
        detail = "\n".join(score.misses)
        assert score.precision >= bar, f"{name} precision {score.precision:.3f}\n{detail}"
        assert score.recall >= bar, f"{name} recall {score.recall:.3f}\n{detail}"


def test_labelled_sets_are_large_diverse_and_well_formed() -> None:
    dev, check = _rows(DEV), _rows(CHECK)
    assert len(dev) >= 250
    assert len(check) >= 60
    regions = {row.get("region") for row in dev}
    assert {"ES", "MX", "AR", "BR", "PT", "US", "GB", "FR", "IT", "DE", "CO"} <= regions
    for row in dev + check:
        phone, email = row["expected"]["phone"], row["expected"]["email"]
        if phone is not None:
            number = phonenumbers.parse(phone)
            assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone
            assert phonenumbers.is_possible_number(number), phone
        if email is not None:
            assert validate_email(email, check_deliverability=False).normalized.lower() == email
    negatives = [row for row in dev if row["expected"] == {"phone": None, "email": None}]
    assert len(negatives) >= 80, "plenty of traps without any contact detail"


# ---------------------------------------------------------------- phones


@pytest.mark.parametrize(
    ("text", "region", "phone"),
    [
        ("my number is 612 345 678", "ES", "+34612345678"),
        ("0034 655 443 322", "ES", "+34655443322"),
        ("34 622 111 000 es mi cel", "ES", "+34622111000"),
        ("tel.: +34 (0) 612 345 678", "ES", "+34612345678"),
        ("+44 (0) 7911 123456", "GB", "+447911123456"),
        ("Handy: 0176/12345678", "DE", "+4917612345678"),
        ("(11) 98765-4321", "BR", "+5511987654321"),
        ("mi cel es 11 15 2345-6789", "AR", "+5491123456789"),
        ("+52 1 55 2345 6789", "MX", "+525523456789"),
        ("mi número es 044 55 1234 5678", "MX", "+525512345678"),
        ("Mi número: seis uno dos tres cuatro cinco seis siete ocho", "ES", "+34612345678"),
        ("seis uno dos 345 678", "ES", "+34612345678"),
        ("wa.me/34612345678", "ES", "+34612345678"),
        ("my number's (555) 123-4567", "US", "+15551234567"),
        ("my phone number is 646 555 0123 ext. 45", "US", "+16465550123"),
        ("Tel612345678", "ES", "+34612345678"),
        ("tel 612 / 345 / 678", "ES", "+34612345678"),  # found by PhoneNumberMatcher
        ("IP 192.168.1.100, tel 91.234.56.78", "ES", "+34912345678"),
        ("call +44 7911 123456", None, "+447911123456"),
        ("call +44 7911 123456", "ZZ", "+447911123456"),
        ("My phone number is 44 7911 123456", "US", "+447911123456"),
    ],
)
def test_phone_notations(text: str, region: str | None, phone: str) -> None:
    assert extract([text], region).phone == phone


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("el piso cuesta €1.250.000", "ES"),
        ("it's $1,200 a month", "US"),
        ("Vale 612.345.678 euros?? jaja", "ES"),
        ("precio 612 345 678 €", "ES"),
        ("la visita el 12/05/2024 a las 10:30", "ES"),
        ("move in 2024-05-12", "US"),
        ("dates 20240512 and 20240601", "DE"),
        ("order #123456789", "US"),
        ("mi pedido 612345678 no llega", "ES"),
        ("ref 45678912", "DE"),
        ("Rechnungsnummer 015123456789", "DE"),
        ("Vertragsnummer 0301234567", "DE"),
        ("serial number 7911123456", "GB"),
        ("zip 90210-1234", "US"),
        ("IBAN ES91 2100 0418 4502 0005 1332", "ES"),
        ("mi cuenta 2100 0418 4502 0005 1332", "ES"),
        ("card 4111 1111 1111 1111", "US"),
        ("https://example.com/item/612345678", "ES"),
        ("link: example.com/listing?id=2125551234", "US"),
        ("DNI 12345678Z", "ES"),
        ("NIE X1234567L", "ES"),
        ("CPF 123.456.789-09", "BR"),
        ("Coordenadas 40.416775, -3.703790", "ES"),
        ("Call me: 555-0199", "US"),
        ("7911 123456", "GB"),  # people in GB write the leading 0: no cue, no phone
        ("8412345678905", "ES"),  # a barcode, not +84 ...
        ("mi número 612 345 678", None),  # no region: only explicit country codes
        ("IP 192.168.1.100", "MX"),
        ("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", "ES"),
    ],
)
def test_numbers_that_are_not_phones(text: str, region: str | None) -> None:
    assert extract([text], region).phone is None


@pytest.mark.parametrize(
    ("messages", "phone"),
    [
        (["mi número es 612 345 678", "perdón, es 612 345 679"], "+34612345679"),
        (["mi número es 611222333 y el de mi mujer 699888777"], "+34611222333"),
        (["el de mi marido es 699888777, el mío 611222333"], "+34611222333"),
        (["llama al 644 11 22 33, no al 644 11 22 34"], "+34644112233"),
        (["ya no uso el 622333444, ahora tengo el 633444555"], "+34633444555"),
        (["pedido 612345678, mi teléfono 698765432"], "+34698765432"),
        (["Mi número es 612345678. Si no contesto, llama a Juan al 698765432"], "+34612345678"),
        (["Llámanos al 910 123 456", "vale"], None),
        (["Tlf 91 234 56 78 ext 12, fax 91 234 56 79"], "+34912345678"),
    ],
)
def test_the_customers_own_latest_phone_is_chosen(messages: list[str], phone: str | None) -> None:
    assert extract(messages, "ES").phone == phone


@pytest.mark.parametrize(
    "text",
    ["1 " * 10_000, "a." * 10_000, "612 345 678 " * 2_000, "x@" * 10_000, "a." * 5_000 + "@b.com"],
)
def test_walls_of_text_take_linear_time(text: str) -> None:
    started = time.perf_counter()
    extract([text], "ES")
    assert time.perf_counter() - started < 1


def test_messages_from_the_bot_are_skipped() -> None:
    messages = [
        Message("Nuestro teléfono es 910 123 456, info@inmosol.es", from_customer=False),
        Message("vale, el mío es 677 88 99 00"),
    ]
    lead = extract(messages, "ES")
    assert lead.phone == "+34677889900"
    assert lead.email is None


# ---------------------------------------------------------------- e-mails


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("Email: John.Doe@Example.COM", "john.doe@example.com"),
        ("john dot doe at gmail dot com", "john.doe@gmail.com"),
        ("john.doe [at] gmail [dot] com", "john.doe@gmail.com"),
        ("john(at)gmail(dot)com", "john@gmail.com"),
        ("pedro arroba hotmail punto com", "pedro@hotmail.com"),
        ("maria arroba gmail.com", "maria@gmail.com"),
        ("mi correo: pepe arroba gmail", "pepe@gmail.com"),
        ("joana arroba gmail ponto com ponto br", "joana@gmail.com.br"),
        ("marie arobase orange point fr", "marie@orange.fr"),
        ("luca chiocciola libero punto it", "luca@libero.it"),
        ("hans at gmx punkt de", "hans@gmx.de"),
        ("my email is sam . lee @ outlook . com", "sam.lee@outlook.com"),
        ("juan @gmail.com es mi correo", "juan@gmail.com"),
        ("mi mail es marta.gil@gmail .com", "marta.gil@gmail.com"),
        ("mail: mario.rossi@tiscali.it.", "mario.rossi@tiscali.it"),
        ("rosa punto lopez arroba gmail punto com", "rosa.lopez@gmail.com"),
        ("Email: tina@abc.com (not tina@abd.com)", "tina@abc.com"),
        ("my emails: old one tom@aol.com, new one tom.b@gmail.com", "tom.b@gmail.com"),
    ],
)
def test_email_notations(text: str, email: str) -> None:
    assert extract([text], "ES").email == email


@pytest.mark.parametrize(
    "text",
    [
        "https://user@host.com/path",
        "https://www.example.com/contact?email=juan@gmail.com",
        "follow me @pedro_garcia",
        "síguenos en @inmo.madrid en insta",
        "te mando photo.jpg y plano.pdf",
        "meet me at noon dot",
        "I'm at home dot",
        "I work at amazon.com",
        "I'm at gmail.com",
        "llego a las 5 en punto",
        "juan@doe",
        "price @ 1200",
        "sígueme en insta @ana.garcia.es",
        "I work at gmail",
    ],
)
def test_text_that_holds_no_email(text: str) -> None:
    assert extract([text], "US").email is None


# ---------------------------------------------------------------- names, input shapes


@pytest.mark.parametrize(
    ("text", "name", "location"),
    [
        ("Hola, soy Marta García, de Sevilla", "Marta García", "Sevilla"),
        ("I'm Sarah from Manchester", "Sarah", "Manchester"),
        ("Me llamo Javier y vivo en Valencia", "Javier", "Valencia"),
        ("my name is john smith and I live in new york", "John Smith", None),
        ("I am interested in the flat, it looks great", None, None),
    ],
)
def test_name_and_location_hints(text: str, name: str | None, location: str | None) -> None:
    lead = extract([text], "ES")
    assert (lead.name, lead.location) == (name, location)


@pytest.mark.parametrize(
    ("value", "region"),
    [
        ("ES", "ES"),
        ("es", "ES"),
        ("es-ES", "ES"),
        ("pt_BR", "BR"),
        ("+34", "ES"),
        (44, "GB"),
        ("UK", "GB"),
        ("Spain", "ES"),
        ("XX", None),
        ("", None),
        (None, None),
        (["ES"], None),
        (True, None),
    ],
)
def test_regions_are_read_liberally(value: object, region: str | None) -> None:
    assert normalize_region(value) == region


def test_requests_of_many_shapes() -> None:
    messages, region = request_from(
        {
            "messages": [
                {"role": "assistant", "content": "our number 910123456"},
                {"role": "user", "content": [{"type": "text", "text": "mine is 612345678"}]},
                {"from": "bot", "text": "ok"},
                {"sender": "customer", "text": "thanks"},
                {"fromMe": True, "body": "bye"},
                42,
            ],
            "country": "es-ES",
        }
    )
    assert region == "ES"
    assert [(m.text, m.from_customer) for m in messages] == [
        ("our number 910123456", False),
        ("mine is 612345678", True),
        ("ok", False),
        ("thanks", True),
        ("bye", False),
    ]
    assert request_from(["hola"]) == ([Message("hola")], None)
    assert request_from({"input": {"messages": ["hola"]}, "region": "MX"}) == (
        [Message("hola")],
        "MX",
    )
    assert request_from(17) == ([], None)
