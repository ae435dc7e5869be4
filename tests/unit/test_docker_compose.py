"""The container setup cannot drift from the code: docker-compose.yml, the Dockerfiles, the
collector config and the settings classes are checked against each other, without Docker."""

import json
import os
import re
import shlex
import tomllib
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
INFRA = ("kafka", "mongo", "otel-collector", "jaeger", "prometheus", "grafana")
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
    assert set(services) == set(INFRA) | set(APPS) | {"desktop"}


def test_the_desktop_is_built_from_its_dockerfile_and_forwards_to_the_services_by_name(services: dict) -> None:
    desktop = services["desktop"]
    assert desktop["build"] == {"context": ".", "dockerfile": "frontend/Dockerfile"}
    assert port_mappings(desktop) == [(8000, 8000)]
    env = env_of(desktop)
    assert env["KCC_DESKTOP_HOST"] == "0.0.0.0" and env["KCC_DESKTOP_PORT"] == "8000"
    for name, (port, _) in APPS.items():
        assert env[f"KCC_DESKTOP_{name.upper()}_URL"] == f"http://{name}:{port}"
    assert "8000/readyz" in healthcheck_command(desktop)
    instructions = dockerfile_instructions((ROOT / "frontend" / "Dockerfile").read_text())
    assert json.loads([args for kw, args in instructions if kw == "CMD"][-1])[1:] == ["-m", "kcc_desktop"]
    assert ("EXPOSE", "8000") in instructions


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
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    member_files = sorted(path for member in workspace for path in ROOT.glob(f"{member}/pyproject.toml"))
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


# ------------------------------------------------------------------------------------------
# observability: Prometheus scrapes every service, Grafana is provisioned with dashboards whose
# queries use only metrics the services really expose
# ------------------------------------------------------------------------------------------

GRAFANA_DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
# Series Prometheus adds itself for every target, and labels it attaches to every series.
PROMETHEUS_SERIES = {"up": set()}
TARGET_LABELS = {"job", "instance"}


def mounts(service: dict) -> dict[str, str]:
    """container path -> repository path of a service's bind mounts."""
    out = {}
    for volume in service.get("volumes", []):
        source, target, *_ = str(volume).split(":")
        if source.startswith("./"):
            out[target] = source
    return out


@pytest.fixture(scope="module")
def exposed_metrics() -> dict[str, set[str]]:
    """Every series name the four services serve on GET /metrics, with its label names, read
    from the real endpoint of each app (no broker needed: the registry is built with the app)."""
    import asyncio

    import httpx

    from kcc_callback.app import create_app as callback_app
    from kcc_intake.app import create_app as intake_app
    from kcc_metrics.app import create_app as metrics_app
    from kcc_routing.app import create_app as routing_app

    apps = {"intake": intake_app, "routing": routing_app, "callback": callback_app, "metrics": metrics_app}

    async def scrape(app) -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
            await client.get("/metrics")  # the second answer holds the first request's latency sample
            response = await client.get("/metrics")
        assert response.status_code == 200
        return response.text

    names: dict[str, set[str]] = {}
    for name, create in apps.items():
        text = asyncio.run(scrape(create(APPS[name][1]())))
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, metric, kind = line.split()
                series = [metric]
                if kind == "histogram":
                    series = [f"{metric}_bucket", f"{metric}_count", f"{metric}_sum"]
                for item in series:
                    names.setdefault(item, set())
            elif line and not line.startswith("#"):
                metric, _, rest = line.partition("{")
                labels = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', rest.rsplit("}", 1)[0]) if rest else []
                names.setdefault(metric.split()[0], set()).update(labels)
    return names


def dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted(GRAFANA_DASHBOARDS.glob("*.json"))}


def panels_of(dashboard: dict) -> list[dict]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def promql_names(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) a PromQL expression uses: metrics are our kcc_* series or
    Prometheus' own; labels come from matchers and by/without clauses."""
    unquoted = re.sub(r'"[^"]*"', '""', expr)
    labels = set()
    for matchers in re.findall(r"\{([^}]*)\}", unquoted):
        labels.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
    for grouping in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", unquoted):
        labels.update(part.strip() for part in grouping.split(",") if part.strip())
    without_matchers = re.sub(r"\{[^}]*\}", "", unquoted)
    metrics = set(re.findall(r"\b(kcc_[a-z0-9_]+)\b", without_matchers))
    metrics |= {word for word in re.findall(r"\b([a-z_]+)\b", without_matchers) if word in PROMETHEUS_SERIES}
    return metrics, labels


def test_prometheus_scrapes_every_service_on_its_metrics_endpoint(services: dict) -> None:
    prometheus = services["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:v3.")
    (source,) = [src for target, src in mounts(prometheus).items() if target == "/etc/prometheus/prometheus.yml"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert (9090, 9090) in port_mappings(prometheus)
    config = yaml.safe_load((ROOT / source).read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(APPS)
    for name, (port, _) in APPS.items():
        assert jobs[name].get("metrics_path", "/metrics") == "/metrics"
        targets = [t for group in jobs[name]["static_configs"] for t in group["targets"]]
        assert targets == [f"{name}:{port}"]
        assert (port, port) in port_mappings(services[name])  # the port the service listens on


def test_grafana_is_provisioned_with_datasources_and_dashboards(services: dict) -> None:
    grafana = services["grafana"]
    assert grafana["image"].startswith("grafana/grafana:12.")
    assert (3000, 3000) in port_mappings(grafana)
    mounted = mounts(grafana)
    provisioning = ROOT / mounted["/etc/grafana/provisioning"]
    assert provisioning.is_dir()

    datasources = yaml.safe_load((provisioning / "datasources" / "datasources.yaml").read_text())["datasources"]
    by_uid = {ds["uid"]: ds for ds in datasources}
    assert {ds["type"] for ds in datasources} == {"prometheus", "jaeger", "yesoreyeram-infinity-datasource"}
    assert sum(1 for ds in datasources if ds.get("isDefault")) == 1
    for ds in datasources:
        url = urlsplit(ds["url"])
        assert url.hostname in services, ds["name"]
        target = services[url.hostname]
        ports = {container for _, container in port_mappings(target)} | {int(p) for p in target.get("expose", [])}
        assert url.port in ports, f"{ds['name']}: {url.hostname} does not listen on {url.port}"
    env = env_of(grafana)
    plugins = {p.strip().split("@")[0] for p in env["GF_PLUGINS_PREINSTALL"].split(",")}
    assert {ds["type"] for ds in datasources} - {"prometheus", "jaeger"} <= plugins

    (provider,) = yaml.safe_load((provisioning / "dashboards" / "dashboards.yaml").read_text())["providers"]
    container_path = provider["options"]["path"]
    assert ROOT / mounted[container_path] == GRAFANA_DASHBOARDS
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(container_path + "/") and (GRAFANA_DASHBOARDS / home.rsplit("/", 1)[1]).is_file()

    found = dashboards()
    assert {d["uid"] for d in found.values()} == {"kcc-service-norms", "kcc-services", "kcc-kafka"}
    assert len({d["title"] for d in found.values()}) == len(found)
    for name, dashboard in found.items():
        ids = [p["id"] for p in panels_of(dashboard)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in panels_of(dashboard):
            if panel["type"] == "row":
                continue
            assert panel["targets"], f"{name}: panel {panel['title']!r} has no query"
            for target in [panel, *panel["targets"]]:
                assert target["datasource"]["uid"] in by_uid, f"{name}: {panel['title']!r} uses an unknown data source"
                assert target["datasource"]["type"] == by_uid[target["datasource"]["uid"]]["type"]


def test_dashboards_cover_what_ops_asked_for() -> None:
    """Service norms per channel, throughput and latency per service, consumer lag per group and
    partition, dead letters, errors: each has a panel that queries it."""
    exprs = {
        name: [t.get("expr", "") for p in panels_of(d) for t in p.get("targets", [])] for name, d in dashboards().items()
    }
    services_q, kafka_q = " ".join(exprs["kcc-services.json"]), " ".join(exprs["kcc-kafka.json"])
    assert "rate(kcc_http_request_duration_seconds_count" in services_q and "by (job)" in services_q
    assert "histogram_quantile(0.95, sum by (job, le) (rate(kcc_http_request_duration_seconds_bucket" in services_q
    assert "kcc_received_processed_messages_total" in services_q and "kcc_published_messages_total" in services_q
    assert "sum by (group, topic, partition) (kcc_consumer_lag)" in kafka_q
    assert 'outcome="dead_lettered"' in kafka_q and 'destination="kcc.deadletter.v1"' in kafka_q
    assert "kcc_received_processed_messages_exceptions_total" in kafka_q and 'status=~"5.."' in kafka_q


def test_every_dashboard_query_uses_metrics_and_labels_the_services_expose(exposed_metrics: dict[str, set[str]]) -> None:
    assert "kcc_http_request_duration_seconds_bucket" in exposed_metrics  # the scrape worked
    known = {**exposed_metrics, **PROMETHEUS_SERIES}
    checked = 0
    for name, dashboard in dashboards().items():
        for panel in panels_of(dashboard):
            for target in panel.get("targets", []):
                if "expr" not in target:
                    continue
                metrics, labels = promql_names(target["expr"])
                assert metrics, f"{name}: {panel['title']!r} queries no metric: {target['expr']}"
                unknown = metrics - set(known)
                assert not unknown, f"{name}: {panel['title']!r} uses metrics no service exposes: {unknown}"
                # Label names are checked where the series carry samples without traffic (HTTP
                # latency, pending metrics); FastStream's series appear only once messages flow.
                label_sets = [known[m] for m in metrics]
                if all(label_sets):
                    allowed = set().union(*label_sets) | TARGET_LABELS | {"le"}
                    assert labels <= allowed, f"{name}: {panel['title']!r} uses labels {labels - allowed}"
                checked += 1
    assert checked >= 20


def test_the_service_norms_dashboard_asks_the_metrics_api_what_it_serves() -> None:
    from kcc_metrics.app import create_app as metrics_app

    openapi = metrics_app(MetricsSettings()).openapi()
    norms = dashboards()["kcc-service-norms.json"]
    (channel_var,) = [v for v in norms["templating"]["list"] if v["name"] == "channel"]
    parameters = {p["name"]: p for p in openapi["paths"]["/v1/service-norms"]["get"]["parameters"]}
    assert channel_var["query"].split(",") == parameters["channel"]["schema"]["anyOf"][0]["enum"]
    kpi_fields = set(openapi["components"]["schemas"]["Kpi"]["properties"])
    api_panels = [p for p in panels_of(norms) if p.get("datasource", {}).get("uid") == "kcc-metrics-api"]
    assert any(p.get("repeat") == "channel" for p in api_panels)  # one table per channel
    for panel in api_panels:
        (target,) = panel["targets"]
        assert target["url"] in openapi["paths"]
        params = {p["key"] for p in target["url_options"]["params"]}
        assert {"from", "to"} <= params <= set(parameters)
        assert target["root_selector"] == "kpis"
        assert {c["selector"].split(".")[0] for c in target["columns"]} <= kpi_fields
