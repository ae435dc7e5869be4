"""Events name citizens by pseudonyms only; events from before that are read without their
clear identifiers (a replay neither fails on them nor passes them on)."""

import json
from importlib import resources

from kcc_shared.contracts import CALL_EVENTS, CALLBACK_REQUESTED, CONTACT_RECEIVED, CitizenPseudonyms
from kcc_shared.pseudonyms import Pseudonymiser


def example(event_type: str) -> dict:
    path = resources.files("kcc_shared.contracts") / "examples" / f"{event_type}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_a_contact_from_before_pseudonymisation_is_read_without_its_clear_identifiers():
    old = example("nl.contactstad.contact.received")
    old["data"]["citizen"] = {"bsn": "111222333", "phone": "+31612345678", "email": "j.devries@example.nl"}
    event = CONTACT_RECEIVED.adapter.validate_python(old)
    assert event.data.citizen == CitizenPseudonyms()
    assert "111222333" not in event.model_dump_json() and "example.nl" not in event.model_dump_json()


def test_call_and_callback_requests_from_before_carry_no_number():
    old_call = example("nl.contactstad.call.callback-requested")
    old_call["data"] = {**old_call["data"], "phone": "+31501234567"}
    del old_call["data"]["phone_key"]
    assert CALL_EVENTS.adapter.validate_python(old_call).data.phone_key is None
    old_request = example("nl.contactstad.callback.requested")
    old_request["data"] = {**old_request["data"], "phone": "+31612345678"}
    del old_request["data"]["phone_key"]
    event = CALLBACK_REQUESTED.adapter.validate_python(old_request)
    assert event.data.phone_key is None and "+31612345678" not in event.model_dump_json()


def test_pseudonyms_are_kept_and_differ_per_kind_and_secret():
    p = Pseudonymiser("s")
    citizen = CitizenPseudonyms(**p.of({"bsn": "111222333", "phone": "+31612345678", "email": None}))
    assert citizen.bsn == p.pseudonym("bsn", "111222333") and citizen.email is None
    assert p.pseudonym("phone", "x") != p.pseudonym("email", "x") != Pseudonymiser("t").pseudonym("email", "x")
