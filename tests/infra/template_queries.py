"""Reading synthesised CloudFormation templates: resources, policy statements, mappings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Template = dict[str, Any]

STREAM_EVENT_TYPES = ("DynamoDB", "Kinesis")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resources_of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def properties(template: Template, logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"][logical_id].get("Properties", {})
    return props


def get_att_target(value: Any) -> str | None:
    """The logical id in {"Fn::GetAtt": [id, attribute]} (or {"Ref": id})."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    return None


@dataclass(frozen=True)
class Statement:
    owner: str  # the logical id of the policy, role or function that holds it
    body: dict[str, Any]

    @property
    def actions(self) -> list[str]:
        return [str(a) for a in as_list(self.body.get("Action", []))]

    @property
    def resources(self) -> list[Any]:
        return as_list(self.body.get("Resource", []))


def policy_statements(template: Template) -> Iterator[Statement]:
    """Every identity-policy statement: IAM policies, roles' inline policies, managed
    policies, and SAM functions' inline policies."""
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        documents: list[dict[str, Any]] = []
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(props["PolicyDocument"])
        elif resource["Type"] in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            documents += [policy["PolicyDocument"] for policy in props.get("Policies", [])]
        elif resource["Type"] == "AWS::Serverless::Function":
            documents += [
                policy for policy in as_list(props.get("Policies", [])) if isinstance(policy, dict)
            ]
        for document in documents:
            for statement in as_list(document.get("Statement", [])):
                yield Statement(name, statement)


def policies_of_role(template: Template, role: str) -> Iterator[Statement]:
    """Statements of a role: its inline policies and the AWS::IAM::Policy resources on it."""
    for statement in policy_statements(template):
        resource = template["Resources"][statement.owner]
        attached = resource["Type"] == "AWS::IAM::Policy" and any(
            get_att_target(r) == role for r in resource["Properties"].get("Roles", [])
        )
        if statement.owner == role or attached:
            yield statement


@dataclass(frozen=True)
class StreamMapping:
    """A stream event source mapping, as a SAM event or an AWS::Lambda::EventSourceMapping."""

    where: str
    function: str
    properties: dict[str, Any]

    @property
    def source(self) -> Any:
        return self.properties.get("Stream", self.properties.get("EventSourceArn"))

    @property
    def on_failure_destination(self) -> Any:
        return self.properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")


_STREAM_SOURCE_TYPES = (
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::Kinesis::Stream",
)


def _is_stream_source(template: Template, arn: Any) -> bool:
    """A DynamoDB or Kinesis stream (not an SQS queue or a Kafka topic)."""
    target = get_att_target(arn)
    if target is not None and target in template["Resources"]:
        return bool(template["Resources"][target]["Type"] in _STREAM_SOURCE_TYPES)
    text = str(arn)
    return ":kinesis:" in text or (":dynamodb:" in text and "/stream/" in text)


def stream_mappings(template: Template) -> list[StreamMapping]:
    found = []
    for name, function in resources_of_type(template, "AWS::Serverless::Function").items():
        for event_name, event in function["Properties"].get("Events", {}).items():
            if event["Type"] in STREAM_EVENT_TYPES:
                found.append(StreamMapping(f"{name}.{event_name}", name, event["Properties"]))
    for name, mapping in resources_of_type(template, "AWS::Lambda::EventSourceMapping").items():
        props = mapping["Properties"]
        if _is_stream_source(template, props.get("EventSourceArn")):
            found.append(StreamMapping(name, str(props.get("FunctionName")), props))
    return found
