"""The deterministic lead extractor: a conversation in, phone/e-mail/name/location out.

Pure functions, no I/O. Finders return every plausible mention with the clause around it;
this module drops the bot's messages, decides whose each mention is and picks one per field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import phonenumbers

from relay_ai_worker.extraction.emails import find_emails
from relay_ai_worker.extraction.names import find_location, find_name
from relay_ai_worker.extraction.phones import find_phones, fold


@dataclass(frozen=True, slots=True)
class Lead:
    phone: str | None = None
    """E.164."""
    email: str | None = None
    name: str | None = None
    location: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "phone": self.phone,
            "email": self.email,
            "name": self.name,
            "location": self.location,
        }


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    from_customer: bool = True


def extract(messages: Iterable[str | Message], region: str | None = None) -> Lead:
    """Lead details from the customer's messages; region (e.g. "ES") reads national numbers."""
    texts = [
        m if isinstance(m, str) else m.text
        for m in messages
        if isinstance(m, str) or m.from_customer
    ]
    texts = [text for text in texts if text and not text.isspace()]
    region = normalize_region(region)
    return Lead(
        phone=_choose(
            (hit.e164, hit.before, hit.after, hit.confident)
            for text in texts
            for hit in find_phones(text, region)
        ),
        email=_choose(
            (hit.address, hit.before, hit.after, True)
            for text in texts
            for hit in find_emails(text)
        ),
        name=find_name(texts),
        location=find_location(texts),
    )


# ---------------------------------------------------------------- whose is a mention

_POSSESSIVE = (
    r"my|mi|mis|mon|ma|mes|mio|mia|miei|meu|minha|mein|meine|meinem|meiner|meines|his|her|"
    r"their|su|sus|son|sa|ses|seu|sua|dele|dela|sein|seine|seiner|ihr|ihre|ihrer|suo|sua"
)
_RELATIVES = (
    r"wife|husband|son|daughter|mother|father|mom|mum|dad|brother|sister|friend|colleague|"
    r"coworker|co-worker|boss|assistant|secretary|neighbou?r|boyfriend|girlfriend|partner's|"
    r"cousin|uncle|aunt|grandma|grandpa|landlord|lawyer|accountant|"
    r"mujer|esposa|marido|esposo|hijo|hija|madre|padre|mama|papa|hermano|hermana|amigo|amiga|"
    r"companero|companera|jefe|jefa|socio|socia|vecino|vecina|novio|novia|suegro|suegra|tio|"
    r"tia|primo|prima|abuelo|abuela|secretaria|asistente|abogado|gestor|casero|"
    r"mulher|filho|filha|mae|pai|irmao|irma|colega|chefe|vizinho|vizinha|namorado|namorada|"
    r"femme|mari|epouse|fils|fille|mere|pere|frere|soeur|ami|amie|collegue|patron|voisin|"
    r"voisine|copain|copine|moglie|marito|figlio|figlia|fratello|sorella|amico|amica|collega|"
    r"capo|vicino|vicina|fidanzato|fidanzata|frau|mann|ehefrau|ehemann|sohn|tochter|mutter|"
    r"vater|bruder|schwester|freund|freundin|kollege|kollegin|chef|nachbar|nachbarin"
)
_OTHER_PARTY = re.compile(
    rf"\b(?:(?:{_POSSESSIVE})\s+(?:\w+\s+)?(?:{_RELATIVES})\b"
    r"|(?:our|nuestro|nuestra|nuestros|nuestras|nosso|nossa|notre|nostro|nostra|unser|unsere|"
    r"unserer)\b"
    r"|inmobiliaria|agencia|agency|realtor|imobiliaria|agence|agenzia|makler|fax|telefax)"
)
_BUSINESS_SIDE = re.compile(
    r"\b(?:call us|contact us|email us|e-mail us|write to us|text us|reach us|visit us|"
    r"llamanos|escribenos|contactanos|visitanos|llamarnos|escribirnos|contactarnos|"
    r"ligue-nos|liga-nos|escreva-nos|contacte-nos|"
    r"appelez-nous|contactez-nous|ecrivez-nous|chiamateci|contattaci|scriveteci|scrivici|"
    r"rufen sie uns|kontaktieren sie uns|schreiben sie uns)\b"
)
_OLD_OR_WRONG = re.compile(
    r"\b(?:old|older|former|previous|antiguo|antigua|viejo|vieja|anterior|antigo|antiga|velho|"
    r"velha|ancien|ancienne|vecchio|vecchia|precedente|alte|alten|alter|altes|fruhere|"
    r"bisherige|wrong|equivocado|equivocada|errado|errada|incorrect|incorrecto|incorrecta|"
    r"faux|fausse|sbagliato|falsch|falsche|ya no|no longer|used to|solia|ja nao|nao uso mais)\b"
)
_FILLER = (
    r"es|is|e|est|ist|era|was|sea|al|a|the|el|la|lo|o|um|le|il|das|die|der|to|at|on|this|"
    r"that|ese|esa|este|esta|esse|essa|ce|cet|cette|quel|quello|mi|my|meu|mon|mio|uso|use|"
    r"using|usar|tengo|have|call|llames|llamen|llameis|ligue|appelez|chiamare|an|en|ao|au"
)
# Spanish/Italian "no" needs a following word ("no al ..."): Portuguese "no" also means "in the"
_NEGATED = re.compile(
    r"\b(?:(?:not|nao|non|pas|nicht|never|nunca|instead of|en vez de|en lugar de|em vez de|"
    rf"au lieu de|invece di|anstatt|statt|rather than)\s+(?:(?:{_FILLER})\s+){{0,3}}"
    rf"|no\s+(?:(?:{_FILLER})\s+){{1,3}})[\W_]*$"
)
_DISOWNED_AFTER = re.compile(
    r"^[\s,:;()\-]*(?:\(?(?:old|antiguo|viejo|anterior|antigo|velho|ancien|vecchio|alt)\)?"
    r"(?![\w:])|(?:is|es|e|est|ist|era|was|esta|it's)\s+(?:the\s+|el\s+|mi\s+|my\s+)?"
    r"(?:old|wrong|antiguo|viejo|equivocado|errado|incorrect|incorrecto|faux|sbagliato|falsch|"
    r"vecchio)\b|no es (?:el )?mi[oa]?\b|no es mio|not mine|isn'?t mine|is not mine|"
    r"nao e (?:o )?meu|n'est pas|non e (?:il )?mio|ist nicht|no longer|ya no|no funciona|"
    r"doesn'?t work|does not work|nao funciona|ne marche|non funziona|funktioniert nicht|"
    r"esta mal)"
)
_OTHER_PARTY_AFTER = re.compile(
    r"^[\s,:;()\-]*(?:(?:es|is|e|est|ist|belongs to)\s+)?(?:el |la |the |o |a )?"
    rf"(?:de |of |da |do |di |von )?(?:{_POSSESSIVE})\s+(?:{_RELATIVES})\b"
)
_OWN_CLAUSE_CHARS = 32


_UPPER = "A-ZÁÉÍÓÚÑÇÀÈÌÒÙÂÊÔÄÖÜ"
_LOWER = "a-záéíóúñçàèìòùâêôäöüß"
# "si no contesto, llama a Juan al ...": a named third person (matched on the original case)
_SOMEONE_NAMED = re.compile(
    r"\b(?:call|ring|text|contact|ask for|llama|llame|llamad|llamen|contacta|contacte|"
    r"pregunta por|liga para|ligue para|fale com|appelle|appelez|demandez|chiama|chiamate|"
    r"chiedi di|ruf|rufen sie|fragen sie nach)\s+(?:a\s+|à\s+|an\s+)?"
    rf"(?!Me\b|Us\b|Now\b|Today\b|Tomorrow\b)[{_UPPER}][{_LOWER}]+"
)
_SENT_TO = re.compile(
    r"\b(?:escribi a|te escribi|os escribi|les escribi|ya escribi|wrote to|emailed|i sent|"
    r"i've sent|i have sent|ja escrevi|escrevi para|j'ai ecrit|ho scritto|habe .{0,20}geschrieben)"
)


def _status(before: str, after: str) -> int:
    """2: the customer's own, 1: someone else's (kept as a last resort), 0: disowned."""
    folded_before, folded_after = fold(before), fold(after)
    # "the old flat downtown, my number is ...": only the words just before the value count
    clause = folded_before.rsplit(",", 1)[-1][-_OWN_CLAUSE_CHARS:]
    if _OLD_OR_WRONG.search(clause) or _NEGATED.search(clause):
        return 0
    if _BUSINESS_SIDE.search(folded_before):
        return 0
    if _DISOWNED_AFTER.match(folded_after):
        return 0
    if _OTHER_PARTY.search(folded_before) or _OTHER_PARTY_AFTER.match(folded_after):
        return 1
    if _SOMEONE_NAMED.search(before) or _SENT_TO.search(folded_before):
        return 1
    return 2


def _choose(mentions: Iterable[tuple[str, str, str, bool]]) -> str | None:
    """The customer's own latest value; what a later mention says about a value wins."""
    latest: dict[str, tuple[int, int, bool]] = {}
    for order, (value, before, after, confident) in enumerate(mentions):
        latest[value] = (_status(before, after), order, confident)
    ranked = [
        (status, confident, order, value)
        for value, (status, order, confident) in latest.items()
        if status > 0
    ]
    return max(ranked)[3] if ranked else None


# ---------------------------------------------------------------- liberal input


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_BOT_ROLES = _word_set(
    """bot assistant agent system ai model business company seller vendor operator staff
    support me outgoing outbound out sent phone owner admin host advisor asesor agente
    vendedor vendedora asistente sistema empresa negocio atendente consultor"""
)
_TEXT_KEYS = ("text", "content", "body", "message", "msg", "value", "caption")
_ROLE_KEYS = (
    "role",
    "from",
    "sender",
    "author",
    "speaker",
    "origin",
    "direction",
    "who",
    "type",
    "by",
)
_FLAG_KEYS = ("from_me", "fromMe", "is_bot", "isBot", "outgoing", "is_from_me")
_MESSAGE_KEYS = (
    "messages",
    "conversation",
    "turns",
    "history",
    "chat",
    "dialog",
    "dialogue",
    "transcript",
)
_REGION_KEYS = (
    "region",
    "default_region",
    "country",
    "country_code",
    "countryCode",
    "locale",
    "lang",
)
_COUNTRY_NAMES = {
    "spain": "ES", "espana": "ES", "mexico": "MX", "argentina": "AR", "brazil": "BR",
    "brasil": "BR", "portugal": "PT", "usa": "US", "united states": "US", "uk": "GB",
    "united kingdom": "GB", "great britain": "GB", "england": "GB", "france": "FR",
    "francia": "FR", "italy": "IT", "italia": "IT", "germany": "DE", "deutschland": "DE",
    "alemania": "DE", "colombia": "CO", "chile": "CL", "peru": "PE", "uruguay": "UY",
    "venezuela": "VE", "ecuador": "EC",
}  # fmt: skip


def normalize_region(value: object) -> str | None:
    """ "ES", "es", "es-ES", "pt_BR", "+34", "34", "Spain" -> a supported region, else None."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text:
        return None
    upper = text.upper()
    if upper in phonenumbers.SUPPORTED_REGIONS:
        return upper
    if upper == "UK":
        return "GB"
    code = upper.lstrip("+")
    if code.isdigit():
        region = phonenumbers.region_code_for_country_code(int(code))
        return region if region in phonenumbers.SUPPORTED_REGIONS else None
    parts = re.split(r"[-_]", upper)
    if len(parts) == 2 and parts[1] in phonenumbers.SUPPORTED_REGIONS:
        return parts[1]
    return _COUNTRY_NAMES.get(fold(text))


def message_from(value: object) -> Message | None:
    """A message given as a string or an object ({"text": ..., "role"/"from"/"sender": ...})."""
    if isinstance(value, str):
        return Message(value)
    if not isinstance(value, Mapping):
        return None
    text = _text_of(value)
    if text is None:
        return None
    return Message(text, from_customer=not _from_business(value))


def _text_of(value: Mapping[object, object]) -> str | None:
    for key in _TEXT_KEYS:
        content = value.get(key)
        if isinstance(content, str):
            return content
        if isinstance(content, Sequence) and not isinstance(content, str | bytes):
            parts = [_text_of(p) if isinstance(p, Mapping) else p for p in content]
            return "\n".join(p for p in parts if isinstance(p, str))
        if isinstance(content, Mapping):
            return _text_of(content)
    return None


def _from_business(value: Mapping[object, object]) -> bool:
    if any(value.get(key) is True for key in _FLAG_KEYS):
        return True
    for key in _ROLE_KEYS:
        role = value.get(key)
        if isinstance(role, str) and fold(role.strip()) in _BOT_ROLES:
            return True
    return False


def request_from(value: object) -> tuple[list[Message], str | None]:
    """The messages and region of one request line, whatever reasonable shape it has."""
    if isinstance(value, str):
        return [Message(value)], None
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return _messages(value), None
    if not isinstance(value, Mapping):
        return [], None
    for nested in ("input", "request", "data", "conversation"):
        inner = value.get(nested)
        if isinstance(inner, Mapping):
            inner_messages, region = request_from(inner)
            return inner_messages, normalize_region(_region_of(value)) or region
    messages: list[Message] = []
    for key in _MESSAGE_KEYS:
        found = value.get(key)
        if isinstance(found, Sequence) and not isinstance(found, str | bytes):
            messages = _messages(found)
            break
        if isinstance(found, str):
            messages = [Message(found)]
            break
    else:
        single = message_from(value)
        messages = [single] if single is not None else []
    return messages, normalize_region(_region_of(value))


def _messages(values: Sequence[object]) -> list[Message]:
    return [m for m in map(message_from, values) if m is not None]


def _region_of(value: Mapping[object, object]) -> object:
    for key in _REGION_KEYS:
        if value.get(key) is not None:
            return value.get(key)
    return None
