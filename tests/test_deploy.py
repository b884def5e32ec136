"""Static checks of deploy/: what can be verified without a Docker engine or a cluster.

YAML parses; every environment variable named is a real Settings field;
compose dependencies exist; alert and KEDA queries name metrics that
riskdrift/ops/metrics.py defines; the image runs as a non-root user; every
command the manifests run is a real CLI subcommand or arq worker class.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from riskdrift.cli import build_parser
from riskdrift.config import Settings
from riskdrift.ops.metrics import sample_names

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ALIASES = {"REDIS_URL": "redis_url", "DATABASE_URL": "database_url"}
METRIC = re.compile(r"\briskdrift_[a-z0-9_]+\b")
WORKER_CLASSES = {"AnalysisWorker", "EmbeddingsWorker", "WebhookWorker"}


def documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def all_yaml() -> list[Path]:
    return sorted(DEPLOY.rglob("*.yml")) + sorted(DEPLOY.rglob("*.yaml"))


def compose() -> dict[str, Any]:
    [doc] = documents(DEPLOY / "docker-compose.yml")
    assert isinstance(doc, dict)
    return doc


def k8s_objects() -> list[dict[str, Any]]:
    found = [d for p in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in documents(p)]
    return [d for d in found if d.get("kind") != "Kustomization"]


def check_env_name(name: str) -> None:
    field = ALIASES.get(name) or name.removeprefix("RISKDRIFT_").lower()
    assert name in ALIASES or name.startswith("RISKDRIFT_"), name
    assert field in Settings.model_fields, f"{name} is not a Settings field"


def check_command(argv: list[str]) -> None:
    """``riskdrift <subcommand> …`` or ``arq riskdrift.worker.<Class> [--check]``."""
    if argv[0] == "riskdrift":
        parser = build_parser()
        parser.parse_args(argv[1:])  # SystemExit on an unknown subcommand or option
    elif argv[0] == "arq":
        module, _, cls = argv[1].rpartition(".")
        assert module == "riskdrift.worker", argv
        assert cls in WORKER_CLASSES, argv
        assert set(argv[2:]) <= {"--check"}, argv
    else:
        raise AssertionError(f"unexpected command {argv}")


@pytest.mark.parametrize("path", all_yaml(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path: Path) -> None:
    assert documents(path)


def test_compose_services_env_and_commands() -> None:
    services = compose()["services"]
    assert {
        "redis",
        "postgres",
        "api",
        "analysis-worker",
        "embeddings-worker",
        "webhooks-worker",
    } <= set(services)
    assert services["analysis-worker"]["deploy"]["replicas"] == 2
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        assert "healthcheck" in service or name in ("migrate", "prometheus"), name
        env = service.get("environment", {})
        for var in env if isinstance(env, dict) else [e.split("=")[0] for e in env]:
            if var.startswith("POSTGRES_"):
                continue  # the postgres image's own
            check_env_name(var)
        if "command" in service and service.get("build"):
            check_command(service["command"])
        health = service.get("healthcheck", {}).get("test", [])
        if health[:2] == ["CMD", "arq"]:
            check_command(health[1:])
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])


def test_kubernetes_manifests() -> None:
    objects = k8s_objects()
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for expected in [
        ("Deployment", "riskdrift-api"),
        ("Service", "riskdrift-api"),
        ("Deployment", "riskdrift-analysis-worker"),
        ("Deployment", "riskdrift-embeddings-worker"),
        ("Deployment", "riskdrift-webhooks-worker"),
        ("PodDisruptionBudget", "riskdrift-api"),
        ("PodDisruptionBudget", "riskdrift-analysis-worker"),
        ("ConfigMap", "riskdrift-config"),
        ("Secret", "riskdrift-secrets"),
        ("ScaledObject", "riskdrift-analysis-worker"),
    ]:
        assert expected in kinds, expected
    config = next(o for o in objects if o["kind"] == "ConfigMap")
    secret = next(o for o in objects if o["kind"] == "Secret")
    for name in [*config["data"], *secret["stringData"]]:
        check_env_name(name)
    grace = int(config["data"]["RISKDRIFT_WORKER_SHUTDOWN_GRACE"])

    for obj in objects:
        if obj["kind"] not in ("Deployment", "Job"):
            continue
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        for container in pod["containers"]:
            check_command(container["command"])
            for env in container.get("env", []):
                check_env_name(env["name"])
        name = obj["metadata"]["name"]
        [container] = pod["containers"]
        if name == "riskdrift-api":
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        elif obj["kind"] == "Deployment":
            probe = container["livenessProbe"]["exec"]["command"]
            assert probe[-1] == "--check"
            check_command(probe)
            assert pod["terminationGracePeriodSeconds"] > grace

    keda = next(o for o in objects if o["kind"] == "ScaledObject")
    [trigger] = keda["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert set(METRIC.findall(trigger["metadata"]["query"])) == {"riskdrift_queue_ready_jobs"}


def test_alert_rules_name_defined_metrics() -> None:
    [doc] = documents(DEPLOY / "prometheus" / "alerts.yml")
    rules = [r for group in doc["groups"] for r in group["rules"]]
    used: set[str] = set()
    for rule in rules:
        assert rule["alert"]
        assert rule["expr"]
        assert rule["labels"]["severity"]
        used |= set(METRIC.findall(rule["expr"]))
    assert used, "alert rules name no riskdrift metric"
    assert used <= sample_names(), used - sample_names()
    # the four service targets each have a rule
    exprs = " ".join(r["expr"] for r in rules)
    for metric in (
        "riskdrift_job_end_to_end_seconds_bucket",
        "riskdrift_queue_ready_jobs",
        "riskdrift_worker_busy_seconds_total",
        "riskdrift_jobs_failed_total",
    ):
        assert metric in exprs


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert len(stages) >= 2
    assert all(s == "python:3.11-slim" for s in stages)
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    cmd = re.search(r"^CMD\s+(\[.*\])", text, flags=re.MULTILINE)
    assert cmd is not None
    check_command(yaml.safe_load(cmd[1]))


@pytest.mark.parametrize(
    ("name", "queue", "function"),
    [
        ("AnalysisWorker", "queue_name", "analyze_risk_drift"),
        ("EmbeddingsWorker", "embeddings_queue_name", "generate_embeddings"),
        ("WebhookWorker", "webhooks_queue_name", "deliver_webhook"),
    ],
)
def test_worker_classes_are_served_by_the_package(name: str, queue: str, function: str) -> None:
    """What ``arq riskdrift.worker.<Class>`` (compose, k8s, Dockerfile) loads: a WorkerSettings
    class on the configured queue that runs the named task."""
    import riskdrift.worker
    from riskdrift.config import Settings

    assert name in WORKER_CLASSES
    worker = getattr(riskdrift.worker, name)
    assert worker.queue_name == getattr(Settings(_env_file=None), queue)  # type: ignore[call-arg]
    names = {getattr(f, "name", getattr(f, "__name__", None)) for f in worker.functions}
    assert function in names, names


def ignored_by_docker(path: str, patterns: list[str]) -> bool:
    """Whether the Docker build context leaves ``path`` out under ``.dockerignore`` rules:
    ``*`` and ``?`` stay within one path segment, ``**`` spans any, a pattern matching a
    directory covers what is in it, ``!`` re-includes, and the last matching line wins."""
    ignored = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for line in patterns:
        negate = line.startswith("!")
        glob = line.removeprefix("!").strip("/")
        regex = re.escape(glob).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def test_build_context_holds_what_the_dockerfile_copies_and_nothing_else() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not (DEPLOY / "Dockerfile.dockerignore").exists()  # BuildKit would prefer it
    copied = []
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copied += line.split()[1:-1]
    assert copied == ["pyproject.toml", "constraints.txt", "README.md", "riskdrift"]
    files = [c if (ROOT / c).is_file() else f"{c}/__init__.py" for c in copied]
    kept = [
        *files,
        "riskdrift/cli/__init__.py",
        "riskdrift/store/migrations/x.sql",
        "riskdrift/samples/filings/ACME/2024.html",
        "riskdrift/api/static/dashboard.js",
    ]
    for path in kept:
        assert not ignored_by_docker(path, patterns), path
    left_out = [
        ".venv/bin/python",
        ".data/postgres/PG_VERSION",
        ".git/HEAD",
        ".env",
        "riskdrift/__pycache__/cli.cpython-311.pyc",
        ".mypy_cache/3.11/x.json",
        ".ruff_cache/x",
        ".pytest_cache/v",
        "riskdrift.egg-info/PKG-INFO",
        "tests/conftest.py",
        "bench/bench_sse.py",
    ]
    for path in left_out:
        assert ignored_by_docker(path, patterns), path
