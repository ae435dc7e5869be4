"""The Helm chart (deploy/helm/contact-stad) is a valid chart whose manifests Kubernetes accepts,
and it runs the services as the code expects: `helm lint`, `helm template` piped to kubeconform
against Kubernetes' own schemas (strict), and the rendered objects checked against the settings
classes and the topic catalogue.

helm, kubeconform and the schemas are built and cached by `make install`
(deploy/local/ensure-k8s-tools.sh); without them these tests fail, they never skip.
"""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings

from kcc_callback.settings import CallbackSettings
from kcc_intake.settings import IntakeSettings
from kcc_metrics.settings import MetricsSettings
from kcc_routing.settings import RoutingSettings
from kcc_shared.contracts.catalogue import TOPICS
from kcc_shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "contact-stad"
ENSURE_TOOLS = ROOT / "deploy" / "local" / "ensure-k8s-tools.sh"
RELEASE, NAMESPACE = "kcc", "contact-stad"

SETTINGS: dict[str, type[ServiceSettings]] = {
    "intake": IntakeSettings,
    "routing": RoutingSettings,
    "callback": CallbackSettings,
    "metrics": MetricsSettings,
}
PARTITIONS = {spec.name: spec.partitions for spec in TOPICS}
# Custom resources kubeconform has no schema for; skipped by kind, by name (core kinds never are).
CUSTOM_KINDS = ("ScaledObject",)

# The value sets the chart must render, each checked by kubeconform and by the tests below.
SCENARIOS: dict[str, dict] = {
    "defaults": {},
    "replicas-3": {"services": {name: {"replicas": 3} for name in SETTINGS}},
    "keda": {"autoscaling": {"enabled": True, "minReplicas": 3}},
    "hpa": {"autoscaling": {"enabled": True, "kind": "hpa", "minReplicas": 3}},
    "production": {
        "image": {"registry": "registry.example.org/", "tag": "1.2.3"},
        "kafka": {"bootstrap": "kafka-0.kafka:9092,kafka-1.kafka:9092"},
        "config": {"KCC_OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability:4318"},
        "secrets": {
            "mongoUri": "mongodb://kcc:s3cret@mongo-0.mongo:27017/?authSource=admin&replicaSet=rs0",
            "pseudonymSecret": "pseudonym-secret",
            "jwks": '{"keys": []}',
        },
        "services": {
            "intake": {"webhookSecrets": {"telephone": "tel-secret", "email": "mail-secret"}},
            "callback": {"secretEnv": {"KCC_CALLBACK_REGISTRY_TOKEN": "registry-token"}},
            "routing": {
                "secretEnv": {"KCC_AUTH_SERVICE_TOKEN": "routing-token"},
                "config": {"KCC_ROUTING_ORGANISATION_FILE": "/etc/kcc/files/organisation.json"},
                "files": {"organisation.json": "{}"},
            },
        },
    },
}


# ------------------------------------------------------------------------------------------
# running the tools
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    """Where helm, kubeconform and the schemas are; a clear failure when make install has not run."""
    result = subprocess.run([str(ENSURE_TOOLS), "--check"], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        pytest.fail(f"helm/kubeconform are not installed: {result.stderr.strip()}", pytrace=False)
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


@pytest.fixture(scope="module")
def helm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Helm's config, cache and data in a temporary directory, not the user's."""
    home = tmp_path_factory.mktemp("helm")
    return {
        **os.environ,
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_DATA_HOME": str(home / "data"),
    }


def helm(tools: dict[str, str], env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tools["helm"], *args], capture_output=True, text=True, env=env, timeout=60)


def render(tools: dict[str, str], env: dict[str, str], args: list[str], chart: Path = CHART) -> str:
    result = helm(tools, env, "template", RELEASE, str(chart), "--namespace", NAMESPACE, *args)
    assert result.returncode == 0, f"helm template {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def kubeconform(tools: dict[str, str], manifests: str) -> dict:
    """kubeconform's JSON report on `manifests` (strict, our schemas only, nothing downloaded)."""
    result = subprocess.run(
        [
            tools["kubeconform"],
            "-strict",
            "-summary",
            "-verbose",
            "-output", "json",
            "-kubernetes-version", tools["kubernetes_version"],
            "-schema-location", tools["schema_location"],
            "-skip", ",".join(CUSTOM_KINDS),
            "-",
        ],
        input=manifests, capture_output=True, text=True, timeout=60,
    )
    report = json.loads(result.stdout)
    report["exit_code"] = result.returncode
    report["stderr"] = result.stderr
    return report


def objects(manifests: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(manifests) if doc]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def name_of(service: str) -> str:
    return f"{RELEASE}-contact-stad-{service}"


@pytest.fixture(scope="module")
def scenario_args(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """helm's arguments for each scenario: its values as a file."""
    folder = tmp_path_factory.mktemp("values")
    args = {}
    for scenario, values in SCENARIOS.items():
        path = folder / f"{scenario}.yaml"
        path.write_text(yaml.safe_dump(values))
        args[scenario] = ["--values", str(path)]
    return args


@pytest.fixture(scope="module")
def rendered(tools: dict[str, str], helm_env: dict[str, str], scenario_args: dict[str, list[str]]) -> dict[str, str]:
    return {scenario: render(tools, helm_env, args) for scenario, args in scenario_args.items()}


@pytest.fixture(scope="module")
def chart_values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


# ------------------------------------------------------------------------------------------
# the checks themselves: helm lint, kubeconform
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["defaults", "keda", "hpa", "production"])
def test_helm_lint_passes_strict(
    tools: dict[str, str], helm_env: dict[str, str], scenario_args: dict[str, list[str]], scenario: str
) -> None:
    result = helm(tools, helm_env, "lint", "--strict", str(CHART), *scenario_args[scenario])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_kubeconform_accepts_every_rendered_object(
    tools: dict[str, str], rendered: dict[str, str], scenario: str
) -> None:
    report = kubeconform(tools, rendered[scenario])
    problems = [r for r in report["resources"] if r["status"] not in ("statusValid", "statusSkipped")]
    assert report["exit_code"] == 0 and not problems, json.dumps(problems, indent=2) + report["stderr"]

    docs = objects(rendered[scenario])
    summary = report["summary"]
    custom = [doc for doc in docs if doc["kind"] in CUSTOM_KINDS]
    # Every core object was validated against a schema: none skipped, none missing.
    assert summary == {"valid": len(docs) - len(custom), "invalid": 0, "errors": 0, "skipped": len(custom)}
    skipped = {r["kind"] for r in report["resources"] if r["status"] == "statusSkipped"}
    assert skipped <= set(CUSTOM_KINDS)


def test_kubeconform_rejects_a_broken_manifest(tools: dict[str, str], rendered: dict[str, str]) -> None:
    """The validation can fail: a wrong type, an unknown field (strict) and an unknown core kind
    are each reported, with the object named."""
    deployment = next(doc for doc in objects(rendered["defaults"]) if doc["kind"] == "Deployment")
    wrong_type = json.loads(json.dumps(deployment))
    wrong_type["spec"]["replicas"] = "three"
    unknown_field = json.loads(json.dumps(deployment))
    unknown_field["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz"}}
    unknown_kind = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudgett", "metadata": {"name": "x"}}

    for broken, expected in [(wrong_type, "replicas"), (unknown_field, "readinesProbe"), (unknown_kind, "schema")]:
        report = kubeconform(tools, yaml.safe_dump(broken))
        assert report["exit_code"] != 0, broken
        assert report["summary"]["valid"] == 0
        message = json.dumps(report["resources"])
        assert expected in message, message


def test_helm_lint_rejects_a_broken_chart(tools: dict[str, str], helm_env: dict[str, str], tmp_path: Path) -> None:
    """helm lint can fail: a template that does not parse, and values the schema refuses."""
    broken = tmp_path / "contact-stad"
    shutil.copytree(CHART, broken)
    service = broken / "templates" / "service.yaml"
    service.write_text(service.read_text().replace("{{- end }}", "", 1))
    result = helm(tools, helm_env, "lint", "--strict", str(broken))
    assert result.returncode != 0
    assert "service.yaml" in result.stdout + result.stderr

    result = helm(tools, helm_env, "lint", "--strict", str(CHART), "--set", "autoscalling.enabled=true")
    assert result.returncode != 0
    assert "autoscalling" in result.stdout + result.stderr


def test_replicas_beyond_the_widest_topic_are_refused_to_the_autoscaler(
    tools: dict[str, str], helm_env: dict[str, str]
) -> None:
    """An autoscaler that may add consumers no partition waits for is a mistake the chart names."""
    args = ["--set=autoscaling.enabled=true", "--set=services.callback.autoscaling.maxReplicas=7"]
    result = helm(tools, helm_env, "template", RELEASE, str(CHART), *args)
    assert result.returncode != 0
    assert "services.callback: autoscaling maxReplicas 7 is more than the 6 partitions" in result.stderr


# ------------------------------------------------------------------------------------------
# what the objects say
# ------------------------------------------------------------------------------------------


def test_values_partitions_are_the_catalogues(chart_values: dict) -> None:
    assert chart_values["kafka"]["topicPartitions"] == PARTITIONS


def test_defaults_render_one_of_each_per_service(rendered: dict[str, str]) -> None:
    docs = objects(rendered["defaults"])
    names = {name_of(service) for service in SETTINGS}
    for kind in ("Deployment", "Service", "PodDisruptionBudget"):
        assert set(by_kind(docs, kind)) == names, kind
    assert set(by_kind(docs, "ConfigMap")) == names | {f"{RELEASE}-contact-stad"}
    assert set(by_kind(docs, "Secret")) == {f"{RELEASE}-contact-stad"}
    assert not [doc for doc in docs if doc["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")]
    assert {doc["metadata"].get("namespace", NAMESPACE) for doc in docs} == {NAMESPACE}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_service_is_probed_resourced_and_guarded(rendered: dict[str, str], scenario: str) -> None:
    docs = objects(rendered[scenario])
    deployments, services, budgets = (by_kind(docs, k) for k in ("Deployment", "Service", "PodDisruptionBudget"))
    for service, settings_cls in SETTINGS.items():
        name = name_of(service)
        port = settings_cls.model_fields["port"].default
        deployment = deployments[name]
        pod = deployment["spec"]["template"]
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert labels.items() <= pod["metadata"]["labels"].items()
        (container,) = pod["spec"]["containers"]
        assert container["image"].endswith(f"/{service}:" + ("1.2.3" if scenario == "production" else "0.1.0"))
        assert {p["name"]: p["containerPort"] for p in container["ports"]}["http"] == port

        # alive on /healthz (also while starting), ready on /readyz, both on the service's port
        probes = {kind: container[f"{kind}Probe"]["httpGet"] for kind in ("startup", "liveness", "readiness")}
        assert {kind: probe["path"] for kind, probe in probes.items()} == {
            "startup": "/healthz", "liveness": "/healthz", "readiness": "/readyz"
        }
        assert {probe["port"] for probe in probes.values()} == {"http"}

        resources = container["resources"]
        assert {"cpu", "memory"} <= resources["requests"].keys() and "memory" in resources["limits"], resources

        # the image's non-root user, nothing writable but /tmp
        assert pod["spec"]["securityContext"]["runAsUser"] == 10001
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod["spec"]["automountServiceAccountToken"] is False

        budget = budgets[name]["spec"]
        assert budget["selector"]["matchLabels"] == labels and budget["maxUnavailable"] == 1

        svc = services[name]["spec"]
        assert svc["selector"] == labels
        assert {p["name"]: (p["port"], p["targetPort"]) for p in svc["ports"]}["http"] == (port, "http")

        if scenario in ("keda", "hpa"):
            assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
        else:
            assert deployment["spec"]["replicas"] == (3 if scenario == "replicas-3" else 2)


def env_names_read_by(settings_cls: type[ServiceSettings]) -> dict[str, tuple[str, ...]]:
    """Every environment variable the settings read, mapped to the attribute path it fills
    (as tests/unit/test_docker_compose.py reads them for compose)."""
    names: dict[str, tuple[str, ...]] = {}
    prefix = settings_cls.model_config.get("env_prefix", "")
    delimiter = settings_cls.model_config.get("env_nested_delimiter") or "__"
    for field_name, field in settings_cls.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            nested_prefix = annotation.model_config.get("env_prefix", "")
            for nested_name in annotation.model_fields:
                names[f"{nested_prefix}{nested_name}".upper()] = (field_name, nested_name)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for nested_name in annotation.model_fields:
                names[f"{prefix}{field_name}{delimiter}{nested_name}".upper()] = (field_name, nested_name)
        else:
            names[f"{prefix}{field_name}".upper()] = (field_name,)
    return names


def pod_environment(docs: list[dict], deployment: dict) -> dict[str, str]:
    """The environment a service's container gets from its ConfigMaps and Secrets (envFrom)."""
    config_maps, secrets = by_kind(docs, "ConfigMap"), by_kind(docs, "Secret")
    env: dict[str, str] = {}
    for source in deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]:
        if "configMapRef" in source:
            env |= config_maps[source["configMapRef"]["name"]]["data"]
        else:
            secret = secrets[source["secretRef"]["name"]]
            env |= {key: value for key, value in secret["stringData"].items() if key.startswith("KCC_")}
    return env


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for key in [key for key in os.environ if key.startswith("KCC_")]:
        monkeypatch.delenv(key)
    yield monkeypatch


@pytest.mark.parametrize("scenario", ["defaults", "production"])
@pytest.mark.parametrize("service", SETTINGS)
def test_pod_environment_is_what_the_settings_read(
    rendered: dict[str, str], scenario: str, service: str, clean_env: pytest.MonkeyPatch
) -> None:
    """Every KCC_* variable a pod gets is one its settings read, and the service starts with it
    listening everywhere, on its port, in its group and database, on the configured Kafka and store."""
    docs = objects(rendered[scenario])
    env = pod_environment(docs, by_kind(docs, "Deployment")[name_of(service)])
    settings_cls = SETTINGS[service]
    readable = env_names_read_by(settings_cls)
    unknown = sorted(key for key in env if key not in readable)
    assert not unknown, f"{service}: the chart sets variables no setting reads: {unknown}"

    for key, value in env.items():
        clean_env.setenv(key, value)
    settings = settings_cls()
    defaults = settings_cls.model_fields
    assert (settings.host, settings.port) == ("0.0.0.0", defaults["port"].default)
    assert settings.group_id == defaults["group_id"].default
    assert settings.mongo_database == defaults["mongo_database"].default
    if scenario == "defaults":
        assert settings.kafka.bootstrap == "kafka:9092"
        assert settings.mongo.uri.get_secret_value() == "mongodb://mongo:27017"
        assert settings.kafka.replication_factor == 3
    else:
        assert settings.kafka.bootstrap == "kafka-0.kafka:9092,kafka-1.kafka:9092"
        assert "kcc:s3cret@" in settings.mongo.uri.get_secret_value()
        assert settings.privacy.pseudonym_secret.get_secret_value() == "pseudonym-secret"
        assert str(settings.auth.jwks_file) == "/etc/kcc/auth/jwks.json"
        assert settings.telemetry.otel_exporter_otlp_endpoint == "http://otel-collector.observability:4318"
    if service == "intake":
        assert (settings.smtp.host, settings.smtp.port) == ("0.0.0.0", 2525)
        if scenario == "production":
            secrets = {k: v.get_secret_value() for k, v in settings.webhooks.secrets.items()}
            assert secrets == {"telephone": "tel-secret", "email": "mail-secret"}
    if service == "callback":
        assert settings.registry_url == f"http://{name_of('intake')}:8001"
        if scenario == "production":
            assert isinstance(settings.registry_token, SecretStr)
            assert settings.registry_token.get_secret_value() == "registry-token"


def test_secrets_stay_out_of_config_maps(rendered: dict[str, str]) -> None:
    docs = objects(rendered["production"])
    config = json.dumps([doc["data"] for doc in by_kind(docs, "ConfigMap").values()])
    for secret in ("s3cret", "pseudonym-secret", "tel-secret", "registry-token", "routing-token"):
        assert secret not in config
    deployments = by_kind(docs, "Deployment")
    routing = deployments[name_of("routing")]["spec"]["template"]["spec"]
    assert {"name": "files", "mountPath": "/etc/kcc/files", "readOnly": True} in routing["containers"][0]["volumeMounts"]
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]["spec"]
        auth = next(v for v in pod["volumes"] if v["name"] == "auth")
        assert auth["secret"] == {"secretName": f"{RELEASE}-contact-stad", "items": [{"key": "jwks.json", "path": "jwks.json"}]}


def lag_triggers(service: str, scaler: dict) -> list[tuple[str, str]]:
    """(consumer group, topic) pairs of a ScaledObject's or an HPA's lag triggers."""
    if scaler["kind"] == "ScaledObject":
        return [
            (t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in scaler["spec"]["triggers"] if t["type"] == "kafka"
        ]
    return [
        (m["external"]["metric"]["selector"]["matchLabels"]["group"], m["external"]["metric"]["selector"]["matchLabels"]["topic"])
        for m in scaler["spec"]["metrics"]
        if m["type"] == "External"
    ]


@pytest.mark.parametrize("scenario", ["keda", "hpa"])
def test_autoscaling_follows_the_lag_of_each_services_own_groups(rendered: dict[str, str], scenario: str) -> None:
    docs = objects(rendered[scenario])
    kind = "ScaledObject" if scenario == "keda" else "HorizontalPodAutoscaler"
    scalers = by_kind(docs, kind)
    assert set(scalers) == {name_of(service) for service in SETTINGS}
    for service, settings_cls in SETTINGS.items():
        scaler = scalers[name_of(service)]
        spec = scaler["spec"]
        assert spec["scaleTargetRef"]["name"] == name_of(service)
        low, high = (
            (spec["minReplicaCount"], spec["maxReplicaCount"]) if scenario == "keda" else (spec["minReplicas"], spec["maxReplicas"])
        )
        assert low == 3
        triggers = lag_triggers(service, scaler)
        group = settings_cls.model_fields["group_id"].default
        for trigger_group, topic in triggers:
            assert topic in PARTITIONS
            # every service reads each topic in a group of its own (README, "Consumer groups")
            assert trigger_group == f"{group}.{topic}"
        # never more replicas than the widest topic it scales on has partitions
        if triggers:
            assert high == max(PARTITIONS[topic] for _, topic in triggers)
        if scenario == "keda":
            assert scaler["apiVersion"] == "keda.sh/v1alpha1"
            # kubeconform has no schema for KEDA's custom resource: the API server would refuse
            # trigger metadata that is not a map of strings, so check that here
            assert all(
                isinstance(value, str) for t in spec["triggers"] for value in t["metadata"].values()
            ), spec["triggers"]
            kafka = [t for t in spec["triggers"] if t["type"] == "kafka"]
            assert all(t["metadata"]["allowIdleConsumers"] == "false" for t in kafka)
            assert all(t["metadata"]["bootstrapServers"] == "kafka:9092" for t in kafka)
            assert {t["type"] for t in spec["triggers"]} == ({"kafka", "cpu"} if triggers else {"cpu"})
    # routing scales on the contacts it routes; intake answers HTTP and scales on CPU alone
    assert ("kcc-routing.kcc.contact.received.v1", "kcc.contact.received.v1") in lag_triggers("routing", scalers[name_of("routing")])
    assert lag_triggers("intake", scalers[name_of("intake")]) == []
