"""Documents generated from the contracts: example payloads, JSON Schemas, AsyncAPI 3.0."""

import json
from importlib import resources
from typing import Any

from kcc_shared.contracts.catalogue import DEPARTMENT_TOPIC_PATTERN, TOPICS, TopicSpec, department_topic
from kcc_shared.contracts.envelope import CONTENT_TYPE, CloudEvent


def load_examples() -> dict[str, dict[str, Any]]:
    """The example payload of every event type, keyed by CloudEvents `type`."""
    folder = resources.files("kcc_shared.contracts") / "examples"
    return {
        entry.name.removesuffix(".json"): json.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


def json_schemas() -> dict[str, dict[str, Any]]:
    """A JSON Schema (draft 2020-12) per event type, keyed by CloudEvents `type`."""
    return {model.event_type: _schema(model) for model in _documented_events()}


def asyncapi() -> dict[str, Any]:
    """An AsyncAPI 3.0 document of every topic and event in the catalogue."""
    examples = load_examples()
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in (*TOPICS, _department_template()):
        channel_id = spec.name.replace("{department}", "department")
        channel_messages = {}
        for model in spec.events:
            name = model.__name__
            messages[name] = {
                "name": name,
                "title": name,
                "summary": (model.__doc__ or name).strip().splitlines()[0],
                "contentType": CONTENT_TYPE,
                "headers": _headers_schema(),
                "payload": _schema(model),
                "examples": [{"name": "example", "payload": examples[model.event_type]}],
            }
            channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
        channel: dict[str, Any] = {
            "address": spec.name,
            "description": spec.description,
            "messages": channel_messages,
            "bindings": {
                "kafka": {
                    "partitions": spec.partitions,
                    "topicConfiguration": {"retention.ms": spec.retention_ms},
                    "bindingVersion": "0.5.0",
                }
            },
            "x-compatibility-mode": spec.compatibility_mode,
        }
        if spec.key:
            channel["x-kafka-key"] = f"data.{spec.key}"
        if "{department}" in spec.name:
            channel["parameters"] = {"department": {"description": "Department id, e.g. sozawe"}}
        channels[channel_id] = channel
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Contact.STAD events",
            "version": "1.0.0",
            "description": (
                "Every citizen contact becomes an event on Kafka. Events are CloudEvents 1.0 in "
                "structured JSON mode; W3C trace context travels in the traceparent/tracestate "
                "headers. Delivery is at least once: de-duplicate on the event id."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "deploy/local"}
        },
        "channels": channels,
        "operations": {
            f"receive-{cid}": {"action": "receive", "channel": {"$ref": f"#/channels/{cid}"}}
            for cid in channels
        },
        "components": {"messages": messages},
    }


def _documented_events() -> list[type[CloudEvent]]:
    return [model for spec in (*TOPICS, _department_template()) for model in spec.events]


def _department_template() -> TopicSpec:
    example = department_topic("department")
    return TopicSpec(
        name=DEPARTMENT_TOPIC_PATTERN,
        description="One topic per department, created when it joins: " + example.description,
        events=example.events,
        key=example.key,
        partitions=example.partitions,
        retention_ms=example.retention_ms,
    )


def _schema(model: type[CloudEvent]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:contactstad:event:{model.event_type}"
    return schema


def _headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "content-type": {"type": "string", "const": CONTENT_TYPE},
            "traceparent": {"type": "string", "description": "W3C trace context"},
            "tracestate": {"type": "string", "description": "W3C trace context"},
        },
    }
