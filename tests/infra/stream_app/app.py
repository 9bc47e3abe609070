"""A Chalice app with a route, its authoriser, a schedule and a DynamoDB stream handler.

tests/infra packages it to check how infra/ wires stream consumers, until the service has
consumers of its own. It is never deployed.
"""

from chalice import Chalice, Rate
from chalice.app import AuthRequest, CloudWatchEvent, DynamoDBEvent

from chalicelib.streams_config import stream_arn_placeholder

app = Chalice(app_name="stream-fixture")


@app.route("/")
def index() -> dict[str, str]:
    return {"status": "ok"}


@app.authorizer(name="gateway_authorizer")
def authorize_request(auth_request: AuthRequest) -> dict[str, str]:
    """Stands for the service's authoriser (infra attaches it to every non-public method)."""
    return {}


@app.schedule(Rate(1, unit=Rate.HOURS))
def hourly_job(event: CloudWatchEvent) -> None:
    """Stands for a scheduled job."""


@app.on_dynamodb_record(stream_arn=stream_arn_placeholder("Data"), batch_size=10)
def keep_segments(event: DynamoDBEvent) -> None:
    """Stands for a stream consumer."""
