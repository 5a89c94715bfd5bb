"""E-mail addresses in one message, plain or spelled out ("juan arroba gmail punto com")."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum

from email_validator import EmailNotValidError, validate_email

CONTEXT_CHARS = 48
_MAX_PARTS = 24  # an address has a few dotted parts; more is a wall of text, not an address


@dataclass(frozen=True, slots=True)
class EmailHit:
    """An address, with the clause around it (for deciding whose it is)."""

    address: str
    before: str
    after: str


class _Kind(Enum):
    WORD = "word"
    AT = "at"
    DOT = "dot"
    UNDERSCORE = "underscore"
    HYPHEN = "hyphen"
    SPACE = "space"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    start: int
    end: int
    literal: bool
    """Written as the symbol itself (@ or .), not as a word or in brackets."""


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_AT_MARK, _DOT_MARK, _UNDERSCORE_MARK, _HYPHEN_MARK = "\x01", "\x02", "\x03", "\x04"
_AT_WORDS = frozenset({"at", "arroba", "arobase", "chiocciola", "chiocciolina", "klammeraffe"})
_WEAK_AT_WORDS = frozenset({"at"})  # also an everyday English word: needs more evidence
_DOT_WORDS = frozenset({"dot", "punto", "ponto", "point", "punkt"})
_BRACKETED_AT = re.compile(r"[\[({<]\s*(?:at|arroba|arobase|chiocciola|@)\s*[\])}>]", re.IGNORECASE)
_BRACKETED_DOT = re.compile(r"[\[({<]\s*(?:dot|punto|ponto|point|punkt|\.)\s*[\])}>]", re.I)
_UNDERSCORE_WORDS = re.compile(
    r"\b(?:underscore|guion bajo|guión bajo|barra baja|sublinhado|underline|tiret bas|"
    r"trattino basso|unterstrich)\b",
    re.IGNORECASE,
)
_HYPHEN_WORDS = re.compile(
    r"\b(?:hyphen|dash|guion|guión|hífen|hifen|traço|tiret|trattino|bindestrich)\b", re.I
)
_NON_SPACE = re.compile(r"\S+")
_TOKEN = re.compile(r"[\x01-\x04@.]|[\w+%-]+|\s+|.", re.UNICODE)
_HAS_MARKER = re.compile(
    r"@|[\[({<]\s*(?:at|@)|\b(?:at|arroba|arobase|chiocciola|chiocciolina|klammeraffe)\b",
    re.IGNORECASE,
)
_EMAIL_CUE = re.compile(
    r"\b(?:e-?mails?|mails?|correos?|courriel|posta|electronico|eletronico|endereco)\b"
)
_PROVIDERS = frozenset(
    {
        "gmail", "googlemail", "hotmail", "outlook", "live", "msn", "yahoo", "ymail", "icloud",
        "me", "aol", "protonmail", "proton", "gmx", "web", "t-online", "freenet", "orange",
        "free", "sfr", "wanadoo", "laposte", "libero", "tiscali", "alice", "virgilio", "tim",
        "uol", "bol", "terra", "ig", "sapo", "telefonica", "movistar", "btinternet", "sky",
        "zoho", "yandex", "mail", "email", "fastmail", "tutanota", "comcast", "verizon", "att",
    }
)  # fmt: skip
_DEFAULT_COM = frozenset({"gmail", "hotmail", "outlook", "yahoo", "icloud", "aol"})
_GENERIC_TLDS = _word_set(
    """com net org info biz edu gov mil int io co me tv ai app dev tech online site store shop
    xyz email live pro name mobi eu asia cat club blog news cloud agency studio design digital
    global group media network solutions systems world today life art page one top work
    website space fun link click law legal bank finance realty properties house estate homes
    casa immo immobilien consulting services company business center marketing travel"""
)
_LOCAL_STOPWORDS = _word_set(
    """me us you him her them it i we they he she am is are was were be been being here there
    home work office meet see look stay live lives living arrive arrived available reach call
    text email mail correo write find found bought buy sold listed posted saw seen visit this
    that one all anyone someone everyone something back up out eat stop school noon night time
    morning evening tonight today tomorrow yo estoy esta en es mi nos le la el lo los las
    je suis est il elle sono ich bin bist sind wir sie er es and or y o e et und the a an
    hola hi hello hey ola oi ciao salut hallo bonjour gracias thanks obrigado merci grazie
    danke follow sigue siguenos segue suivez seguici folgt insta instagram twitter ig tiktok
    facebook fb telegram handle usuario user perfil profile cuenta account"""
)


def find_emails(text: str) -> list[EmailHit]:
    """Addresses in one message, in the order written."""
    if not _HAS_MARKER.search(text):
        return []
    text = _prepare(text)
    tokens = _tokenize(text)
    cue = bool(_EMAIL_CUE.search(_fold(text)))
    hits: list[EmailHit] = []
    previous_end = 0
    for index, token in enumerate(tokens):
        if token.kind is not _Kind.AT:
            continue
        found = _address_around(tokens, index, cue)
        if found is None:
            continue
        address, start, end = found
        hits.append(EmailHit(address, _before(text, start, previous_end), _after(text, end)))
        previous_end = end
    return hits


def _prepare(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    if "://" in text or "www." in text.lower():
        text = _NON_SPACE.sub(_blank_link, text)
    text = _BRACKETED_AT.sub(f" {_AT_MARK} ", text)
    text = _BRACKETED_DOT.sub(f" {_DOT_MARK} ", text)
    text = _UNDERSCORE_WORDS.sub(f" {_UNDERSCORE_MARK} ", text)
    return _HYPHEN_WORDS.sub(f" {_HYPHEN_MARK} ", text)


def _blank_link(token: re.Match[str]) -> str:
    """A token from where its link starts, blanked: "https://user@host" is no address."""
    piece = token.group()
    lowered = piece.lower()
    starts = [i for i in (lowered.find("://"), lowered.find("www.")) if i >= 0]
    if not starts:
        return piece
    start = min(starts)
    while start > 0 and (lowered[start - 1].isalnum() or lowered[start - 1] in "+.-"):
        start -= 1
    return piece[:start] + " " * (len(piece) - start)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(text):
        piece = match.group()
        tokens.append(_Token(_kind(piece), piece, match.start(), match.end(), piece in "@."))
    return tokens


def _kind(piece: str) -> _Kind:
    lowered = piece.lower()
    if piece in ("@", _AT_MARK) or lowered in _AT_WORDS:
        return _Kind.AT
    if piece in (".", _DOT_MARK) or lowered in _DOT_WORDS:
        return _Kind.DOT
    if piece == _UNDERSCORE_MARK:
        return _Kind.UNDERSCORE
    if piece == _HYPHEN_MARK:
        return _Kind.HYPHEN
    if piece.isspace():
        return _Kind.SPACE
    if re.fullmatch(r"[\w+%-]+", piece):
        return _Kind.WORD
    return _Kind.OTHER


_JOINERS = {_Kind.DOT: ".", _Kind.UNDERSCORE: "_", _Kind.HYPHEN: "-"}


def _step(tokens: list[_Token], index: int, direction: int) -> tuple[int, bool]:
    """The next non-space token from index in a direction, and whether spaces were skipped."""
    position = index + direction
    spaced = False
    while 0 <= position < len(tokens) and tokens[position].kind is _Kind.SPACE:
        position += direction
        spaced = True
    return position, spaced


def _symmetric(tokens: list[_Token], index: int) -> tuple[bool, bool]:
    """(joins, spaced) for a literal symbol: "a.b" and "a . b" join, "end. Next" does not."""
    _, spaced_before = _step(tokens, index, -1)
    _, spaced_after = _step(tokens, index, 1)
    if not tokens[index].literal:
        return True, True
    return spaced_before == spaced_after, spaced_before


def _word_at(tokens: list[_Token], position: int) -> bool:
    return 0 <= position < len(tokens) and tokens[position].kind is _Kind.WORD


def _local_part(tokens: list[_Token], at: int) -> tuple[list[str], int, bool] | None:
    """Words left of the @ joined by dot, underscore or hyphen: (parts, first index, obfuscated)."""
    position, _ = _step(tokens, at, -1)
    if not _word_at(tokens, position):
        return None
    parts = [tokens[position].text]
    first = position
    obfuscated = False
    while len(parts) < _MAX_PARTS:
        joiner, _ = _step(tokens, first, -1)
        if not (0 <= joiner < len(tokens)) or tokens[joiner].kind not in _JOINERS:
            break
        word, _ = _step(tokens, joiner, -1)
        joins, spaced = _symmetric(tokens, joiner)
        if not joins or not _word_at(tokens, word):
            break
        obfuscated |= spaced or not tokens[joiner].literal
        parts[:0] = [tokens[word].text, _JOINERS[tokens[joiner].kind]]
        first = word
    return parts, first, obfuscated


def _domain(tokens: list[_Token], at: int) -> tuple[list[str], int, bool] | None:
    """Labels right of the @ joined by dots; (labels, last index, obfuscated)."""
    position, _ = _step(tokens, at, 1)
    if not _word_at(tokens, position):
        return None
    labels = [tokens[position].text]
    last = position
    obfuscated = False
    while len(labels) < _MAX_PARTS:
        joiner, _ = _step(tokens, last, 1)
        if not (0 <= joiner < len(tokens)) or tokens[joiner].kind not in (_Kind.DOT, _Kind.HYPHEN):
            break
        word, _ = _step(tokens, joiner, 1)
        joins, spaced = _symmetric(tokens, joiner)
        if not joins and _word_at(tokens, word) and _spaced_tld(tokens, joiner, word):
            joins = spaced = True
        if not joins or not _word_at(tokens, word):
            break
        obfuscated |= spaced or not tokens[joiner].literal
        if tokens[joiner].kind is _Kind.HYPHEN:
            labels[-1] += "-" + tokens[word].text
        else:
            labels.append(tokens[word].text)
        last = word
    return labels, last, obfuscated


def _spaced_tld(tokens: list[_Token], joiner: int, word: int) -> bool:
    """ "gmail .com": a stray space before the dot of a top-level domain."""
    _, spaced_before = _step(tokens, joiner, -1)
    return spaced_before and word == joiner + 1 and _is_tld(tokens[word].text.lower())


def _is_tld(label: str) -> bool:
    return label.isascii() and label.isalpha() and (len(label) == 2 or label in _GENERIC_TLDS)


def _address_around(tokens: list[_Token], at: int, cue: bool) -> tuple[str, int, int] | None:
    local = _local_part(tokens, at)
    domain = _domain(tokens, at)
    if local is None or domain is None:
        return None
    parts, first, local_obfuscated = local
    labels, last, domain_obfuscated = domain
    marker = tokens[at]
    _, spaced_before = _step(tokens, at, -1)
    _, spaced_after = _step(tokens, at, 1)
    # "juan @ gmail . com", "juan @gmail.com" and "me @handle" all get the stricter checks
    spaced_at = spaced_before or spaced_after
    obfuscated = local_obfuscated or domain_obfuscated or spaced_at or not marker.literal
    local_text = "".join(parts).lower()
    labels = [label.lower() for label in labels]
    spelled_dot = domain_obfuscated and not _literal_dots(tokens, at, last)
    # "insta @ana.garcia.es": a space on one side only is how @handles are written
    lopsided = marker.literal and spaced_before != spaced_after
    if obfuscated and not _plausible_obfuscated(
        local_text, labels, marker, cue=cue, spelled_dot=spelled_dot, lopsided=lopsided
    ):
        if not _defaults_to_com(labels, marker, cue=cue) or local_text in _LOCAL_STOPWORDS:
            return None
        labels = [*labels, "com"]
    address = _validated(f"{local_text}@{'.'.join(labels)}")
    if address is None:
        return None
    return address, tokens[first].start, tokens[last].end


def _plausible_obfuscated(
    local: str,
    labels: list[str],
    marker: _Token,
    *,
    cue: bool,
    spelled_dot: bool,
    lopsided: bool,
) -> bool:
    if len(labels) < 2 or not _is_tld(labels[-1]) or local in _LOCAL_STOPWORDS:
        return False
    if len(local) < 2:
        return False  # "I'm at gmail.com", "it's at booking.com"
    if lopsided:
        return cue or labels[0] in _PROVIDERS
    if marker.text.lower() not in _WEAK_AT_WORDS:
        return True
    looks_like_username = bool(re.search(r"[._\-\d]", local))
    return cue or looks_like_username or spelled_dot or labels[0] in _PROVIDERS


def _literal_dots(tokens: list[_Token], at: int, last: int) -> bool:
    """Whether the domain's dots were all typed as "." (not "dot", "punto", "[.]")."""
    return all(t.literal for t in tokens[at + 1 : last] if t.kind is _Kind.DOT)


def _defaults_to_com(labels: list[str], marker: _Token, *, cue: bool) -> bool:
    """ "maria arroba gmail", "my email is maria at gmail": the big providers' .com is meant."""
    weak = marker.text.lower() in _WEAK_AT_WORDS
    return len(labels) == 1 and labels[0] in _DEFAULT_COM and (cue or not weak)


def _validated(address: str) -> str | None:
    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None
    return str(result.normalized).lower()


_SENTENCE_END = re.compile(r"[!?;\n]|\.\s+(?=[A-ZÁÉÍÓÚÀÈÌÒÙÂÊÎÔÛÄÖÜÑÇ¿¡])")


def _before(text: str, start: int, floor: int) -> str:
    window = text[max(floor, start - CONTEXT_CHARS) : start]
    stops = list(_SENTENCE_END.finditer(window))
    return window[stops[-1].end() :] if stops else window


def _after(text: str, end: int) -> str:
    window = text[end : end + CONTEXT_CHARS]
    cut = _SENTENCE_END.search(window)
    following = window.find("@")
    stops = [p for p in (cut.start() if cut else -1, following) if p >= 0]
    return window[: min(stops)] if stops else window


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
