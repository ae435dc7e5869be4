"""Development keys and tokens: stand in for the municipality's OIDC provider on one machine.

    python -m kcc_shared.devauth keygen --dir DIR      # EC P-256 key pair, JWKS, webhook secrets
    python -m kcc_shared.devauth env --dir DIR         # export lines configuring the services
    python -m kcc_shared.devauth token --dir DIR --role agent [--role ops] [--sub alice] [--ttl 3600]
    python -m kcc_shared.devauth tokens --dir DIR      # one token per role, `role<TAB>token`

Never use these keys outside a developer's machine: whoever holds `private.pem` mints any role.
"""

import argparse
import json
import secrets
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kcc_shared.auth import DEFAULT_AUDIENCE, DEV_ISSUER

ALGORITHM = "ES256"
WEBHOOK_SOURCES = ("telephone", "email", "social", "counter")
CHANNELS = ("telephone", "email", "web", "counter", "letter", "social")
SERVICES = ("intake", "routing", "callback", "metrics")
# Roles `make up` prints a token for.
DEV_ROLES = (
    "agent", "ops", "admin", "department:burgerzaken", "department:belastingen",
    *(f"integrator:{c}" for c in CHANNELS),
)


@dataclass
class DevKeys:
    """A signing key pair with its key id, issuer and audience, plus webhook secrets."""

    private_key: ec.EllipticCurvePrivateKey
    kid: str
    issuer: str = DEV_ISSUER
    audience: str = DEFAULT_AUDIENCE
    webhook_secrets: dict[str, str] = field(default_factory=dict)

    @classmethod
    def generate(cls, *, issuer: str = DEV_ISSUER, audience: str = DEFAULT_AUDIENCE) -> "DevKeys":
        return cls(
            private_key=ec.generate_private_key(ec.SECP256R1()),
            kid=f"dev-{uuid.uuid4().hex[:12]}",
            issuer=issuer,
            audience=audience,
            webhook_secrets={s: secrets.token_urlsafe(32) for s in WEBHOOK_SOURCES},
        )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        private = directory / "private.pem"
        private.write_bytes(pem)
        private.chmod(0o600)
        (directory / "jwks.json").write_text(json.dumps(self.jwks(), indent=2))
        meta = {"kid": self.kid, "issuer": self.issuer, "audience": self.audience}
        (directory / "meta.json").write_text(json.dumps(meta, indent=2))
        hooks = directory / "webhook-secrets.json"
        hooks.write_text(json.dumps(self.webhook_secrets, indent=2))
        hooks.chmod(0o600)

    @classmethod
    def load(cls, directory: Path) -> "DevKeys":
        key = serialization.load_pem_private_key((directory / "private.pem").read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        meta = json.loads((directory / "meta.json").read_text())
        hooks = json.loads((directory / "webhook-secrets.json").read_text())
        return cls(private_key=key, kid=meta["kid"], issuer=meta["issuer"], audience=meta["audience"], webhook_secrets=hooks)

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private_key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": ALGORITHM}]}

    def token(
        self,
        roles: Iterable[str],
        *,
        subject: str = "developer",
        ttl_s: float = 3600,
        issuer: str | None = None,
        audience: str | None = None,
        now: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed JWT carrying `roles`; issuer and audience default to this key's."""
        issued = time.time() if now is None else now
        claims = {
            "iss": issuer or self.issuer,
            "aud": audience or self.audience,
            "sub": subject,
            "iat": int(issued),
            "exp": int(issued + ttl_s),
            "jti": uuid.uuid4().hex,
            "roles": list(roles),
            **(extra or {}),
        }
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def env(self, directory: Path) -> dict[str, str]:
        """The environment that makes a service accept this key's tokens and webhook secrets."""
        return {
            "KCC_AUTH_JWKS_FILE": str(directory / "jwks.json"),
            "KCC_AUTH_ISSUER": self.issuer,
            "KCC_AUTH_AUDIENCE": self.audience,
            "KCC_WEBHOOK_SECRETS": json.dumps(self.webhook_secrets),
        }


def _load_or_generate(directory: Path) -> DevKeys:
    if (directory / "private.pem").exists():
        return DevKeys.load(directory)
    keys = DevKeys.generate()
    keys.save(directory)
    return keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kcc_shared.devauth", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("keygen", "env", "token", "tokens"):
        p = sub.add_parser(name)
        p.add_argument("--dir", type=Path, required=True, help="where the key pair lives")
        if name == "token":
            p.add_argument("--role", action="append", required=True, help="a role; repeat for more")
            p.add_argument("--sub", default="developer", help="token subject")
        if name in ("token", "tokens"):
            p.add_argument("--ttl", type=float, default=12 * 3600, help="seconds until it expires")
    args = parser.parse_args(argv)
    keys = _load_or_generate(args.dir)
    if args.command == "keygen":
        print(f"key {keys.kid} in {args.dir}")
    elif args.command == "env":
        for name, value in keys.env(args.dir).items():
            print(f"export {name}='{value}'")
    elif args.command == "token":
        print(keys.token(args.role, subject=args.sub, ttl_s=args.ttl))
    else:
        for role in DEV_ROLES:
            print(f"{role}\t{keys.token([role], subject=role.replace(':', '-'), ttl_s=args.ttl)}")
        for service in SERVICES:
            print(f"service:{service}\t{keys.token([f'service:{service}'], subject=f'service-{service}', ttl_s=args.ttl)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
