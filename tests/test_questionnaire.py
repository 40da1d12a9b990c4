"""What Copier asks, per tier and mode, observed through Copier's own prompting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import copier._main
import pytest
import yaml
from conftest import answers_of

EXPRESS = ["project_name", "tier", "mode", "app_language", "deploy_target", "ci_platform"]
K8S = {"k8s_distribution", "k8s_service_mesh", "k8s_ingress", "k8s_packaging", "gitops"}
MVP_ASKS = {  # seed 001 7.1-7.4 and their seed 000 Phase 6 counterparts
    "project_slug", "domain", "repository", "app_port", "has_worker", "database", "cache", "containerize", "container_registry",
    "iac_tool", "environments", "secrets_manager", "feature_flags", "branch_strategy", "auto_deploy",
    "preview_environments", "preview_ttl_hours",
}
PRODUCTION_ASKS = {  # 7.4.1-7.8, observability basics and CI/CD add-ons
    "deployment_strategy", "canary_steps", "db_migrations", "rollback_automation", "error_tracking", "apm",
    "logging", "metrics", "uptime", "alert_channels", "on_call", "alert_error_rate_pct", "alert_latency_p95_ms",
    "backup_strategy", "backup_retention_days", "rto_minutes", "rpo_minutes", "db_pool_min", "db_pool_max",
    "scaling", "autoscale_min", "autoscale_max", "autoscale_cpu_target", "notifications", "dependency_updates",
    "update_policy", "changelog", "cost_alerts", "cost_daily_warning", "cost_daily_critical", "cost_weekly_warning",
    "cost_weekly_critical", "cost_monthly_warning", "cost_monthly_critical",
}
ENTERPRISE_ASKS = {  # 7.9-7.10 and advanced observability
    "tracing", "status_page", "slo_availability", "graceful_shutdown", "shutdown_timeout_seconds",
    "circuit_breakers", "docs_level", "api_docs_strategy",
}


class Interview:
    """Answers Copier's prompts like a user who accepts defaults except for ``typed``."""

    def __init__(self, typed: dict[str, Any]) -> None:
        self.typed = typed
        self.asked: list[str] = []
        self.prompts: dict[str, dict[str, Any]] = {}

    def __call__(self, questions: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
        question = questions[0]
        name = question["name"]
        if not question["when"](None):
            return {name: answers[name]}
        self.asked.append(name)
        self.prompts[name] = question
        return {name: self.typed.get(name, answers[name])}


def interview(template: Path, dst: Path, monkeypatch: pytest.MonkeyPatch, **typed: Any) -> Interview:
    recorder = Interview(typed)
    monkeypatch.setattr(copier._main, "unsafe_prompt", recorder)
    copier.run_copy(str(template), dst, unsafe=True, quiet=True, skip_tasks=True)
    return recorder


@pytest.mark.parametrize("tier", ["mvp", "production", "enterprise"])
def test_express_mode_asks_six_questions(copier_template: Path, tmp_path: Path, monkeypatch, tier: str) -> None:
    seen = interview(copier_template, tmp_path / "app", monkeypatch, tier=tier, mode="express")
    assert seen.asked == EXPRESS


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        ("mvp", MVP_ASKS),
        ("production", MVP_ASKS | PRODUCTION_ASKS),
        ("enterprise", MVP_ASKS | PRODUCTION_ASKS | ENTERPRISE_ASKS),
    ],
)
def test_full_mode_gates_by_tier(copier_template: Path, tmp_path: Path, monkeypatch, tier: str, expected: set[str]) -> None:
    # Answers that open every child question (canary steps, on-demand TTL, autoscaling bounds...).
    typed = dict(tier=tier, mode="full", deploy_target="render", deployment_strategy="canary",
                 preview_environments="on_demand", scaling="autoscaling", rollback_automation="smoke_test")
    seen = interview(copier_template, tmp_path / "app", monkeypatch, **typed)
    assert set(seen.asked) == set(EXPRESS) | expected
    assert not K8S & set(seen.asked)
    answers = answers_of(tmp_path / "app")
    recommended = yaml.safe_load((Path(__file__).parent.parent / "presets" / f"{tier}.yml").read_text(encoding="utf-8"))
    unasked = set(recommended) - set(seen.asked) - K8S - {"rollback_error_rate_pct"}  # typed answers close these
    assert unasked <= set(answers), "questions not asked at this tier must still be recorded"
    assert all(answers[name] == recommended[name] for name in unasked - {"mode"})


def test_kubernetes_branch_only_for_kubernetes(copier_template: Path, tmp_path: Path, monkeypatch) -> None:
    seen = interview(copier_template, tmp_path / "k8s", monkeypatch, tier="production", mode="full", deploy_target="kubernetes")
    assert set(seen.asked) >= K8S
    assert "containerize" not in seen.asked, "Kubernetes runs images: containerize is forced"
    assert "Docker multi-stage image" in (tmp_path / "k8s" / "docs" / "operations.md").read_text(encoding="utf-8")


def test_express_records_every_recommendation(copier_template: Path, tmp_path: Path, monkeypatch) -> None:
    interview(copier_template, tmp_path / "app", monkeypatch, tier="production", mode="express")
    recorded = answers_of(tmp_path / "app")
    preset = yaml.safe_load((Path(__file__).parent.parent / "presets" / "production.yml").read_text(encoding="utf-8"))
    for name, value in preset.items():
        assert recorded[name] == value, name
    assert "answers_check" not in recorded and "cloud_provider" not in recorded


def test_help_shows_recommendation_with_pros_cons_and_pricing(copier_template: Path, tmp_path: Path, monkeypatch) -> None:
    seen = interview(copier_template, tmp_path / "app", monkeypatch, tier="enterprise", mode="full")
    message = seen.prompts["apm"]["message"]
    assert "Recommended for enterprise: Datadog APM" in message
    assert "pros:" in message and "cons:" in message and "$31/host/month" in message
    assert "Recommended for enterprise: 90" in seen.prompts["backup_retention_days"]["message"]


def test_contradicting_choices_are_disabled_with_a_reason(copier_template: Path, tmp_path: Path, monkeypatch) -> None:
    seen = interview(copier_template, tmp_path / "app", monkeypatch, tier="production", mode="full",
                     deploy_target="gcp_cloud_run", ci_platform="circleci")
    registries = {c.value: c.disabled for c in seen.prompts["container_registry"]["choices"]}
    assert registries["artifact_registry"] in (None, "", False)
    assert "cloud_provider aws" in registries["ecr"] and "gcp" in registries["ecr"]
    iac = {c.value: c.disabled for c in seen.prompts["iac_tool"]["choices"]}
    assert "cloud_provider aws" in iac["aws_cdk"] and iac["sst"] and not iac["terraform"]
    assert iac["pulumi"] in (None, "", False)  # Pulumi programs are generated for every cloud target
    previews = {c.value: c.disabled for c in seen.prompts["preview_environments"]["choices"]}
    assert "circleci" in previews["full_stack"] and not previews["none"]


def test_typed_answer_is_validated_at_the_prompt(copier_template: Path, tmp_path: Path, monkeypatch) -> None:
    seen = interview(copier_template, tmp_path / "app", monkeypatch, tier="production", mode="full")
    validate = seen.prompts["project_slug"]["validate"]
    assert "project_slug" in validate("Bad Slug!") or "lowercase" in validate("Bad Slug!")
    assert validate("good-slug") is True
    assert "100" in seen.prompts["canary_steps"]["validate"]("[5, 50]") if "canary_steps" in seen.prompts else True
    assert "above 0" in seen.prompts["alert_error_rate_pct"]["validate"]("0")
