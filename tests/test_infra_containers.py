"""Dockerfile, .dockerignore and compose.yaml for every app_language, proven with hadolint and docker compose."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import assert_valid

# Every language once; databases, cache and worker rotate so each appears at least twice.
CASES = [
    {"app_language": "node", "database": "postgresql", "cache": "redis", "has_worker": True},
    {"app_language": "python", "database": "mysql", "cache": "none", "has_worker": False},
    {"app_language": "go", "database": "mongodb", "cache": "redis", "has_worker": True},
    {"app_language": "java", "database": "none", "cache": "redis", "has_worker": False},
    {"app_language": "ruby", "database": "postgresql", "cache": "redis", "has_worker": True},
    {"app_language": "dotnet", "database": "mysql", "cache": "none", "has_worker": True},
]
CHECKS = {"hadolint", "compose-config", "dockerignore", "yamllint"}


@pytest.mark.parametrize("answers", CASES, ids=[c["app_language"] for c in CASES])
def test_container_files_pass_their_validators(generate, answers):
    project = generate(deploy_target="railway", containerize=True, **answers)
    assert_valid(project, only=CHECKS)


@pytest.mark.parametrize("answers", CASES, ids=[c["app_language"] for c in CASES])
def test_dockerfile_is_multi_stage_non_root_with_healthcheck(generate, answers):
    project = generate(deploy_target="railway", containerize=True, app_port=4321, **answers)
    text = (project / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, re.MULTILINE)
    assert stages[:2] == ["build", "runtime"]
    assert ("worker" in stages) is answers["has_worker"]
    assert re.search(r"^USER \d+:\d+$", text, re.MULTILINE), "runtime user must be numeric (runAsNonRoot)"
    assert "HEALTHCHECK" in text and "127.0.0.1:4321/health" in text
    assert "EXPOSE 4321" in text
    assert ":latest" not in text


@pytest.mark.parametrize("answers", CASES, ids=[c["app_language"] for c in CASES])
def test_compose_runs_app_worker_and_backing_services_with_health_checks(generate, answers):
    project = generate(deploy_target="railway", containerize=True, **answers)
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    services = compose["services"]
    assert ("worker" in services) is answers["has_worker"]
    assert ("db" in services) is (answers["database"] != "none")
    assert ("cache" in services) is (answers["cache"] == "redis")
    for name in ("db", "cache"):
        if name in services:
            assert "healthcheck" in services[name]
            assert services["app"]["depends_on"][name] == {"condition": "service_healthy"}
            assert f"{name}-data" in compose["volumes"]
    if answers["database"] == "mongodb":
        assert services["app"]["environment"]["MONGODB_URI"].startswith("mongodb://app:")
    elif answers["database"] != "none":
        assert services["app"]["environment"]["DATABASE_URL"].startswith(f"{answers['database']}://app:")


def test_no_container_files_without_containerize(generate):
    project = generate(deploy_target="railway", containerize=False)
    assert not (project / "Dockerfile").exists()
    assert not (project / "compose.yaml").exists()
