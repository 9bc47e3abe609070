"""A Chalice app with a route, a schedule and a DynamoDB stream handler.

tests/infra packages it to check how infra/ wires stream consumers, until the service has
consumers of its own. It is never deployed.
"""

from chalice import Chalice, Rate
from chalice.app import CloudWatchEvent, DynamoDBEvent

from chalicelib.streams_config import stream_arn_placeholder

app = Chalice(app_name="stream-fixture")


@app.route("/")
def index() -> dict[str, str]:
    return {"status": "ok"}


@app.schedule(Rate(1, unit=Rate.HOURS))
def hourly_job(event: CloudWatchEvent) -> None:
    """Stands for a scheduled job."""


@app.on_dynamodb_record(stream_arn=stream_arn_placeholder("Data"), batch_size=10)
def keep_segments(event: DynamoDBEvent) -> None:
    """Stands for a stream consumer."""
