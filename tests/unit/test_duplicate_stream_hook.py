"""The data stream runs duplicate detection's refresh for profile records only, once per
customer per batch, and fails a customer's records when it fails (issue 16)."""

from __future__ import annotations

from chalicelib.domain.tenancy import TenantId
from chalicelib.streams.data_table import process_batch
from tests.support.streams import StreamEventBuilder

TENANT = "ten_01M81Y3CBPRNGM9WHT0MQZ3JPG"
ANN = "cus_01M81Y3CH4RRSFSN4Y0ZYM108V"
BOB = "cus_01M81Y3D0DH84V0D728A2JRM31"


def _profile(customer: str, email: str = "ann@example.com") -> dict[str, object]:
    return {
        "pk": f"T#{TENANT}#CUS#{customer}",
        "sk": "PROFILE",
        "entity": "customer",
        "customer_id": customer,
        "email": email,
    }


def _interaction(customer: str) -> dict[str, object]:
    return {
        "pk": f"T#{TENANT}#CUS#{customer}",
        "sk": "INT#2026-11-22T10:00:00.000000Z#int_1",
        "entity": "interaction",
        "interaction_id": "int_1",
        "type": "visit",
        "occurred_at": "2026-11-22T10:00:00.000000Z",
        "details": "{}",
    }


class Calls:
    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.seen: list[tuple[TenantId, str]] = []
        self.failing = failing

    def __call__(self, tenant: TenantId, customer_id: str) -> None:
        self.seen.append((tenant, customer_id))
        if customer_id in self.failing:
            raise RuntimeError("DynamoDB said no")


def test_created_changed_and_deleted_profiles_are_matched_once_per_batch() -> None:
    # Given a batch: Ann created and changed, Bob deleted, and an interaction of Bob
    builder = StreamEventBuilder()
    builder.insert(_profile(ANN))
    builder.modify(_profile(ANN), _profile(ANN, "ann@other.com"))
    builder.remove(_profile(BOB))
    builder.insert(_interaction(BOB))
    match = Calls()
    # When it is processed
    answer = process_batch(builder.build(), None, Calls(), match=match)
    # Then each profile's customer was matched once; the interaction matched nothing
    assert answer == {"batchItemFailures": []}
    assert match.seen == [(TENANT, ANN), (TENANT, BOB)]


def test_interactions_alone_match_nothing() -> None:
    builder = StreamEventBuilder().insert(_interaction(ANN))
    match = Calls()

    process_batch(builder.build(), None, Calls(), match=match)

    assert match.seen == []


def test_a_redelivered_batch_matches_again_and_the_refresh_decides() -> None:
    # Given the same record in two deliveries
    record = _profile(ANN)
    match = Calls()
    # When both are processed
    for _ in range(2):
        process_batch(StreamEventBuilder().insert(record).build(), None, Calls(), match=match)
    # Then the refresh ran for each (it recomputes from the table and writes nothing new)
    assert match.seen == [(TENANT, ANN), (TENANT, ANN)]


def test_a_failed_match_fails_every_profile_record_of_that_customer() -> None:
    # Given two records of Ann's profile and one of Bob's, Ann's matching failing
    builder = StreamEventBuilder()
    builder.insert(_profile(ANN)).insert(_profile(BOB)).modify(_profile(ANN), _profile(ANN))
    match = Calls(failing=frozenset({ANN}))
    # When it is processed
    answer = process_batch(builder.build(), None, Calls(), match=match)
    # Then both of Ann's records are reported failed, Bob's is done
    first, _, third = builder.sequence_numbers()
    assert answer == {"batchItemFailures": [{"itemIdentifier": first}, {"itemIdentifier": third}]}
    assert match.seen == [(TENANT, ANN), (TENANT, BOB)]
