"""Queueing work on SQS: messages sent by SendMessageBatch, the one way the functions that
queue pages (campaign sends, audit heartbeats) send them."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.queues_config import SEND_MESSAGE_BATCH


class QueueingFailed(RuntimeError):
    """SQS refused some messages of a batch (the caller's run fails: it is retried and
    alarmed)."""


def send_messages(
    queue_url: str, bodies: Sequence[str], what: str, group_id: str | None = None
) -> None:
    """`bodies` as messages of the queue, SEND_MESSAGE_BATCH a call, each in the message
    group `group_id` when given; QueueingFailed names the `what` messages SQS refused."""
    import boto3

    from chalicelib.settings import get_settings

    sqs = boto3.client("sqs", region_name=get_settings().aws_region)
    group = {"MessageGroupId": group_id} if group_id is not None else {}
    for start in range(0, len(bodies), SEND_MESSAGE_BATCH):
        entries = [
            {"Id": str(index), "MessageBody": body, **group}
            for index, body in enumerate(bodies[start : start + SEND_MESSAGE_BATCH])
        ]
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if answer.get("Failed"):
            failed = ", ".join(f"{f['Id']}: {f.get('Code')}" for f in answer["Failed"])
            raise QueueingFailed(f"SQS refused {what} messages ({failed})")
