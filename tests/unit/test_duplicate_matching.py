"""Duplicate detection's matching rules (issue 16): normalisation, similarity, score."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.duplicates import (
    MatchKind,
    MatchProfile,
    Reason,
    combined_score,
    compare,
    customers_of_pair,
    jaro_winkler,
    match_keys,
    matching_address,
    matching_email,
    matching_external_id,
    matching_phone,
    name_similarity,
    pair_fingerprint,
    pair_id,
)

ANN = "cus_01M81Y3CH4RRSFSN4Y0ZYM108V"
BOB = "cus_01M81Y3D0DH84V0D728A2JRM31"


def _profile(customer_id: str = ANN, **fields: object) -> MatchProfile:
    return MatchProfile(customer_id=customer_id, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ann.lee@gmail.com", "AnnLee+shop@googlemail.com"),
        ("ann+news@example.com", "Ann@Example.com"),
    ],
)
def test_emails_match_across_tags_gmail_dots_and_aliases(first: str, second: str) -> None:
    assert matching_email(first) == matching_email(second)


def test_dots_matter_outside_gmail() -> None:
    assert matching_email("ann.lee@example.com") != matching_email("annlee@example.com")


def test_phones_match_by_national_number_across_country_codes() -> None:
    assert matching_phone("+496641234567") == matching_phone("+436641234567") == "6641234567"


def test_external_ids_match_without_case_spaces_or_separators() -> None:
    assert matching_external_id("POS-0042") == matching_external_id(" pos 00_42 ") == "pos0042"


def test_addresses_need_a_line_and_a_place() -> None:
    assert matching_address({"line1": "Main St 1"}) is None
    assert matching_address({"line1": "Main St. 1", "postal_code": "10 115"}) == (
        matching_address({"line1": "main st 1", "postal_code": "10115"})
    )


@pytest.mark.parametrize(
    ("first", "second", "similar"),
    [
        ("Jürgen Müller", "Juergen Mueller", True),
        ("Jurgen Muller", "Jürgen Müller", True),
        ("Lee, Ann", "Ann Lee", True),
        ("Søren Kierkegaard", "Soren Kierkegaard", True),
        ("Ann Lee", "Bob Lee", False),
        ("Zoe Quinn", "Ann Lee", False),
    ],
)
def test_name_similarity(first: str, second: str, similar: bool) -> None:
    assert (name_similarity(first, second) >= 0.88) is similar


def test_jaro_winkler_known_values() -> None:
    assert jaro_winkler("martha", "marhta") == pytest.approx(0.961, abs=0.001)
    assert jaro_winkler("dixon", "dicksonx") == pytest.approx(0.813, abs=0.001)
    assert jaro_winkler("abc", "xyz") == 0.0


def test_a_birthday_alone_is_no_reason() -> None:
    # Given two different names born the same day
    left = _profile(ANN, name="Ann Lee", birthday=date(1980, 5, 17))
    right = _profile(BOB, name="Zoe Quinn", birthday=date(1980, 5, 17))
    # Then they do not match, though they share the blocking key
    assert MatchKind.BIRTHDAY in {key.kind for key in match_keys(left) & match_keys(right)}
    assert compare(left, right) is None


def test_reasons_are_ordered_by_weight_and_scored_together() -> None:
    left = _profile(ANN, name="Ann Lee", email="ann@x.com", phone="+496641234567")
    right = _profile(BOB, name="Ann Lee", email="ann+1@x.com", phone="+436641234567")
    match = compare(left, right)
    assert match is not None
    assert match.reasons == (Reason.EMAIL, Reason.PHONE)
    assert match.score == 98


def test_match_keys_hold_no_value_in_clear() -> None:
    keys = match_keys(_profile(email="ann@example.com", external_id="A-1"))
    assert all("ann" not in key.digest and len(key.digest) == 32 for key in keys)


def test_pair_ids_name_their_customers_in_order() -> None:
    assert pair_id(BOB, ANN) == pair_id(ANN, BOB) == f"dup_{ANN}_{BOB}"
    assert customers_of_pair(pair_id(ANN, BOB)) == (ANN, BOB)
    assert customers_of_pair(f"dup_{BOB}_{ANN}") is None
    assert customers_of_pair("dup_x") is None


names = st.text(alphabet="abcdeéüß ,.-", max_size=20)
emails = st.sampled_from(["a.b@gmail.com", "ab+x@googlemail.com", "ab@example.com", None])
phones = st.sampled_from(["+496641234567", "+436641234567", "+4915112345678", None])
birthdays = st.sampled_from([date(1980, 1, 1), date(1990, 2, 2), None])
profiles = st.builds(
    MatchProfile,
    customer_id=st.just(ANN),
    name=st.one_of(st.none(), names),
    email=emails,
    phone=phones,
    birthday=birthdays,
    external_id=st.sampled_from(["A-1", "a 1", "B2", None]),
)


@given(profiles, profiles)
def test_comparison_is_symmetric_and_bounded(left: MatchProfile, right: MatchProfile) -> None:
    left = MatchProfile(**{**vars(left), "customer_id": ANN})
    right = MatchProfile(**{**vars(right), "customer_id": BOB})
    forward, backward = compare(left, right), compare(right, left)
    assert forward == backward
    if forward is not None:
        assert 0 < forward.score <= 100 and forward.reasons
    assert pair_fingerprint(left, right) == pair_fingerprint(right, left)


@given(names, names)
def test_name_similarity_is_symmetric_and_bounded(left: str, right: str) -> None:
    similarity = name_similarity(left, right)
    assert similarity == name_similarity(right, left)
    assert 0.0 <= similarity <= 1.0 + 1e-9


@given(st.lists(st.sampled_from(list(Reason)), min_size=1))
def test_more_reasons_never_lower_the_score(reasons: list[Reason]) -> None:
    score = combined_score(reasons)
    assert 0 < score <= 100
    assert all(combined_score(reasons[:n]) <= score for n in range(1, len(reasons)))
