"""Schemathesis hooks for `make fuzz`: every request carries a bearer token with every role,
and requests to signed channel webhooks get a fresh X-KCC-Timestamp / X-KCC-Signature over
the exact bytes sent (a requests auth object sees the prepared body)."""

import json
import os
from urllib.parse import urlsplit

import requests
import schemathesis

from kcc_shared.access import webhook_paths
from kcc_shared.webhooks import FreshSigner

TOKEN = os.environ["KCC_FUZZ_TOKEN"]
SECRETS = json.loads(os.environ.get("KCC_WEBHOOK_SECRETS", "{}"))
PATHS = webhook_paths()
SIGNER = FreshSigner()


class KccAuth(requests.auth.AuthBase):
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {TOKEN}"
        source = PATHS.get(urlsplit(request.url).path)
        if source in SECRETS:
            body = request.body or b""
            request.headers.update(SIGNER.sign(SECRETS[source], body.encode() if isinstance(body, str) else body))
        return request


@schemathesis.hook
def before_call(context, case, kwargs):
    kwargs["auth"] = KccAuth()
