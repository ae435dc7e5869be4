"""The services are configured separately; where one's values are the other's keys, they must agree."""

import json
from importlib.resources import files

from kcc_intake.settings import DEFAULT_NUMBER_MAP


def test_every_dialled_number_maps_to_a_line_routing_knows_or_to_the_general_line():
    organisation = json.loads(files("kcc_routing").joinpath("data/organisation.json").read_text(encoding="utf-8"))
    known = set(organisation["ivr_lines"]) | {"algemeen"}
    unknown = {number: line for number, line in DEFAULT_NUMBER_MAP.items() if line not in known}
    assert unknown == {}, f"intake maps these numbers to lines routing has no IVR product for: {unknown}"
