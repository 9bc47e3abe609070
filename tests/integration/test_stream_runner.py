"""The local stream runner (devtools/stream_runner.py) on moto's streams, with the stream
consumers of tests/support/stream_app.py: positions kept across runners over one local
directory, and consumers polled independently in the background."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devtools.stream_runner import POSITIONS_FILE, LocalStreamRunner
from tests.support import stream_app

APP_MODULE = "tests.support.stream_app"


@pytest.fixture
def consumers() -> Iterator[None]:
    stream_app.reset()
    yield
    stream_app.reset()


class _Clients:
    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment
        region = environment["AWS_DEFAULT_REGION"]
        self.dynamodb = boto3.client("dynamodb", region_name=region)
        self.streams = boto3.client(
            "dynamodbstreams",
            region_name=region,
            endpoint_url=f"https://streams.dynamodb.{region}.amazonaws.com",
        )

    def write(self, *keys: str) -> None:
        for key in keys:
            self.dynamodb.put_item(
                TableName=self.environment["DATA_TABLE"],
                Item={"pk": {"S": "T#runner"}, "sk": {"S": key}},
            )

    def runner(self, local_dir: Path | None, streams: Any = None) -> LocalStreamRunner:
        return LocalStreamRunner(
            self.dynamodb,
            streams or self.streams,
            local_dir,
            app_module=APP_MODULE,
            environ=dict(self.environment),
        )


@pytest.fixture
def clients(dynamodb: object, environment: dict[str, str], consumers: None) -> _Clients:
    return _Clients(environment)


class _Crash(BaseException):
    """The runner's process ending in the middle of an invocation (as Ctrl-C does)."""


class _TrimmedPositions:
    """The streams client, answering TrimmedDataAccessException to the first position a
    shard resumes from (the one a previous runner saved); positions reached since read."""

    def __init__(self, streams: Any) -> None:
        self._streams = streams
        self._trimmed_shards: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._streams, name)

    def get_shard_iterator(self, **arguments: Any) -> Any:
        shard = arguments["ShardId"]
        if arguments["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER" and (
            shard not in self._trimmed_shards
        ):
            self._trimmed_shards.add(shard)
            error = {"Code": "TrimmedDataAccessException", "Message": "trimmed"}
            raise ClientError({"Error": error}, "GetShardIterator")
        return self._streams.get_shard_iterator(**arguments)


def test_a_new_runner_over_the_same_local_dir_resumes_after_what_was_delivered(
    clients: _Clients, tmp_path: Path
) -> None:
    # Given a runner that delivered three records to both consumers, then stopped
    clients.write("a", "b", "c")
    clients.runner(tmp_path).drain()
    assert stream_app.delivered("first_reader") == ["a", "b", "c"]
    # And two records written while no runner ran
    clients.write("d", "e")
    stream_app.reset()
    # When a new runner over the same local directory drains the streams
    clients.runner(tmp_path).drain()
    # Then each consumer is given the two new records only
    assert stream_app.delivered("first_reader") == ["d", "e"]
    assert stream_app.delivered("second_reader") == ["d", "e"]
    # And the positions are kept per consumer and shard
    positions = json.loads((tmp_path / POSITIONS_FILE).read_text())
    assert set(positions) == {"first_reader", "second_reader"}
    assert all(len(shards) == 1 for shards in positions.values())


def test_a_runner_without_a_local_dir_reads_from_the_starting_position(
    clients: _Clients,
) -> None:
    # Given a runner without a local directory that delivered two records
    clients.write("a", "b")
    clients.runner(None).drain()
    stream_app.reset()
    # When another one drains the streams
    clients.runner(None).drain()
    # Then it reads them again from TRIM_HORIZON: nothing was kept
    assert stream_app.delivered("first_reader") == ["a", "b"]


def test_a_restart_during_retries_resumes_at_the_first_failed_record(
    clients: _Clients, tmp_path: Path
) -> None:
    # Given a consumer that fails record "c" of a batch, and the runner's process ends
    # during the retry
    clients.write("a", "b", "c", "d")
    attempts: list[list[str]] = []

    def fail_then_crash(keys: list[str]) -> list[str]:
        attempts.append(keys)
        if len(attempts) > 1:
            raise _Crash
        return ["c"]

    stream_app.BEHAVIOUR["first_reader"] = fail_then_crash
    with pytest.raises(_Crash):
        clients.runner(tmp_path).drain()
    assert attempts == [["a", "b", "c", "d"], ["c", "d"]]
    # When a new runner over the same local directory drains the streams
    stream_app.reset()
    clients.runner(tmp_path).drain()
    # Then the retry goes on from the failed record: not before it, not past it
    assert stream_app.INVOCATIONS["first_reader"] == [["c", "d"]]


def test_a_position_in_a_shard_the_stream_does_not_have_is_not_used(
    clients: _Clients, tmp_path: Path
) -> None:
    # Given saved positions of shards of another stream (say, a replaced data directory)
    clients.write("a", "b")
    (tmp_path / POSITIONS_FILE).write_text(
        json.dumps({"first_reader": {"shardId-00000000000000000000-gone": "1" * 21}})
    )
    # When a runner over that directory drains the streams
    clients.runner(tmp_path).drain()
    # Then the stream's shard is read from the consumer's starting position
    assert stream_app.delivered("first_reader") == ["a", "b"]


def test_a_trimmed_position_is_read_from_trim_horizon(
    clients: _Clients, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given positions saved by a runner
    clients.write("a", "b")
    clients.runner(tmp_path).drain()
    stream_app.reset()
    # When the next runner's stream answers that those positions are trimmed
    clients.runner(tmp_path, _TrimmedPositions(clients.streams)).drain()
    # Then it says so and reads the shard from the oldest record kept
    assert stream_app.delivered("first_reader") == ["a", "b"]
    assert "TrimmedDataAccessException" in capsys.readouterr().out


def test_in_the_background_a_slow_consumer_does_not_hold_another(
    clients: _Clients, tmp_path: Path
) -> None:
    # Given a first consumer whose invocation blocks until released
    first_started, first_returned, release = threading.Event(), threading.Event(), threading.Event()
    second_delivered = threading.Event()

    def block(keys: list[str]) -> list[str]:
        first_started.set()
        release.wait(timeout=60)
        first_returned.set()
        return []

    def note(keys: list[str]) -> list[str]:
        second_delivered.set()
        return []

    stream_app.BEHAVIOUR.update(first_reader=block, second_reader=note)
    runner = clients.runner(tmp_path)
    runner.start(interval=0.05)
    try:
        # When a record is written
        clients.write("a")
        # Then, while the first consumer is still in its invocation, the second is given it
        assert first_started.wait(timeout=30)
        assert second_delivered.wait(timeout=30)
        assert not first_returned.is_set()
    finally:
        release.set()
        runner.stop()
    assert stream_app.delivered("first_reader") == ["a"]
