"""No 5xx for numbers JSON or the store cannot take, in any JSON body of any service.

Python's JSON parser accepts `NaN`, `Infinity`, `1e999` and integers of any size; each service
answers 422 naming the field instead of failing later in serialisation or in the store."""

import pytest

from kcc_callback.app import create_app as callback_app
from kcc_callback.settings import CallbackSettings
from kcc_intake.app import create_app as intake_app
from kcc_intake.settings import IntakeSettings
from kcc_metrics.app import create_app as metrics_app
from kcc_metrics.settings import MetricsSettings
from kcc_routing.app import create_app as routing_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.testing import running

pytestmark = pytest.mark.e2e

SERVICES = {
    "intake": (intake_app, IntakeSettings, "/v1/channels/web/submissions",
               '{"form_id": "f", "subject": "s", "message": "m", "submission_id": %s}'),
    "routing": (routing_app, RoutingSettings, "/v1/classify", '{"text": "paspoort", "limit": %s}'),
    "callback": (callback_app, CallbackSettings, "/v1/callbacks/cb-1/attempts", '{"outcome": "no_answer", "at": %s}'),
    "metrics": (metrics_app, MetricsSettings, "/v1/satisfaction", '{"contact_id": "c-1", "score": %s}'),
}
BAD = {
    "NaN": "NaN",
    "Infinity": "-Infinity",
    "1e999": "[1, {\"deep\": 1e999}]",
    "2**70": "1180591620717411303424",
}


@pytest.mark.parametrize("service", SERVICES)
async def test_bad_numbers_get_422_naming_the_field(service, service_env):
    make_app, settings, path, template = SERVICES[service]
    service_env(service)
    async with running(make_app(settings())) as client:
        for name, number in BAD.items():
            response = await client.post(path, content=template % number, headers={"content-type": "application/json"})
            assert response.status_code == 422, f"{service} {name}: {response.status_code} {response.text}"
            detail = response.json()["detail"][0]
            assert detail["loc"][:2] == ["body", template.split("%s")[0].rsplit('"', 2)[-2]], detail
        fine = await client.post(path, content=template % "7", headers={"content-type": "application/json"})
        assert fine.status_code < 500, fine.text
