"""Builds Lambda-shaped DynamoDB stream events (Chalice has no builder for them)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer

STREAM_ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/data/stream/2026-01-01T00:00:00.000"
_serializer = TypeSerializer()
_sequence = itertools.count(1)


def dynamodb_json(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


@dataclass
class StreamEventBuilder:
    """`insert`, `modify` and `remove` add records in order; `build()` answers the event.

    Items are plain Python values (str, int, Decimal, set, dict, ...); `raw_new_image`
    takes DynamoDB JSON as is, for records that should not parse."""

    records: list[dict[str, Any]] = field(default_factory=list)
    stream_arn: str = STREAM_ARN

    def _record(
        self,
        event_name: str,
        keys: dict[str, Any],
        new: dict[str, Any] | None,
        old: dict[str, Any] | None,
    ) -> StreamEventBuilder:
        sequence = f"{next(_sequence):021d}"
        stream: dict[str, Any] = {
            "ApproximateCreationDateTime": int(time.time()),
            "Keys": keys,
            "SequenceNumber": sequence,
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        if new is not None:
            stream["NewImage"] = new
        if old is not None:
            stream["OldImage"] = old
        self.records.append(
            {
                "eventID": f"evt-{sequence}",
                "eventName": event_name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": stream,
                "eventSourceARN": self.stream_arn,
            }
        )
        return self

    @staticmethod
    def _keys(item: dict[str, Any]) -> dict[str, Any]:
        return dynamodb_json({"pk": item["pk"], "sk": item["sk"]})

    def insert(self, item: dict[str, Any]) -> StreamEventBuilder:
        return self._record("INSERT", self._keys(item), dynamodb_json(item), None)

    def modify(self, old: dict[str, Any], new: dict[str, Any]) -> StreamEventBuilder:
        return self._record("MODIFY", self._keys(new), dynamodb_json(new), dynamodb_json(old))

    def remove(self, item: dict[str, Any]) -> StreamEventBuilder:
        return self._record("REMOVE", self._keys(item), None, dynamodb_json(item))

    def raw_new_image(self, keys: dict[str, Any], image: dict[str, Any]) -> StreamEventBuilder:
        return self._record("INSERT", dynamodb_json(keys), image, None)

    def build(self) -> dict[str, Any]:
        return {"Records": list(self.records)}

    def sequence_numbers(self) -> list[str]:
        return [record["dynamodb"]["SequenceNumber"] for record in self.records]


def stream_event(*items: dict[str, Any]) -> dict[str, Any]:
    """An event of INSERT records, one per item."""
    builder = StreamEventBuilder()
    for item in items:
        builder.insert(item)
    return builder.build()


def data_stream_records(environment: dict[str, str]) -> list[dict[str, Any]]:
    """Every record of the data table's stream in moto (to deliver again in a test)."""
    region = environment["AWS_DEFAULT_REGION"]
    client = boto3.client(
        "dynamodbstreams",
        region_name=region,
        endpoint_url=f"https://streams.dynamodb.{region}.amazonaws.com",
    )
    table = boto3.client("dynamodb", region_name=region).describe_table(
        TableName=environment["DATA_TABLE"]
    )["Table"]
    records: list[dict[str, Any]] = []
    shards = client.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"]
    for shard in shards["Shards"]:
        iterator = client.get_shard_iterator(
            StreamArn=table["LatestStreamArn"],
            ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]
        records += client.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    return [{**r, "dynamodb": {**r["dynamodb"], "ApproximateCreationDateTime": 0}} for r in records]
