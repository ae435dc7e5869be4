"""The contracts: one valid example per event type, schemas and AsyncAPI generated from code."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from kcc_shared.contracts import (
    CALL_EVENTS,
    CONTACT_RECEIVED,
    EVENT_TYPES,
    TOPICS,
    CallAnswered,
    ContactReceived,
    department_topic,
)
from kcc_shared.contracts.docs import asyncapi, json_schemas, load_examples
from kcc_shared.contracts.events.counter import visit_key

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = load_examples()


def topic_of(event_type: str):
    for spec in (*TOPICS, department_topic("example")):
        if any(model.event_type == event_type for model in spec.events):
            return spec
    raise AssertionError(f"{event_type} is on no topic")


def test_every_event_type_has_exactly_one_example():
    assert sorted(EXAMPLES) == sorted(model.event_type for model in EVENT_TYPES)


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_example_validates_against_its_topic_and_schema(event_type):
    example = EXAMPLES[event_type]
    event = topic_of(event_type).adapter.validate_python(example)
    assert event.type == event_type == example["type"]
    assert event.specversion == "1.0" and event.datacontenttype == "application/json"
    assert event.model_dump(mode="json", exclude_none=True) == _without_none(example)
    jsonschema.validate(example, json_schemas()[event_type])


def test_a_topic_union_picks_the_model_by_type():
    event = CALL_EVENTS.adapter.validate_python(EXAMPLES["nl.contactstad.call.answered"])
    assert isinstance(event, CallAnswered)
    assert event.data.wait_s == 17.5


def test_consumers_ignore_unknown_fields_but_reject_wrong_types():
    example = EXAMPLES["nl.contactstad.contact.received"]
    newer = {**example, "newattr": 1, "data": {**example["data"], "added_in_v1_1": "x"}}
    assert CONTACT_RECEIVED.adapter.validate_python(newer).data.contact_id == "c-7f3a2b9e"
    with pytest.raises(ValidationError) as err:
        CONTACT_RECEIVED.adapter.validate_python({**example, "data": {**example["data"], "channel": "fax"}})
    assert err.value.errors()[0]["loc"] == ("data", "channel")
    with pytest.raises(ValidationError):
        CONTACT_RECEIVED.adapter.validate_python({**example, "type": "nl.contactstad.call.ended"})


def test_events_are_frozen():
    event = ContactReceived.model_validate(EXAMPLES["nl.contactstad.contact.received"])
    with pytest.raises(ValidationError):
        event.id = "other"  # type: ignore[misc]


def test_topic_names_carry_a_major_version_and_keys_exist():
    for spec in TOPICS:
        assert spec.name.startswith("kcc.") and spec.name.endswith(".v1")
        for model in spec.events:
            assert spec.key in model.model_fields["data"].annotation.model_fields


def test_department_topics_are_named_from_validated_ids():
    assert department_topic("sozawe").name == "kcc.dept.sozawe.contacts.v1"
    with pytest.raises(ValueError):
        department_topic("../etc")


def test_committed_asyncapi_document_is_the_generated_one():
    committed = yaml.safe_load((REPO / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    assert committed == asyncapi(), "regenerate with: make contracts"
    assert set(committed["channels"]) >= {spec.name for spec in TOPICS}


def test_committed_json_schemas_are_the_generated_ones():
    folder = REPO / "docs" / "schemas"
    committed = {p.name.removesuffix(".schema.json") for p in folder.glob("*.schema.json")}
    assert committed == set(json_schemas()), "regenerate with: make contracts"


def _without_none(value):
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def test_a_counter_visit_keeps_its_key_past_midnight_and_whatever_offset_its_times_carry():
    amsterdam = ZoneInfo("Europe/Amsterdam")

    def key(at: datetime) -> str:
        return visit_key(location="hal-1", ticket_id="A007", at=at, tz=amsterdam)

    drawn = datetime(2026, 12, 7, 23, 50, tzinfo=amsterdam)
    assert key(drawn) == "hal-1:A007:2026-12-07"
    assert key(drawn + timedelta(minutes=20)) == key(drawn)  # left at 00:10: the same visit
    assert key(drawn.astimezone(UTC)) == key(drawn)  # a ticket system that sends UTC
    # The next morning's numbers are new tickets.
    assert key(datetime(2026, 12, 8, 4, 0, tzinfo=amsterdam)) == "hal-1:A007:2026-12-08"
    assert key(datetime(2026, 12, 8, 3, 59, tzinfo=amsterdam)) == "hal-1:A007:2026-12-07"
