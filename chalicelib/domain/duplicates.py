"""Duplicate detection (issue 16): how two profiles are matched and scored.

Uniqueness (email lower-cased, phone E.164, external id as sent) already keeps exact
copies out, so matching normalises harder than uniqueness does:

- email: lower-cased; the local part loses a `+tag`; `googlemail.com` is `gmail.com`, and
  a gmail local part loses its dots (`A.Nn+shop@GoogleMail.com` matches `ann@gmail.com`);
- phone: the national significant number of the stored E.164 value, without its country
  code (`+49 30 1234567` and `+43 30 1234567` match: the same digits under a wrong
  default country);
- external id: case-folded with whitespace, `-` and `_` removed (`POS-0042` matches
  `pos 0042`); profiles carry one external id (no identifiers per channel);
- name: NFKD with combining marks dropped, a few letters transliterated (`ß` → `ss`,
  `ø` → `o`, ...; `ü` both as `u` and as `ue`), case-folded, punctuation removed; two
  names are similar when the Jaro-Winkler similarity of the names, or of their words
  sorted, is at least NAME_SIMILARITY (0.88);
- address: line 1, postal code (without spaces; the city when there is none) and country,
  folded as names are; only a line 1 with a postal code or city counts.

Each matching fact is a reason with a weight (REASON_WEIGHTS); the score (0-100) combines
them as independent evidence: `100 * (1 - product of (1 - w/100))`, rounded. One email match is 90,
email and phone 98.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final

NAME_SIMILARITY: Final = 0.88
CANDIDATES_PER_KEY: Final = 50
"""At most this many other profiles are looked at per match key when a profile changes
(the most recently created first): a birthday shared by thousands costs one page."""


class Reason(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    EXTERNAL_ID = "external_id"
    NAME_BIRTHDAY = "name+birthday"
    NAME_ADDRESS = "name+address"


REASON_WEIGHTS: Final[Mapping[Reason, int]] = {
    Reason.EXTERNAL_ID: 95,
    Reason.EMAIL: 90,
    Reason.PHONE: 80,
    Reason.NAME_ADDRESS: 75,
    Reason.NAME_BIRTHDAY: 70,
}


class MatchKind(StrEnum):
    """The blocking keys a profile is filed under; profiles sharing one are compared."""

    EMAIL = "EMAIL"
    PHONE = "PHONE"
    EXTERNAL_ID = "EXTERNAL_ID"
    BIRTHDAY = "BIRTHDAY"
    ADDRESS = "ADDRESS"


@dataclass(frozen=True)
class MatchProfile:
    """The fields of a profile that matching reads."""

    customer_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None
    birthday: date | None = None
    address: Mapping[str, str] | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, order=True)
class MatchKey:
    kind: MatchKind
    digest: str
    """A hash of the normalised value: keys carry no personal value in clear."""


@dataclass(frozen=True)
class Match:
    score: int
    reasons: tuple[Reason, ...]


_GMAIL_DOMAINS: Final = frozenset({"gmail.com", "googlemail.com"})
_TRANSLITERATIONS: Final = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "\u0131": "i",
    }
)
_UMLAUTS_SPELT_OUT: Final = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_NOT_WORD: Final = re.compile(r"[^a-z0-9]+")
_ID_SEPARATORS: Final = re.compile(r"[\s_\-]+")


def matching_email(email: str) -> str | None:
    local, at, domain = email.strip().lower().rpartition("@")
    if not at or not local or not domain:
        return None
    local = local.split("+", 1)[0]
    if domain in _GMAIL_DOMAINS:
        domain = "gmail.com"
        local = local.replace(".", "")
    return f"{local}@{domain}" if local else None


def matching_phone(e164: str) -> str | None:
    import phonenumbers  # deferred, as in domain.customers: its metadata is large

    try:
        parsed = phonenumbers.parse(e164.strip(), None)
    except phonenumbers.NumberParseException:
        return None
    national = phonenumbers.national_significant_number(parsed)
    return national or None


def matching_external_id(external_id: str) -> str | None:
    folded = _ID_SEPARATORS.sub("", external_id.casefold())
    return folded or None


def folded_text(text: str, umlauts_spelt_out: bool = False) -> str:
    """Lower-case ASCII words separated by single spaces; `ä`, `ö`, `ü` lose their dots,
    or with `umlauts_spelt_out` become `ae`, `oe`, `ue` (as "Mueller" spells "Müller")."""
    lowered = unicodedata.normalize("NFC", text.casefold())
    if umlauts_spelt_out:
        lowered = lowered.translate(_UMLAUTS_SPELT_OUT)
    decomposed = unicodedata.normalize("NFKD", lowered.translate(_TRANSLITERATIONS))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", stripped).split())


def matching_address(address: Mapping[str, str]) -> str | None:
    line1 = folded_text(address.get("line1") or "")
    postal_code = folded_text(address.get("postal_code") or "").replace(" ", "")
    place = postal_code or folded_text(address.get("city") or "")
    if not line1 or not place:
        return None
    return "|".join([line1, place, folded_text(address.get("country") or "")])


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def match_keys(profile: MatchProfile) -> frozenset[MatchKey]:
    values: list[tuple[MatchKind, str | None]] = [
        (MatchKind.EMAIL, matching_email(profile.email) if profile.email else None),
        (MatchKind.PHONE, matching_phone(profile.phone) if profile.phone else None),
        (
            MatchKind.EXTERNAL_ID,
            matching_external_id(profile.external_id) if profile.external_id else None,
        ),
        (MatchKind.ADDRESS, matching_address(profile.address) if profile.address else None),
    ]
    if profile.birthday is not None and profile.name and folded_text(profile.name):
        values.append((MatchKind.BIRTHDAY, profile.birthday.isoformat()))
    return frozenset(MatchKey(kind, _digest(value)) for kind, value in values if value)


def fingerprint(keys: Iterable[MatchKey]) -> str:
    """Names a profile's matching fields: it changes exactly when its match keys change."""
    return _digest(",".join(f"{key.kind}:{key.digest}" for key in sorted(keys)))


def jaro_winkler(left: str, right: str) -> float:
    """Jaro-Winkler similarity (prefix scale 0.1, up to 4 characters): 1.0 for equal
    strings, 0.0 when nothing matches. Symmetric."""
    if left == right:
        return 1.0
    if not left or not right:
        return 0.0
    window = max(max(len(left), len(right)) // 2 - 1, 0)
    left_matched = [False] * len(left)
    right_matched = [False] * len(right)
    matches = 0
    for i, char in enumerate(left):
        for j in range(max(0, i - window), min(len(right), i + window + 1)):
            if not right_matched[j] and right[j] == char:
                left_matched[i] = right_matched[j] = True
                matches += 1
                break
    if matches == 0:
        return 0.0
    left_chars = [c for c, hit in zip(left, left_matched, strict=True) if hit]
    right_chars = [c for c, hit in zip(right, right_matched, strict=True) if hit]
    transpositions = sum(a != b for a, b in zip(left_chars, right_chars, strict=True)) / 2
    jaro = (matches / len(left) + matches / len(right) + (matches - transpositions) / matches) / 3
    prefix = 0
    for a, b in zip(left[:4], right[:4], strict=False):
        if a != b:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def name_similarity(left: str, right: str) -> float:
    """The best Jaro-Winkler similarity of the two names folded alike (umlauts dotless or
    spelt out), as written or with their words sorted ("Lee Ann" is "Ann Lee")."""
    best = 0.0
    for spelt_out in (False, True):
        a, b = folded_text(left, spelt_out), folded_text(right, spelt_out)
        if not a or not b:
            return 0.0
        in_order = jaro_winkler(a, b)
        sorted_words = jaro_winkler(" ".join(sorted(a.split())), " ".join(sorted(b.split())))
        best = max(best, in_order, sorted_words)
    return best


def combined_score(reasons: Iterable[Reason]) -> int:
    missing = 1.0
    for reason in set(reasons):
        missing *= 1 - REASON_WEIGHTS[reason] / 100
    return round(100 * (1 - missing))


def compare(left: MatchProfile, right: MatchProfile) -> Match | None:
    """Why two profiles may be one customer, and how likely; None when nothing matches.
    Symmetric: compare(a, b) == compare(b, a)."""
    if left.customer_id == right.customer_id:
        return None
    left_keys = {key.kind: key for key in match_keys(left)}
    right_keys = {key.kind: key for key in match_keys(right)}

    def same(kind: MatchKind) -> bool:
        return kind in left_keys and left_keys[kind] == right_keys.get(kind)

    reasons = [
        reason
        for reason, kind in (
            (Reason.EMAIL, MatchKind.EMAIL),
            (Reason.PHONE, MatchKind.PHONE),
            (Reason.EXTERNAL_ID, MatchKind.EXTERNAL_ID),
        )
        if same(kind)
    ]
    similar_names = bool(
        left.name and right.name and name_similarity(left.name, right.name) >= NAME_SIMILARITY
    )
    if similar_names and same(MatchKind.BIRTHDAY):
        reasons.append(Reason.NAME_BIRTHDAY)
    if similar_names and same(MatchKind.ADDRESS):
        reasons.append(Reason.NAME_ADDRESS)
    if not reasons:
        return None
    ordered = tuple(sorted(reasons, key=lambda reason: -REASON_WEIGHTS[reason]))
    return Match(combined_score(ordered), ordered)


def ordered_pair(first: str, second: str) -> tuple[str, str]:
    return (first, second) if first < second else (second, first)


_PAIR_ID: Final = re.compile(r"^dup_(cus_[0-9A-Z]{26})_(cus_[0-9A-Z]{26})$")


def pair_id(first: str, second: str) -> str:
    low, high = ordered_pair(first, second)
    return f"dup_{low}_{high}"


def customers_of_pair(pair: str) -> tuple[str, str] | None:
    """The two customer ids a pair id names (in order), or None for text that is not one."""
    found = _PAIR_ID.match(pair)
    if found is None or found[1] >= found[2]:
        return None
    return found[1], found[2]


@dataclass(frozen=True)
class PairState:
    """A stored candidate pair: `dismissed_fingerprint` is the two profiles' matching
    fields when someone said "not a duplicate"; the dismissal holds while it is current."""

    customer_a: str
    customer_b: str
    score: int
    reasons: tuple[Reason, ...]
    fingerprint: str
    dismissed_fingerprint: str | None = None
    dismissed_by: str | None = None
    version: int | None = None

    @property
    def pair_id(self) -> str:
        return pair_id(self.customer_a, self.customer_b)

    @property
    def dismissed(self) -> bool:
        return self.dismissed_fingerprint is not None and (
            self.dismissed_fingerprint == self.fingerprint
        )

    def other(self, customer_id: str) -> str:
        return self.customer_b if customer_id == self.customer_a else self.customer_a


def pair_fingerprint(left: MatchProfile, right: MatchProfile) -> str:
    """Both profiles' matching fields, in pair order."""
    low, high = sorted((left, right), key=lambda profile: profile.customer_id)
    return _digest(f"{fingerprint(match_keys(low))}/{fingerprint(match_keys(high))}")


@dataclass(frozen=True)
class ListedPair:
    """A pair as one of its customers lists it."""

    pair_id: str
    other_customer_id: str
    score: int
    reasons: tuple[Reason, ...]
