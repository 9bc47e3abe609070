"""The Chalice application: wiring only (routes, middleware, scheduled functions, stream
consumers, the queue consumers)."""

from chalice import Chalice, ConvertToMiddleware, Cron, Rate

from chalicelib.api.middleware import http_middleware
from chalicelib.api.routes import api_blueprint
from chalicelib.cold_start import ColdStartCollection
from chalicelib.lazy import deferred
from chalicelib.observability import metrics
from chalicelib.queues_config import (
    AUDIT_HEARTBEAT_QUEUE,
    CAMPAIGN_SEND_QUEUE,
    IMPORT_QUEUE,
    MERGE_QUEUE,
    WEBHOOK_DEAD_LETTERS,
    WEBHOOK_QUEUE,
    queue_placeholder,
)
from chalicelib.streams_config import (
    AUDIT_CHANGES,
    AUDIT_DIGEST_PERIOD_MINUTES,
    AUDIT_STREAM,
    DATA_STREAM,
    stream_arn_placeholder,
)

cold_start_collection = ColdStartCollection()
cold_start_collection.space_out()
app = Chalice(app_name="customer-ops")

app.register_blueprint(api_blueprint())
app.register_middleware(cold_start_collection.settle_after_first_invocation, "all")
app.register_middleware(http_middleware(app), "http")
# Business counters: one EMF line at the end of every invocation that counted something.
app.register_middleware(ConvertToMiddleware(metrics.log_metrics), "all")

# The deployed API's Lambda authoriser (infra attaches it to every non-public method and sets
# its cache TTL); locally no route uses it and the middleware authenticates.
# Chalice names the Lambda handler after the function ("app.authorize_request").
authorize_request = app.authorizer(name="gateway_authorizer")(
    cold_start_collection.settling(
        deferred("chalicelib.api.gateway_authorizer", "authorize_request")
    )
)

purge_deleted_tenants = app.schedule(Rate(1, unit=Rate.MINUTES))(
    deferred("chalicelib.jobs", "purge_deleted_tenants")
)

daily_loyalty = app.schedule(Cron(5, 0, "*", "*", "?", "*"), name="daily_loyalty")(
    deferred("chalicelib.jobs", "daily_loyalty")
)

keep_customers_current = app.on_dynamodb_record(
    stream_arn=stream_arn_placeholder("Data"),
    batch_size=DATA_STREAM.settings.batch_size,
    name="keep_customers_current",
)(deferred("chalicelib.streams.data_table", "keep_customers_current"))

daily_segments = app.schedule(Cron(15, 0, "*", "*", "?", "*"), name="daily_segments")(
    deferred("chalicelib.jobs", "daily_segments")
)

segment_backfills = app.schedule(Rate(1, unit=Rate.MINUTES), name="segment_backfills")(
    deferred("chalicelib.jobs", "segment_backfills")
)

run_campaigns = app.schedule(Rate(1, unit=Rate.MINUTES), name="run_campaigns")(
    deferred("chalicelib.jobs", "run_campaigns")
)

record_data_changes = app.on_dynamodb_record(
    stream_arn=stream_arn_placeholder("Data"),
    batch_size=AUDIT_CHANGES.settings.batch_size,
    name="record_data_changes",
)(deferred("chalicelib.streams.audit", "record_data_changes"))

chain_audit_trail = app.on_dynamodb_record(
    stream_arn=stream_arn_placeholder("Audit"),
    batch_size=AUDIT_STREAM.settings.batch_size,
    name="chain_audit_trail",
)(deferred("chalicelib.streams.audit", "chain_audit_trail"))

audit_heartbeats = app.schedule(
    Rate(AUDIT_DIGEST_PERIOD_MINUTES, unit=Rate.MINUTES), name="audit_heartbeats"
)(deferred("chalicelib.jobs", "audit_heartbeats"))

append_audit_heartbeats = app.on_sqs_message(
    queue=queue_placeholder(AUDIT_HEARTBEAT_QUEUE.queue_name),
    batch_size=AUDIT_HEARTBEAT_QUEUE.batch_size,
    name=AUDIT_HEARTBEAT_QUEUE.handler,
)(deferred("chalicelib.streams.audit_heartbeats", "append_audit_heartbeats"))

deliver_webhooks = app.on_sqs_message(
    queue=queue_placeholder(WEBHOOK_QUEUE.queue_name),
    batch_size=WEBHOOK_QUEUE.batch_size,
    name=WEBHOOK_QUEUE.handler,
)(deferred("chalicelib.streams.webhook_queue", "deliver_webhooks"))

record_undelivered_webhooks = app.on_sqs_message(
    queue=queue_placeholder(WEBHOOK_DEAD_LETTERS.queue_name),
    batch_size=WEBHOOK_DEAD_LETTERS.batch_size,
    name=WEBHOOK_DEAD_LETTERS.handler,
)(deferred("chalicelib.streams.webhook_queue", "record_undelivered_webhooks"))

process_imports = app.on_sqs_message(
    queue=queue_placeholder(IMPORT_QUEUE.queue_name),
    batch_size=IMPORT_QUEUE.batch_size,
    name=IMPORT_QUEUE.handler,
)(deferred("chalicelib.streams.import_queue", "process_imports"))

continue_merges = app.on_sqs_message(
    queue=queue_placeholder(MERGE_QUEUE.queue_name),
    batch_size=MERGE_QUEUE.batch_size,
    name=MERGE_QUEUE.handler,
)(deferred("chalicelib.streams.merge_queue", "continue_merges"))
send_campaign_pages = app.on_sqs_message(
    queue=queue_placeholder(CAMPAIGN_SEND_QUEUE.queue_name),
    batch_size=CAMPAIGN_SEND_QUEUE.batch_size,
    name=CAMPAIGN_SEND_QUEUE.handler,
)(deferred("chalicelib.streams.campaign_sends", "send_campaign_pages"))
