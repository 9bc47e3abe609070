from chalicelib.domain.rate_limit import TokenBuckets, retry_after_seconds


def test_a_full_bucket_grants_its_burst_then_refuses() -> None:
    buckets = TokenBuckets()

    granted = [buckets.take("t", rate=10, burst=5, now=100.0) for _ in range(5)]
    refused = buckets.take("t", rate=10, burst=5, now=100.0)

    assert granted == [0.0] * 5
    assert refused == 0.1


def test_tokens_refill_at_the_rate_and_never_past_the_burst() -> None:
    buckets = TokenBuckets()
    for _ in range(5):
        buckets.take("t", rate=10, burst=5, now=0.0)

    assert buckets.take("t", rate=10, burst=5, now=0.05) > 0
    assert buckets.take("t", rate=10, burst=5, now=0.1) == 0.0
    later = [buckets.take("t", rate=10, burst=5, now=1000.0) for _ in range(6)]
    assert later.count(0.0) == 5


def test_each_key_has_its_own_bucket() -> None:
    buckets = TokenBuckets()
    buckets.take("a", rate=1, burst=1, now=0.0)

    assert buckets.take("b", rate=1, burst=1, now=0.0) == 0.0
    assert buckets.take("a", rate=1, burst=1, now=0.0) == 1.0


def test_retry_after_is_a_whole_second_at_least() -> None:
    assert retry_after_seconds(0.01) == 1
    assert retry_after_seconds(2.2) == 3
