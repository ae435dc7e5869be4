"""The container setup cannot drift from the code: docker-compose.yml, the Dockerfiles, the
collector config and the settings classes are checked against each other, without Docker."""

import json
import os
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings

from kcc_callback.settings import CallbackSettings
from kcc_intake.settings import IntakeSettings
from kcc_metrics.settings import MetricsSettings
from kcc_routing.settings import RoutingSettings
from kcc_shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

APPS: dict[str, tuple[int, type[ServiceSettings]]] = {
    "intake": (8001, IntakeSettings),
    "routing": (8002, RoutingSettings),
    "callback": (8003, CallbackSettings),
    "metrics": (8004, MetricsSettings),
}
INFRA = ("kafka", "mongo", "otel-collector", "jaeger")
EXTRA_PORTS = {"intake": [2525]}  # intake's SMTP listener


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def env_of(service: dict) -> dict[str, str]:
    """A service's environment as a dict of strings, whichever compose form it is written in."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def port_mappings(service: dict) -> list[tuple[int, int]]:
    """(host, container) pairs from short-syntax "host:container" or long-syntax entries."""
    pairs = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            pairs.append((int(entry["published"]), int(entry["target"])))
        else:
            host, container = str(entry).split("/")[0].rsplit(":", 2)[-2:]
            pairs.append((int(host), int(container)))
    return pairs


def healthcheck_command(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def read_dockerfile(name: str) -> str:
    return (ROOT / "services" / name / "Dockerfile").read_text()


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def env_names_read_by(settings_cls: type[ServiceSettings]) -> dict[str, tuple[str, ...]]:
    """Every environment variable the settings read, mapped to the attribute path it fills."""
    names: dict[str, tuple[str, ...]] = {}
    prefix = settings_cls.model_config.get("env_prefix", "")
    for field_name, field in settings_cls.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            nested_prefix = annotation.model_config.get("env_prefix", "")
            for nested_name in annotation.model_fields:
                names[f"{nested_prefix}{nested_name}".upper()] = (field_name, nested_name)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            # A plain model inside the settings is read with the nested delimiter (KCC_INTAKE_SMTP__HOST).
            delimiter = settings_cls.model_config.get("env_nested_delimiter") or "__"
            for nested_name in annotation.model_fields:
                names[f"{prefix}{field_name}{delimiter}{nested_name}".upper()] = (field_name, nested_name)
        else:
            names[f"{prefix}{field_name}".upper()] = (field_name,)
    return names


def resolve(settings: ServiceSettings, path: tuple[str, ...]) -> object:
    value: object = settings
    for attr in path:
        value = getattr(value, attr)
    return value.get_secret_value() if isinstance(value, SecretStr) else value


# ------------------------------------------------------------------------------------------
# compose: the stack as a whole
# ------------------------------------------------------------------------------------------


def test_compose_declares_the_expected_services(services: dict) -> None:
    assert set(services) == set(INFRA) | set(APPS)


def test_kafka_is_a_single_kraft_node_without_topic_auto_creation(services: dict) -> None:
    kafka = services["kafka"]
    env = env_of(kafka)
    assert kafka["image"].startswith("apache/kafka:4.")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_DEFAULT_REPLICATION_FACTOR",
    ):
        assert env[key] == "1", key
    # Every advertised listener is a listener the broker binds and has a security protocol for.
    bound = {item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")}
    mapped = {item.split(":")[0] for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")}
    advertised = {item.split("://")[0] for item in env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    assert advertised <= bound <= mapped
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in bound - advertised
    assert "kafka-broker-api-versions.sh" in healthcheck_command(kafka)
    assert "localhost:9092" in healthcheck_command(kafka)


def test_mongo_has_a_ping_healthcheck(services: dict) -> None:
    mongo = services["mongo"]
    assert mongo["image"].startswith("mongo:")
    command = healthcheck_command(mongo)
    assert "mongosh" in command and "ping" in command


def test_collector_config_is_mounted_and_exports_to_jaeger(services: dict) -> None:
    collector = services["otel-collector"]
    mounts = [str(volume).split(":") for volume in collector["volumes"]]
    configs = [(source, target) for source, target, *_ in mounts if source.endswith(".yaml")]
    assert len(configs) == 1
    source, target = configs[0]
    config_file = (ROOT / source).resolve()
    assert config_file.is_file(), f"{source} is mounted into the collector but does not exist"
    assert f"--config={target}" in collector["command"]
    assert {(4317, 4317), (4318, 4318)} <= set(port_mappings(collector))

    config = yaml.safe_load(config_file.read_text())
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert "batch" in traces["processors"] and "batch" in config["processors"]
    (exporter,) = traces["exporters"]
    assert exporter.split("/")[0] == "otlp"
    assert config["exporters"][exporter]["endpoint"] == "jaeger:4317"
    assert config["exporters"][exporter]["tls"]["insecure"] is True
    assert services["jaeger"]["image"].startswith("jaegertracing/jaeger:2.")
    assert (16686, 16686) in port_mappings(services["jaeger"])


# ------------------------------------------------------------------------------------------
# compose: the four services
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", APPS)
def test_service_is_built_from_its_dockerfile_at_the_repo_root(services: dict, name: str) -> None:
    build = services[name]["build"]
    assert build["context"] == "."
    assert build["dockerfile"] == f"services/{name}/Dockerfile"
    assert (ROOT / build["context"] / build["dockerfile"]).is_file()


@pytest.mark.parametrize("name", APPS)
def test_service_maps_its_port_and_probes_readyz_on_it(services: dict, name: str) -> None:
    port, _ = APPS[name]
    service = services[name]
    assert port_mappings(service) == [(p, p) for p in (port, *EXTRA_PORTS.get(name, []))]
    command = healthcheck_command(service)
    assert f"127.0.0.1:{port}/readyz" in command
    assert service["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", APPS)
def test_service_waits_for_healthy_kafka_and_mongo(services: dict, name: str) -> None:
    depends_on = services[name]["depends_on"]
    assert depends_on["kafka"]["condition"] == "service_healthy"
    assert depends_on["mongo"]["condition"] == "service_healthy"
    assert depends_on["otel-collector"]["condition"] == "service_started"
    for dependency in ("kafka", "mongo"):
        assert "healthcheck" in services[dependency], f"{dependency} needs a healthcheck for service_healthy"


@pytest.mark.parametrize("name", APPS)
def test_service_env_points_at_the_compose_infrastructure(services: dict, name: str) -> None:
    env = env_of(services[name])
    assert env["KCC_KAFKA_BOOTSTRAP"] == "kafka:9092"
    # The bootstrap address is one the broker advertises to other containers.
    advertised = env_of(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert any(item.endswith("://" + env["KCC_KAFKA_BOOTSTRAP"]) for item in advertised)

    mongo = urlsplit(env["KCC_MONGO_URI"])
    assert (mongo.scheme, mongo.hostname, mongo.port) == ("mongodb", "mongo", 27017)

    otlp = urlsplit(env["KCC_OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert (otlp.scheme, otlp.hostname, otlp.port, otlp.path) == ("http", "otel-collector", 4318, "")
    assert otlp.hostname in services


@pytest.mark.parametrize("name", APPS)
def test_compose_env_is_what_the_settings_read(
    services: dict, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every KCC_* variable in compose is read by the service's settings and lands as written;
    a misspelt name would otherwise be ignored silently (the settings use extra="ignore")."""
    port, settings_cls = APPS[name]
    env = env_of(services[name])
    readable = env_names_read_by(settings_cls)

    unknown = sorted(key for key in env if key not in readable)
    assert not unknown, f"{name}: compose sets variables no setting reads: {unknown}"

    for key in [key for key in os.environ if key.startswith("KCC_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = settings_cls()

    assert settings.service_name == name
    assert settings.host == "0.0.0.0"
    assert settings.port == port
    assert settings.kafka.bootstrap == "kafka:9092"
    assert settings.mongo.uri.get_secret_value() == "mongodb://mongo:27017"
    assert settings.telemetry.otel_exporter_otlp_endpoint == "http://otel-collector:4318"
    assert settings.telemetry.log_json is True
    for key, value in env.items():
        actual = resolve(settings, readable[key])
        if isinstance(actual, bool):
            assert actual is (value.lower() == "true"), key
        else:
            assert actual == type(actual)(value), key


# ------------------------------------------------------------------------------------------
# Dockerfiles
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", APPS)
def test_dockerfile_exposes_the_mapped_port_and_runs_the_service(services: dict, name: str) -> None:
    port, _ = APPS[name]
    instructions = dockerfile_instructions(read_dockerfile(name))
    exposed = [int(p.split("/")[0]) for kw, args in instructions if kw == "EXPOSE" for p in args.split()]
    assert exposed == [port, *EXTRA_PORTS.get(name, [])]
    assert [container for _, container in port_mappings(services[name])] == exposed

    commands = [args for kw, args in instructions if kw == "CMD"]
    assert commands, "no CMD"
    cmd = json.loads(commands[-1])  # exec form: a JSON array, so no shell sits in between
    assert isinstance(cmd, list)
    assert cmd[0].endswith("python") and cmd[1:] == ["-m", f"kcc_{name}"]


@pytest.mark.parametrize("name", APPS)
def test_dockerfile_runtime_stage_is_non_root_listens_everywhere_and_checks_healthz(name: str) -> None:
    port, _ = APPS[name]
    instructions = dockerfile_instructions(read_dockerfile(name))
    stages = [i for i, (kw, _) in enumerate(instructions) if kw == "FROM"]
    runtime = instructions[stages[-1]:]
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in instructions
    bases = [args.split()[0] for kw, args in instructions if kw == "FROM"]
    assert bases and all(base == "${PYTHON_IMAGE}" for base in bases)

    users = [args for kw, args in runtime if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")

    env_words = [word for kw, args in runtime if kw == "ENV" for word in shlex.split(args)]
    assert f"KCC_{name.upper()}_HOST=0.0.0.0" in env_words
    assert f"KCC_{name.upper()}_PORT={port}" in env_words

    healthchecks = [args for kw, args in runtime if kw == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert "/healthz" in healthchecks[0] and "urllib" in healthchecks[0]


@pytest.mark.parametrize("name", APPS)
def test_dockerfile_syncs_its_package_from_the_lockfile(name: str) -> None:
    instructions = dockerfile_instructions(read_dockerfile(name))
    syncs = [args for kw, args in instructions if kw == "RUN" and "uv sync" in args]
    assert syncs
    for args in syncs:
        words = args.split()
        assert {"--frozen", "--no-dev"} <= set(words)
        assert words[words.index("--package") + 1] == f"kcc-{name}"
    assert any(kw == "RUN" and "pip install uv==" in args for kw, args in instructions)

    # Every COPY source exists; uv.lock and every workspace member's pyproject.toml are copied
    # (uv needs the whole workspace to honour --frozen), plus the sources of shared and the service.
    sources = []
    for kw, args in instructions:
        if kw == "COPY" and "--from=" not in args:
            words = [w for w in args.split() if not w.startswith("--")]
            sources += words[:-1]
    for source in sources:
        assert (ROOT / source).exists(), f"{name}/Dockerfile copies missing {source}"
    member_files = [ROOT / "shared" / "pyproject.toml", *sorted(ROOT.glob("services/*/pyproject.toml"))]
    members = ["pyproject.toml"] + [str(path.relative_to(ROOT)) for path in member_files]
    assert "uv.lock" in sources
    assert set(members) <= set(sources)
    assert {"shared/src", f"services/{name}/src"} <= set(sources)


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".stack", "**/__pycache__", "**/.pytest_cache"} <= patterns
    # Nothing the Dockerfiles copy may be ignored.
    assert not patterns & {"uv.lock", "pyproject.toml", "shared", "services", "shared/src"}
