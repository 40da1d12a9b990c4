"""Every generated file is checked by a real validator: the harness knows every file type."""

from __future__ import annotations

import pytest
from conftest import preset
from harness import uncovered

VARIANTS = [
    preset("mvp"),
    preset("production"),
    preset("enterprise"),
    {"tier": "production", "deploy_target": "gcp_cloud_run", "ci_platform": "gitlab_ci", "iac_tool": "opentofu"},
    {"tier": "enterprise", "deploy_target": "kubernetes", "k8s_packaging": "kustomize", "gitops": "flux",
     "ci_platform": "azure_devops", "preview_environments": "none", "metrics": "prometheus_grafana", "apm": "opentelemetry",
     "tracing": "tempo", "logging": "loki"},
    {"tier": "mvp", "deploy_target": "vercel", "ci_platform": "circleci", "preview_environments": "none", "database": "mongodb"},
    {"tier": "production", "deploy_target": "aws_ecs_fargate", "ci_platform": "jenkins", "preview_environments": "none",
     "branch_strategy": "git_flow"},  # the Jenkinsfile and the plan job, jenkins/iac-plan.Jenkinsfile
]


@pytest.mark.parametrize("answers", VARIANTS, ids=[f"v{i}" for i in range(len(VARIANTS))])
def test_no_generated_file_escapes_validation(generate, answers: dict) -> None:
    project = generate(**answers)
    assert uncovered(project) == []
