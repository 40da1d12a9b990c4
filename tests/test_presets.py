"""Presets reproduce seed 000 "Recommendations by Tier" and generate with no input at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PRESETS, answers_of, preset

from extensions.catalog import load_catalog
from extensions.presets import render_preset

SEED_000 = {
    "mvp": {
        "deploy_target": "railway", "iac_tool": "manual", "ci_platform": "github_actions", "branch_strategy": "trunk_based",
        "deployment_strategy": "rolling", "environments": ["development", "production"], "error_tracking": "sentry",
        "apm": "sentry_performance", "logging": "cloud_native", "metrics": "platform", "uptime": "uptimerobot",
        "alert_channels": ["email", "slack"], "has_worker": False, "feature_flags": "none",
    },
    "production": {
        "deploy_target": "gcp_cloud_run", "iac_tool": "terraform", "ci_platform": "github_actions",
        "branch_strategy": "github_flow", "deployment_strategy": "canary", "canary_steps": [5, 100],
        "environments": ["development", "staging", "production"], "error_tracking": "sentry", "apm": "sentry_performance",
        "logging": "loki", "metrics": "prometheus_grafana", "uptime": "better_uptime", "has_worker": True,
    },
    "enterprise": {
        "deploy_target": "kubernetes", "k8s_distribution": "eks", "iac_tool": "terraform", "k8s_ingress": "nginx",
        "k8s_service_mesh": "istio", "k8s_packaging": "helm", "ci_platform": "github_actions", "gitops": "argocd",
        "branch_strategy": "trunk_based", "preview_environments": "full_stack", "deployment_strategy": "canary",
        "rollback_automation": "metric_based", "db_migrations": "expand_contract",
        "environments": ["development", "qa", "staging", "demo", "production"], "error_tracking": "sentry",
        "apm": "datadog", "logging": "elk", "metrics": "datadog", "tracing": "datadog", "uptime": "pingdom",
        "status_page": "statuspage_io", "slo_availability": "99.9", "feature_flags": "launchdarkly",
    },
}


@pytest.mark.parametrize("tier", list(SEED_000))
def test_preset_matches_seed_000(tier: str) -> None:
    answers = preset(tier)
    assert answers["tier"] == tier and answers["mode"] == "express"
    for name, value in SEED_000[tier].items():
        assert answers[name] == value, name
    alerting = {"mvp": set(), "production": {"opsgenie"}, "enterprise": {"pagerduty"}}[tier]
    assert alerting <= set(answers["alert_channels"])
    assert answers["preview_environments"] != "none", "seed 000: preview environments for every tier"


@pytest.mark.parametrize("tier", list(SEED_000))
def test_preset_is_generated_from_the_catalog(tier: str) -> None:
    assert PRESETS[tier].read_text(encoding="utf-8") == render_preset(load_catalog(), tier), \
        "preset drifted from the catalog: run python -m extensions.presets"


@pytest.mark.parametrize("tier", list(SEED_000))
def test_preset_generates_without_input(copier_template: Path, tmp_path: Path, tier: str) -> None:
    args = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--skip-tasks", "--data-file",
            str(PRESETS[tier]), str(copier_template), str(tmp_path / "acme-shop")]
    result = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False, timeout=180)
    assert result.returncode == 0, result.stderr
    recorded = answers_of(tmp_path / "acme-shop")
    assert recorded["project_name"] == "acme-shop" and recorded["domain"] == "acme-shop.example.com"
    for name, value in preset(tier).items():
        assert recorded[name] == value, name
